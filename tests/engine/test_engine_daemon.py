import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from engine import exit_status
from engine import protocol as p
from engine.client import AsyncEngineClient, EngineClient
from engine.protocol import EngineError

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"


def raw_exchange(sock_path, payload: bytes, n_replies: int = 1) -> list[dict]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(str(sock_path))
    s.sendall(payload)
    buf = b""
    while buf.count(b"\n") < n_replies:
        chunk = s.recv(65536)
        assert chunk, "daemon closed the connection"
        buf += chunk
    s.close()
    return [json.loads(line) for line in buf.splitlines()]


def test_infill_returns_text_and_figures(daemon):
    client = EngineClient(daemon, autostart=False, timeout=60)
    r = client.infill(PREFIX, SUFFIX, max_tokens=16, doc="a.py")
    assert isinstance(r.text, str)
    assert 1 <= r.steps <= 17  # left to right: a step per token, <eoi> included
    assert r.tokens_per_forward >= 0 and 0 <= r.min_confidence <= r.mean_confidence <= 1
    again = client.infill(PREFIX, SUFFIX, max_tokens=16, doc="a.py")
    assert again.cached_prefix
    status = client.status()
    assert status.ready and status.model == "dg-tiny" and status.device == "cpu"
    assert status.requests >= 2 and status.ms_per_step > 0 and status.cache_hit_rate > 0
    assert 0 < status.cache_fill < 1  # two small contexts in a 256 MiB cache


def test_socket_and_directory_are_private(daemon):
    """DESIGN.md, Contracts: "a Unix socket in a per-user directory with mode 0700 (socket 0600)"."""
    assert stat.S_IMODE(os.stat(daemon).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(p.runtime_dir()).st_mode) == 0o700


