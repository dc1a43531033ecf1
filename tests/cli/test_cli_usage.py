"""The CLI's answers that need no model: usage errors, nothing to do, files it skips (exit codes)."""

from __future__ import annotations

import socket
import subprocess

from engine import exit_status
from engine.client import EngineClient
from engine.protocol import EngineError


def _repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.py").write_text("def f():\n    return 1\n")
    return tmp_path


def test_no_paths_is_a_usage_error(cli, tmp_path):
    out = cli.run(cwd=tmp_path)
    assert out.returncode == 2
    assert b"error: no paths given" in out.stderr


def test_missing_path_unknown_language_and_bad_spots_are_usage_errors(cli, tmp_path):
    repo = _repo(tmp_path)
    cases = [
        (["nope.py"], b"error: nope.py: no such file or directory"),
        ([".", "--lang", "pyton"], b"error: unknown language 'pyton'"),
        (["--at", "a.py:9:1"], b"error: --at a.py:9:1: line 9 is outside the file (it has 3 lines)"),
        (["--at", "a.py:2"], b"error: --at 'a.py:2': expected FILE:LINE:COL"),
        (["--span", "a.py:2-1"], b"ends before it starts"),
        (["--span", "b.py:1-2"], b"error: --span b.py:1-2: b.py: no such file"),
        ([".", "--marker", ""], b"error: --marker must not be empty"),
        ([".", "--encoding", "klingon"], b"error: unknown encoding 'klingon'"),
        ([".", "--jobs", "0"], b"must be at least 1"),
    ]
    for args, message in cases:
        out = cli.run(*args, cwd=repo)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert out.stdout == b""


def test_no_holes_exits_0_and_touches_nothing(cli, tmp_path):
    repo = _repo(tmp_path)
    before = (repo / "a.py").read_bytes()
    out = cli.run(".", "--write", cwd=repo)
    assert out.returncode == 0, out.stderr
    assert b"No holes found (looked for '<FILL>')" in out.stderr
    assert (repo / "a.py").read_bytes() == before


def test_binary_oversized_and_ignored_files_are_skipped_with_a_message(cli, tmp_path):
    repo = _repo(tmp_path)
    (repo / "blob.bin").write_bytes(b"<FILL>\0\1\2")
    (repo / "big.py").write_text("x = <FILL>\n" + "# padding\n" * 200)
    (repo / ".gitignore").write_text("ignored.py\n")
    (repo / "ignored.py").write_text("x = <FILL>\n")
    out = cli.run(".", "--max-bytes", "1000", cwd=repo)
    assert out.returncode == 0, out.stderr
    assert b"warning: blob.bin: skipped: binary file" in out.stderr
    assert b"warning: big.py: skipped: larger than 1000 bytes" in out.stderr
    assert b"ignored.py" not in out.stderr
    assert b"No holes found" in out.stderr


def test_holes_that_touch_are_refused(cli, tmp_path):
    repo = _repo(tmp_path)
    (repo / "b.py").write_text("x = <FILL><FILL>\n")
    out = cli.run("b.py", cwd=repo)
    assert out.returncode == 2
    assert b"holes at 1:5 and 1:11 overlap or touch" in out.stderr


def test_a_missing_model_directory_is_a_usage_error(cli, tmp_path):
    repo = _repo(tmp_path)
    (repo / "b.py").write_text("x = <FILL>\n")
    for mode in ([], ["--in-process"]):
        out = cli.run("b.py", "--model", str(tmp_path / "no-model"), *mode, cwd=repo)
        assert out.returncode == 2, out.stderr
        assert f"error: model directory {tmp_path / 'no-model'} does not exist".encode() in out.stderr


def test_a_model_that_fails_to_load_is_exit_2_and_writes_nothing(cli, tmp_path):
    repo = _repo(tmp_path)
    (repo / "b.py").write_text("x = <FILL>\n")
    model = tmp_path / "broken-model"
    model.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        (model / name).write_text("not what it should be")
    sock = tmp_path / "e.sock"
    try:
        out = cli.run("b.py", "--write", "--model", str(model), "--socket", str(sock), cwd=repo)
    finally:
        # The run started a daemon of its own on this socket (if it got that far): stop it.
        try:
            EngineClient(sock, autostart=False).shutdown()
        except EngineError:
            pass
    assert out.returncode == 2, out.stderr
    # Refused from the files alone, before any model loads: one line naming what to fix.
    assert out.stderr.decode().strip() == (f"error: {model / 'config.json'} is not valid JSON: "
                                           f"Expecting value: line 1 column 1 (char 0)")
    assert (repo / "b.py").read_text() == "x = <FILL>\n"


def test_no_engine_at_a_tcp_address_is_an_engine_error(cli, tmp_path):
    repo = _repo(tmp_path)
    (repo / "b.py").write_text("x = <FILL>\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now, and a TCP engine is never started by the client.
    out = cli.run("b.py", "--socket", f"tcp://127.0.0.1:{port}", cwd=repo)
    assert out.returncode == exit_status.ENGINE, out.stderr
    assert f"error: engine unavailable: no engine answers at tcp://127.0.0.1:{port}".encode() in out.stderr
