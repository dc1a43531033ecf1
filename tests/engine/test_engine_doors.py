"""DESIGN.md's socket promise for TCP: loopback unless explicitly allowed, and then only with a shared
token of 16 bytes or more, kept out of `ps`, one token file per daemon, and no connection held open
without one. Command-line mistakes end in one line, never a traceback."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest

from engine import exit_status
from engine import protocol as p
from engine.client import EngineClient
from engine.protocol import EngineError

DG_ENGINE = [sys.executable, "-m", "engine"]
GOOD_TOKEN = "0123456789abcdef0123456789abcdef"


def dg_engine(*args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DG_ENGINE_TOKEN"}
    if token is not None:
        env["DG_ENGINE_TOKEN"] = token
    return subprocess.run([*DG_ENGINE, *args], capture_output=True, text=True, timeout=120, env=env)


def one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dg-engine"), out.stderr
    return lines[0]


def test_a_non_loopback_bind_is_refused_without_the_flag(free_port):
    """DESIGN.md, Contracts: "TCP only when asked for, bound to loopback by default, and then only with a
    shared token"."""
    line = one_line_error(dg_engine("serve", "--tcp", f"0.0.0.0:{free_port}", token=GOOD_TOKEN))
    assert "not a loopback address" in line and "--allow-remote-plaintext" in line


def test_tokens_shorter_than_16_bytes_are_refused(free_port):
    line = one_line_error(dg_engine("serve", "--tcp", f"127.0.0.1:{free_port}", token="s3cret"))
    assert "at least 16 bytes" in line


def test_a_port_out_of_range_is_one_line():
    out = dg_engine("serve", "--tcp", "127.0.0.1:70000", token=GOOD_TOKEN)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "1..65535" in out.stderr.strip().splitlines()[-1]


def test_a_token_on_the_command_line_draws_a_warning(free_port):
    out = dg_engine("status", "--tcp", f"127.0.0.1:{free_port}", "--token", GOOD_TOKEN)
    assert "warning: --token shows in `ps`" in out.stderr


def test_a_port_in_use_is_one_line_and_the_holder_keeps_its_token(tcp_daemon):
    port, token = tcp_daemon
    line = one_line_error(dg_engine("serve", "--tcp", f"127.0.0.1:{port}", token="another-token-" * 3))
    assert line == f"dg-engine: cannot listen on tcp://127.0.0.1:{port}: Address already in use"
    assert p.token_file("127.0.0.1", port).read_text() == token


def test_each_daemon_leaves_its_own_private_token_file_for_local_clients(tcp_daemon, env_no_token):
    port, token = tcp_daemon
    path = p.token_file("127.0.0.1", port)
    assert str(port) in path.name and path.read_text() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert EngineClient(f"tcp://127.0.0.1:{port}", autostart=False, timeout=60).status().ready


def test_a_token_file_is_read(tcp_daemon, env_no_token, tmp_path):
    port, token = tcp_daemon
    (tmp_path / "good").write_text(token + "\n")
    (tmp_path / "bad").write_text("not-the-token-at-all\n")
    address = ("--tcp", f"127.0.0.1:{port}")
    assert dg_engine("status", *address, "--token-file", str(tmp_path / "good")).returncode == 0
    refused = dg_engine("status", *address, "--token-file", str(tmp_path / "bad"))
    assert refused.returncode == exit_status.ENGINE and p.UNAUTHORIZED in refused.stderr


def test_an_unauthenticated_connection_is_closed(tcp_daemon):
    port, _ = tcp_daemon
    with socket.create_connection(("127.0.0.1", port), timeout=60) as idle:
        # Silence, then EOF from the daemon; recv times out (and the test fails) if the door stays open.
        assert idle.recv(1024) == b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as trickle:
        trickle.sendall(b'{"op": "auth"')  # never finished: the deadline counts from the connection
        assert trickle.recv(1024) == b""


def test_the_wrong_token_is_refused_and_the_connection_closed(tcp_daemon):
    port, _ = tcp_daemon
    with pytest.raises(EngineError) as err:
        EngineClient(f"tcp://127.0.0.1:{port}", autostart=False, token="x" * 32, timeout=10).status()
    assert err.value.code == p.UNAUTHORIZED
