"""Fuzzing the engine's wire protocol, before and after authentication: every message line gets
exactly one reply, and the daemon still answers normally afterwards. Bounded: a fixed number of
examples, each with a hang guard."""

from __future__ import annotations

import json
import socket

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from engine import protocol as p

REPLY_TIMEOUT_S = 60.0  # a hang guard, not a measure
EXAMPLES = settings(max_examples=30, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=8)
ops = st.sampled_from(["infill", "status", "cancel", "auth", "fly"]) | json_values
# Small gaps: a valid request runs the model, a step per token.
numbers = st.sampled_from([None, -1, 0, 1, 8, 257, 1e400, float("nan"), "8", True]) | json_values
messages = st.fixed_dictionaries({"op": ops}, optional={
    "id": json_values, "prefix": st.sampled_from(["def f():\n    return ", "x", ""]) | json_values,
    "suffix": st.sampled_from(["\n", ""]) | json_values, "max_tokens": numbers, "max_lines": numbers,
    "deadline_ms": numbers, "doc": json_values, "target": json_values, "token": json_values})


def encoded(message: dict) -> bytes:
    # Python's json writes NaN and Infinity, which are not JSON: the daemon must refuse them too.
    return json.dumps(message).encode()


lines = st.lists(messages.map(encoded) | st.binary(min_size=1, max_size=60).filter(lambda b: b"\n" not in b),
                 min_size=1, max_size=4).map(lambda ls: [line for line in ls if line.strip()]).filter(bool)


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def send(self, lines: list[bytes]) -> None:
        self.sock.sendall(b"".join(line + b"\n" for line in lines))

    def replies(self, n: int) -> list[dict]:
        while self.buf.count(b"\n") < n:
            chunk = self.sock.recv(65536)
            assert chunk, f"the daemon closed the connection after {len(self.buf.splitlines())} replies"
            self.buf += chunk
        *got, self.buf = self.buf.split(b"\n", n)
        return [json.loads(line) for line in got]

    def still_answers(self) -> None:
        self.send([p.encode({"op": "status", "id": "sentinel"}).strip()])
        (reply,) = self.replies(1)
        assert reply["id"] == "sentinel" and reply["ok"], reply


def unix(path) -> Connection:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(REPLY_TIMEOUT_S)
    sock.connect(str(path))
    return Connection(sock)


def tcp(port: int) -> Connection:
    return Connection(socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S))


# Inputs that once dropped the connection, tried first on every run.
INFINITE_DEADLINE = b'{"op": "infill", "id": "i", "prefix": "x", "deadline_ms": 1e400}'
DEEP = b'{"op": "status", "id": "d", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
NON_ASCII_TOKEN = '{"op": "auth", "id": "a", "token": "\u00e9t\u00e9"}'.encode()


@EXAMPLES
@given(lines)
@example([INFINITE_DEADLINE, DEEP])
def test_engine_fuzz_every_line_gets_one_reply(daemon, batch):
    conn = unix(daemon)
    try:
        conn.send(batch)
        assert len(conn.replies(len(batch))) == len(batch)
        conn.still_answers()
    finally:
        conn.sock.close()


@EXAMPLES
@given(lines)
@example([NON_ASCII_TOKEN])
def test_engine_fuzz_before_auth_one_refusal_then_the_door_closes(tcp_daemon, batch):
    port, token = tcp_daemon
    conn = tcp(port)
    try:
        conn.send(batch)
        (reply,) = conn.replies(1)
        assert reply["error"]["code"] == p.UNAUTHORIZED, reply
        assert conn.sock.recv(1024) == b""
    finally:
        conn.sock.close()
    conn = tcp(port)
    try:
        conn.send([p.encode({"op": "auth", "id": "a", "token": token}).strip()])
        assert conn.replies(1)[0]["ok"]
        conn.still_answers()
    finally:
        conn.sock.close()


@settings(EXAMPLES, max_examples=10)
@given(lines)
@example([INFINITE_DEADLINE, DEEP, NON_ASCII_TOKEN])
def test_engine_fuzz_after_auth_every_line_gets_one_reply(tcp_daemon, batch):
    port, token = tcp_daemon
    conn = tcp(port)
    try:
        conn.send([p.encode({"op": "auth", "id": "a", "token": token}).strip(), *batch])
        assert len(conn.replies(1 + len(batch))) == 1 + len(batch)
        conn.still_answers()
    finally:
        conn.sock.close()
