"""How long a daemon lives: it exits once idle when asked to (and when a client started it), and a
stopped daemon costs a request one deadline, not one per reconnection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine import protocol as p
from engine.client import AUTOSTART_IDLE_EXIT_S, AsyncEngineClient, EngineClient
from engine.protocol import EngineError

PREFIX, SUFFIX = "def add(a, b):\n    ", "\n"


def test_a_daemon_with_an_idle_limit_exits_once_its_last_client_leaves(tmp_path):
    sock, log = tmp_path / "e.sock", tmp_path / "engine.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--socket", str(sock), "--idle-exit", "1"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not sock.exists():  # a client that connects in time keeps it up
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        client = EngineClient(sock, autostart=False, timeout=60)
        status = client.wait_ready(timeout=120)
        assert status.idle_exit_s == 1
        time.sleep(3)
        assert proc.poll() is None, "exited with a client connected"
        client.close()
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        proc.kill()
    assert "no client for 1 s: exiting" in log.read_text()
    assert not sock.exists()


def test_a_daemon_a_client_starts_has_an_idle_limit(tmp_path):
    client = EngineClient(tmp_path / "auto.sock", autostart=True, timeout=120)
    try:
        assert client.status().idle_exit_s == AUTOSTART_IDLE_EXIT_S
    finally:
        client.shutdown()


class CountingClient(AsyncEngineClient):
    """The real client, counting the connections it opens."""

    opened = 0

    async def _open(self):
        self.opened += 1
        return await super()._open()


async def test_a_stopped_daemon_costs_one_deadline(daemon):
    pid = EngineClient(daemon, autostart=False, timeout=60).status().pid
    client = CountingClient(daemon, autostart=False, timeout=1)
    os.kill(pid, signal.SIGSTOP)  # the kernel still accepts connections for it
    try:
        with pytest.raises(EngineError) as err:
            await client.infill(PREFIX, SUFFIX, max_tokens=8, doc="stopped")
        assert err.value.code == p.TIMEOUT
    finally:
        os.kill(pid, signal.SIGCONT)
        await client.close()
    assert client.opened == 1, "the request was sent again after its deadline"
