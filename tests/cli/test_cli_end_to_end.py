"""`dg-infill` end to end: the real CLI in a subprocess, the real engine daemon and the embedded model.

The model's text is whatever it is; these tests check what the CLI promises around it: every byte
outside the holes kept (CRLF, latin-1, BOM), writes whole or not at all, refusals, idempotent reruns.
"""

from __future__ import annotations

import codecs
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine import exit_status

MARKER = "<FILL>"

# name -> (text, encoding, BOM); every file below but build/ has holes the run must fill or leave.
FILES = {
    "src/app.py": (("import os\n\n\ndef list_python(path):\n    names = os.listdir(path)\n"
                    "    return [n for n in names if <FILL>]\n\n\ndef main():\n    print(<FILL>)\n"), "utf-8", b""),
    "src/util.js": ("function add(a, b) {\r\n  return <FILL>;\r\n}\r\n\r\nmodule.exports = { add };\r\n",
                    "utf-8", b""),
    "cmd/main.go": ("package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(<FILL>)\n}\n", "utf-8", b""),
    "src/legacy.py": ("# -*- coding: latin-1 -*-\r\nname = 'Ren\xe9'\r\ngreeting = 'Bonjour ' + <FILL>\r\n",
                      "latin-1", b""),
    "src/Program.cs": ("class Program {\r\n    static int Twice(int x) {\r\n        return <FILL>;\r\n    }\r\n}\r\n",
                       "utf-8", codecs.BOM_UTF8),
    "build/generated.py": ("x = <FILL>\n", "utf-8", b""),
}
IGNORED = "build/generated.py"


def make_repo(root: Path, files=FILES) -> dict[str, bytes]:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("build/\n")
    originals = {}
    for name, (text, encoding, bom) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bom + text.encode(encoding))
        originals[name] = path.read_bytes()
    return originals


def marker_bytes(name: str) -> bytes:
    return MARKER.encode(FILES[name][1])


def same_outside_holes(original: bytes, new: bytes, marker: bytes) -> bool:
    """Whether `new` is `original` with each marker replaced by something (or left)."""
    pieces = original.split(marker)
    pattern = b"(.*?)".join(re.escape(piece) for piece in pieces)
    return re.fullmatch(pattern, new, re.DOTALL) is not None


def expected_bytes(name: str, original: bytes, records: list[dict]) -> bytes:
    """The original with each filled hole's text in place of its marker, other markers kept."""
    encoding = FILES[name][1]
    pieces = original.split(marker_bytes(name))
    ours = sorted((r for r in records if r["file"] == name), key=lambda r: (r["line"], r["col"]))
    assert len(ours) == len(pieces) - 1
    out = pieces[0]
    for record, piece in zip(ours, pieces[1:]):
        out += record["text"].encode(encoding) if record["status"] == "filled" else marker_bytes(name)
        out += piece
    return out


def json_records(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines()]


