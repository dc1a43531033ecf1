"""A real `dg-engine serve --socket PATH --http 127.0.0.1:PORT` for the tests of its HTTP APIs and of
the remote engine, and a small HTTP client for it."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOKEN = "a-test-token-of-32-bytes-or-so.."


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """A daemon with a socket and the HTTP APIs, and a small client for it."""

    def __init__(self, port: int, sock: Path, log: Path, token: str | None):
        self.port, self.sock, self.log, self.token = port, sock, log, token

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def request(self, method: str, path: str, body: bytes | dict | None = None, token: str | None = "default",
                timeout: float = 120) -> tuple[int, dict, bytes]:
        token = self.token if token == "default" else token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def post(self, path: str, body, **kw) -> tuple[int, dict]:
        status, _, raw = self.request("POST", path, body, **kw)
        return status, json.loads(raw)


def start(tmp: Path, env: dict, *extra: str, port: int | None = None) -> tuple[subprocess.Popen, int, Path, Path]:
    port, sock, log = port or unused_port(), tmp / "engine.sock", tmp / "engine.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--socket", str(sock), "--http",
                                 f"127.0.0.1:{port}", *extra], env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, port, sock, log


def wait_healthy(server: Http, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the daemon exited {proc.returncode}:\n{server.log.read_text()}")
        try:
            if server.request("GET", "/health", token=None, timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no healthy daemon within {timeout} s:\n{server.log.read_text()}")


def stop(proc: subprocess.Popen, log: Path) -> None:
    proc.terminate()
    try:
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()


class Served:
    """`dg-engine serve --http` with a token in its environment, started and stopped at will on one
    port (a server that goes away and comes back)."""

    def __init__(self, tmp: Path, env: dict):
        self.tmp, self.env = tmp, {**env, "DG_ENGINE_TOKEN": TOKEN}
        self.port = unused_port()
        self.proc: subprocess.Popen | None = None
        self.http = Http(self.port, tmp / "engine.sock", tmp / "engine.log", TOKEN)

    @property
    def url(self) -> str:
        return self.http.url

    def up(self) -> Served:
        self.proc = start(self.tmp, self.env, port=self.port)[0]
        wait_healthy(self.http, self.proc)
        return self

    def down(self) -> None:
        if self.proc is not None:
            stop(self.proc, self.http.log)
            self.proc = None


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A module's `dg-engine serve --http` with a token, up for its tests (they may take it down and up)."""
    server = Served(tmp_path_factory.mktemp("remote"), dict(os.environ)).up()
    yield server
    server.down()
