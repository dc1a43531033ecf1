"""llama.vim, the real client (MIT, in ../shared/clients/llama.vim), in headless Neovim against
`dg-engine serve --http`: it calls /infill as it calls llama.cpp's server, with its bearer token.

llama_vim.lua enters insert mode at the end of a line, waits for llama.vim's ghost text, accepts it
with <Tab> and checks that the buffer holds exactly what the ghost showed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import HERE, REPO
from .test_editor_nvim import NUDGE_LINE, SAMPLE, SAMPLE_LINE, TIMEOUT_S

LLAMA_VIM = REPO.parent / "shared" / "clients" / "llama.vim"
TOKEN = "a-llama-vim-test-token-of-32-bytes"


def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def http_engine(tmp_path_factory):
    """A real `dg-engine serve --http` on loopback with a token; yields its /infill URL."""
    tmp = tmp_path_factory.mktemp("llama-vim-engine")
    port, log = unused_port(), tmp / "engine.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--socket", str(tmp / "engine.sock"),
                                 "--http", f"127.0.0.1:{port}"], env={**os.environ, "DG_ENGINE_TOKEN": TOKEN},
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/infill"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()


def test_llama_vim_shows_and_accepts_ghost_text(nvim, http_engine, tmp_path):
    if not (LLAMA_VIM / "autoload" / "llama.vim").exists():
        pytest.skip(f"llama.vim is not at {LLAMA_VIM}")
    if not shutil.which("curl"):
        pytest.skip("llama.vim calls the server with curl, which is not installed")
    src = tmp_path / "sample.py"
    src.write_text(SAMPLE)
    result_path = tmp_path / "result.json"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "XDG_STATE_HOME": str(home / ".local/state"),
           "XDG_CACHE_HOME": str(home / ".cache"), "DG_TEST_LLAMA_DIR": str(LLAMA_VIM),
           "DG_TEST_ENDPOINT": http_engine, "DG_TEST_TOKEN": TOKEN, "DG_TEST_FILE": str(src),
           "DG_TEST_LINE": str(SAMPLE_LINE), "DG_TEST_NUDGE_LINE": NUDGE_LINE,
           "DG_TEST_TIMEOUT_MS": str((TIMEOUT_S - 30) * 1000), "DG_TEST_RESULT": str(result_path)}
    proc = subprocess.run([nvim, "--headless", "--clean", "-S", str(HERE / "llama_vim.lua")], env=env, cwd=tmp_path,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result_path.exists(), f"nvim wrote no result (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(result_path.read_text())
    report = json.dumps({k: result.get(k) for k in ("message", "steps", "lines", "expected")}, indent=1)
    assert result["ok"] and proc.returncode == 0, f"{report}\nstderr: {proc.stderr[-2000:]}"
    ghost = next(s for s in result["steps"] if s["name"] == "ghost")
    assert "".join(ghost["lines"]).strip(), report
    # Independently of the Lua checks: the cursor's line now ends with the ghost's first line.
    assert result["lines"][SAMPLE_LINE - 1] == SAMPLE.splitlines()[SAMPLE_LINE - 1] + ghost["lines"][0], report
