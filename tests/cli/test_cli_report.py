"""The diff and the JSON records a run prints."""

from __future__ import annotations

import codecs
import subprocess
import sys

import pytest

from batch_cli.holes import find_markers
from batch_cli.plan import compose, plan
from batch_cli.report import records, split_lines, unified_diff
from batch_cli.textfile import read


def _composed(path, data: bytes, answers: dict[int, str]):
    path.write_bytes(data)
    file = read(path, max_bytes=1 << 20)
    file_plan = plan(path.name, file, find_markers(file.text, "<FILL>"), max_lines=8)
    compose(file_plan, answers, min_confidence=0.0, allow_parse_errors=False)
    return file_plan


@pytest.mark.parametrize("data", [
    b"def f(a):\r\n    return <FILL>\r\n\r\nprint(f(1))\r\n",
    "# caf\xe9\nx = <FILL>\ny = 'cr\xe8me'\n".encode("latin-1"),
    b"x = 1\n\x0c\ny = <FILL>",  # a form feed, and no newline at the end
    codecs.BOM_UTF8 + b"x = <FILL>\r\n",  # a change on the BOM's line
])
def test_git_applies_the_diff_to_the_original_bytes(tmp_path, data):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    file_plan = _composed(tmp_path / "a.py", data, {0: "a + 1"})
    assert file_plan.changed
    expected = file_plan.file.encode(file_plan.new_text)
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=unified_diff(file_plan), check=True)
    assert (tmp_path / "a.py").read_bytes() == expected


def test_a_utf16_file_gets_a_diff_to_read_in_utf8(tmp_path):
    file_plan = _composed(tmp_path / "a.py", codecs.BOM_UTF16_LE + "x = <FILL>\n".encode("utf-16-le"), {0: "1"})
    assert unified_diff(file_plan).decode("utf-8").endswith("\n-x = <FILL>\n+x = 1\n")


def test_split_lines_splits_at_newlines_only():
    assert split_lines("a\r\nb\x0cc\u2028d\ne") == ["a\r\n", "b\x0cc\u2028d\n", "e"]


def test_records_hold_every_field(tmp_path):
    # The second hole's line parses with nothing in it: a hole left empty must not make the first fail
    # Python's parser, which every filled hole must pass.
    file_plan = _composed(tmp_path / "a.py", b"x = <FILL>\ny = [<FILL>]\n", {0: "1", 1: "  "})
    file_plan.outcomes[0].steps, file_plan.outcomes[0].ms = 7, 12.34
    assert records(file_plan) == [
        {"file": "a.py", "line": 1, "col": 5, "text": "1", "steps": 7, "confidence": None, "ms": 12.3,
         "status": "filled"},
        {"file": "a.py", "line": 2, "col": 6, "text": None, "steps": 0, "confidence": None, "ms": 0.0,
         "status": "empty", "message": "the model's text was empty after post-processing"},
    ]


def test_a_closed_stdout_does_not_stop_the_run(tmp_path):
    # `dg-infill ... | head`: printing into a pipe nobody reads must neither raise nor warn.
    code = ("from batch_cli.report import Reporter\n"
            "r = Reporter(as_json=False, write=False, progress=False)\n"
            "for _ in range(3):\n"
            "    r._stdout(b'x' * 100000 + b'\\n')\n"
            "print('still running', flush=True, file=__import__('sys').stderr)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr.read() == b"still running\n"