def test_two_clients_at_once(daemon):
    results = {}

    def ask(name):
        results[name] = EngineClient(daemon, autostart=False, timeout=60).infill(PREFIX, SUFFIX, max_tokens=16,
                                                                                  doc=name)

    threads = [threading.Thread(target=ask, args=(f"doc{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results) == {"doc0", "doc1"}


async def test_a_newer_request_supersedes_an_older_one_for_the_same_document(daemon):
    client = AsyncEngineClient(daemon, autostart=False, timeout=60)
    blocker = asyncio.ensure_future(client.infill(PREFIX, SUFFIX, max_tokens=120, doc="other"))
    await asyncio.sleep(0.05)
    older = asyncio.ensure_future(client.infill(PREFIX, SUFFIX, max_tokens=16, doc="same"))
    await asyncio.sleep(0.01)
    newer = asyncio.ensure_future(client.infill(PREFIX + "x", SUFFIX, max_tokens=16, doc="same"))
    with pytest.raises(EngineError) as err:
        await older
    assert err.value.code == p.SUPERSEDED
    assert isinstance((await newer).text, str)
    await blocker
    await client.close()


async def test_cancel_and_deadline(daemon):
    client = AsyncEngineClient(daemon, autostart=False, timeout=60)
    blocker = asyncio.ensure_future(client.infill(PREFIX, SUFFIX, max_tokens=120, doc="blocker"))
    await asyncio.sleep(0.05)
    doomed = asyncio.ensure_future(client.infill(PREFIX, SUFFIX, max_tokens=16, doc="c", id="doomed"))
    await asyncio.sleep(0.01)
    await client.cancel("doomed")
    with pytest.raises(EngineError) as err:
        await doomed
    assert err.value.code == p.CANCELLED
    with pytest.raises(EngineError) as err:
        await client.infill(PREFIX, SUFFIX, max_tokens=16, doc="d", deadline_ms=1)
    assert err.value.code == p.DEADLINE
    await blocker
    await client.close()


def test_malformed_messages_get_errors_and_the_daemon_keeps_serving(daemon):
    replies = raw_exchange(daemon, b"this is not json\n" + b'{"op": "fly", "id": "x"}\n'
                           + b'{"op": "infill", "id": "y", "prefix": 3}\n' + b'{"op": "infill", "id": "z"}\n'
                           + b'{"op": "infill", "id": "w", "prefix": "", "max_tokens": 100000}\n'
                           + b'{"op": "infill", "id": "v", "prefix": "", "max_lines": 0}\n'
                           + b'{"op": "infill", "id": "u", "prefix": "", "max_lines": "two"}\n', n_replies=7)
    codes = [r["error"]["code"] for r in replies]
    assert codes == [p.BAD_REQUEST] * 7
    assert [r["id"] for r in replies[1:]] == ["x", "y", "z", "w", "v", "u"]
    assert EngineClient(daemon, autostart=False, timeout=60).status().ready


def test_an_oversized_message_is_refused_and_the_connection_still_works(daemon):
    huge = b'{"op": "status", "id": "big", "pad": "' + b"x" * (p.MAX_MESSAGE_BYTES + 10) + b'"}\n'
    replies = raw_exchange(daemon, huge + b'{"op": "status", "id": "after"}\n', n_replies=2)
    assert replies[0]["error"]["code"] == p.TOO_LARGE
    assert replies[1]["id"] == "after" and replies[1]["ok"]


def test_client_reconnects_after_a_daemon_restart(tmp_path):
    sock = tmp_path / "e.sock"
    client = EngineClient(sock, autostart=True, timeout=120)
    first = client.status()
    assert first.pid > 1
    os.kill(first.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while sock.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not sock.exists(), "SIGTERM left the socket behind"
    second = client.infill(PREFIX, SUFFIX, max_tokens=8)  # the client starts a new daemon
    assert isinstance(second.text, str)
    assert client.status().pid != first.pid
    client.shutdown()


def test_sigterm_while_the_model_compiles_exits_cleanly(tmp_path):
    sock, log = tmp_path / "e.sock", tmp_path / "engine.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--socket", str(sock)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        status = EngineClient(sock, autostart=False, timeout=10).wait_ready(timeout=120)
        assert not status.compiled, "compiling and warming the copy takes seconds; it cannot be done yet"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        proc.kill()
    assert "terminate called" not in log.read_text()
    assert not sock.exists()


def test_without_autostart_a_missing_daemon_is_reported(tmp_path):
    with pytest.raises(EngineError, match="no engine answers") as err:
        EngineClient(tmp_path / "none.sock", autostart=False).status()
    assert err.value.code == p.UNAVAILABLE


def test_tcp_requires_the_token(tcp_daemon):
    port, token = tcp_daemon
    EngineClient(f"tcp://127.0.0.1:{port}", autostart=False, token=token, timeout=60).status()
    with pytest.raises(EngineError) as err:
        EngineClient(f"tcp://127.0.0.1:{port}", autostart=False, token="wrong" * 4, timeout=10).status()
    assert err.value.code == p.UNAUTHORIZED


def test_dg_engine_stop_and_status_commands(tmp_path):
    sock = tmp_path / "s.sock"
    EngineClient(sock, autostart=True, timeout=120).wait_ready()
    out = subprocess.run([sys.executable, "-m", "engine", "status", "--socket", str(sock)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and json.loads(out.stdout)["model"] == "dg-tiny"
    out = subprocess.run([sys.executable, "-m", "engine", "stop", "--socket", str(sock)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0
    out = subprocess.run([sys.executable, "-m", "engine", "status", "--socket", str(sock)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == exit_status.ENGINE and "no engine answers" in out.stderr


def test_a_line_limit_on_the_wire_bounds_the_completion(daemon):
    (reply,) = raw_exchange(daemon, json.dumps({"op": "infill", "id": "l", "prefix": PREFIX, "suffix": SUFFIX,
                                                "max_tokens": 48, "max_lines": 1}).encode() + b"\n", n_replies=1)
    text = reply["result"]["text"]
    assert reply["ok"] and "\n" not in text[:-1]


async def test_requests_in_flight_at_shutdown_are_answered_shutting_down(tmp_path):
    """Every request gets an answer, even one the daemon drops because it is stopping."""
    sock = tmp_path / "s.sock"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--socket", str(sock)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        EngineClient(sock, autostart=False, timeout=60).wait_ready(timeout=120)
        client = AsyncEngineClient(sock, autostart=False, timeout=60)
        # Long gaps (a step per token) that the stop finds queued or running.
        asked = [asyncio.ensure_future(client.infill(PREFIX, SUFFIX, max_tokens=200, doc=f"d{i}")) for i in range(12)]
        await asyncio.sleep(0.3)
        EngineClient(sock, autostart=False, timeout=60).shutdown()
        outcomes = await asyncio.gather(*asked, return_exceptions=True)
        codes = [o.code for o in outcomes if isinstance(o, EngineError)]
        assert p.SHUTTING_DOWN in codes and set(codes) == {p.SHUTTING_DOWN}, outcomes
        await client.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