def leftovers(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*.dg-infill")]


def test_diff_mode_writes_nothing_and_prints_a_diff_git_can_apply(cli, tmp_path, engine_socket):
    repo = tmp_path / "repo"
    repo.mkdir()
    originals = make_repo(repo)
    out = cli.run(".", "--socket", engine_socket, "--jobs", "8", cwd=repo)
    assert out.returncode in (0, 1), out.stderr.decode()
    assert b"Filling 6 holes in 5 files" in out.stderr
    for name, data in originals.items():
        assert (repo / name).read_bytes() == data
    if out.stdout:
        assert IGNORED.encode() not in out.stdout
        copy = tmp_path / "copy"
        shutil.copytree(repo, copy)
        subprocess.run(["git", "apply", "-"], cwd=copy, input=out.stdout, check=True)
        for name, data in originals.items():
            assert same_outside_holes(data, (copy / name).read_bytes(), marker_bytes(name)), name


def test_write_keeps_every_byte_outside_the_holes_and_reruns_are_idempotent(cli, tmp_path, engine_socket):
    originals = make_repo(tmp_path)
    first = cli.run(".", "--write", "--json", "--socket", engine_socket, "--jobs", "8", cwd=tmp_path)
    records = json_records(first.stdout)
    assert sorted({r["file"] for r in records}) == sorted(set(FILES) - {IGNORED}), first.stderr.decode()
    assert set(records[0]) >= {"file", "line", "col", "text", "steps", "confidence", "ms", "status"}
    assert (tmp_path / IGNORED).read_bytes() == originals[IGNORED]
    left = [r for r in records if r["status"] != "filled"]
    assert first.returncode == (1 if left else 0), first.stderr.decode()
    after_first = {}
    for name in set(FILES) - {IGNORED}:
        after_first[name] = (tmp_path / name).read_bytes()
        assert after_first[name] == expected_bytes(name, originals[name], records), name
    assert (tmp_path / "src/Program.cs").read_bytes().startswith(codecs.BOM_UTF8)
    assert leftovers(tmp_path) == []

    second = cli.run(".", "--write", "--json", "--socket", engine_socket, "--jobs", "8", cwd=tmp_path)
    again = json_records(second.stdout)
    # Only the holes left the first time are tried again; filled files stay exactly as written.
    assert sorted((r["file"], r["line"], r["col"]) for r in again) == sorted(
        (r["file"], r["line"], r["col"]) for r in left)
    done = {r["file"] for r in records} - {r["file"] for r in left}
    for name in done:
        assert (tmp_path / name).read_bytes() == after_first[name], name
    if not left:
        assert second.returncode == 0
        assert b"No holes found" in second.stderr


def test_at_and_span_fill_exactly_their_places(cli, tmp_path, engine_socket):
    make_repo(tmp_path)
    source = tmp_path / "src/app.py"
    text = "def area(w, h):\n    return w * h\n\n\ndef perimeter(w, h):\n    total = 2 * (w + h)\n    return total\n"
    source.write_text(text)
    out = cli.run("--at", "src/app.py:2:12", "--span", "src/app.py:6-7", "--json", "--socket", engine_socket,
                  cwd=tmp_path)
    records = json_records(out.stdout)
    assert [(r["line"], r["col"]) for r in records] == [(2, 12), (6, 5)], out.stderr.decode()
    assert out.returncode == (0 if all(r["status"] == "filled" for r in records) else 1)
    assert source.read_text() == text


def test_a_file_edited_while_the_model_works_is_refused_and_left_as_edited(cli, tmp_path, engine_socket):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    target = tmp_path / "config.py"
    # Several simple holes and no confidence gate, so that the model fills some: there is something to write.
    target.write_text("".join(f"option_{i} = <FILL>\n" for i in range(6)))
    proc = cli.popen("config.py", "--write", "--allow-parse-errors", "--min-confidence", "0", "--no-progress",
                     "--socket", engine_socket, cwd=tmp_path)
    # The files are read before this line is printed, and the model has not answered yet.
    assert proc.stderr.readline().startswith(b"Filling 6 holes in 1 file")
    edited = target.read_bytes() + b"# saved in the editor meanwhile\n"
    target.write_bytes(edited)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr.decode()
    assert b"error: config.py changed since it was read; not written" in stderr
    assert target.read_bytes() == edited
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_leaves_each_file_written_whole_or_untouched(cli, tmp_path, engine_socket, signum):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    originals = {}
    for i in range(8):
        path = tmp_path / f"m{i}.py"
        path.write_bytes(f"def f{i}(x):\r\n    return x + <FILL>\r\n\r\nprint(f{i}(1))\r\n".encode())
        originals[path.name] = path.read_bytes()
    proc = cli.popen(".", "--write", "--jobs", "1", "--allow-parse-errors", "--no-progress", "--socket", engine_socket,
                     cwd=tmp_path)
    assert proc.stderr.readline().startswith(b"Filling 8 holes in 8 files")
    first_result = proc.stderr.readline()  # printed once the first file is done (and written)
    assert first_result.startswith(b"m"), first_result
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, stderr.decode()
    assert f"interrupted by {signum.name}".encode() in stderr
    untouched = 0
    for name, data in originals.items():
        now = (tmp_path / name).read_bytes()
        untouched += now == data
        # Written whole: the marker replaced, nothing else changed, no half file.
        assert now == data or (b"<FILL>" not in now and same_outside_holes(data, now, b"<FILL>")), name
    assert untouched >= 5
    assert leftovers(tmp_path) == []


def test_in_process_engine_with_a_progress_bar_on_a_terminal(cli, tmp_path, engine_socket):
    # engine_socket only gates on the model being present; this run loads its own engine.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    path = tmp_path / "a.py"
    original = b"def square(x):\n    return <FILL>\n"
    path.write_bytes(original)
    leader, follower = pty.openpty()
    env = cli.env()
    env.pop("NO_COLOR", None)
    proc = cli.popen("a.py", "--in-process", "--write", cwd=tmp_path, stdin=follower, stdout=follower,
                     stderr=follower, env=env)
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.returncode in (0, 1), screen.decode(errors="replace")
    assert "━".encode() in screen  # rich's bar
    assert b"Filled" in screen
    assert path.read_bytes() == original if proc.returncode == 1 else path.read_bytes() != original


def test_holes_in_a_language_the_model_does_not_cover_are_left_without_starting_an_engine(cli, tmp_path):
    (tmp_path / "add.js").write_text("function add(a, b) {\n  return <FILL>;\n}\n")
    socket = tmp_path / "never.sock"
    done = cli.run("--json", "--socket", str(socket), "add.js", cwd=tmp_path)
    record = json.loads(done.stdout.splitlines()[0])
    assert record["status"] == "unsupported_language" and "python" in record["message"]
    assert done.returncode == 1
    assert not socket.exists()  # no daemon was started for holes nobody asks the model about


def test_a_block_hole_asked_for_more_lines_than_a_gap_holds_is_filled_not_refused(cli, tmp_path):
    """--max-lines 40 asks for more gap tokens than the wire allows; the request is clamped, not refused."""
    (tmp_path / "a.py").write_text("def f(xs):\n    <FILL>\n\n\nprint(f([1, 2]))\n")
    done = cli.run("--json", "--in-process", "--max-lines", "40", "--min-confidence", "0", "a.py", cwd=tmp_path)
    record = json.loads(done.stdout.splitlines()[0])
    assert record["status"] != "engine_error", record
    assert done.returncode != exit_status.ENGINE, done.stderr
