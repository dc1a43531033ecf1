"""The wire protocol's promise: a bad message gets an error reply and the connection keeps working,
also for the inputs that used to raise inside the daemon (non-ASCII token, deep nesting, 1e400)."""

from __future__ import annotations

import json
import socket

from engine import protocol as p


def converse(sock: socket.socket, payload: bytes, n_replies: int) -> list[dict]:
    sock.sendall(payload)
    buf = b""
    while buf.count(b"\n") < n_replies:
        chunk = sock.recv(65536)
        assert chunk, f"the daemon closed the connection after {len(buf.splitlines())} replies"
        buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


def unix(path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(60)
    sock.connect(str(path))
    return sock


def tcp(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=60)


def test_a_non_ascii_token_is_refused_with_a_reply(tcp_daemon):
    port, _ = tcp_daemon
    with tcp(port) as sock:
        (reply,) = converse(sock, p.encode({"op": "auth", "id": "a", "token": "jeton-\u00e9\u00e8-\u4e2d\u6587"}), 1)
    assert reply["id"] == "a" and reply["error"]["code"] == p.UNAUTHORIZED


def test_the_right_token_still_opens_the_door(tcp_daemon):
    port, token = tcp_daemon
    with tcp(port) as sock:
        replies = converse(sock, p.encode({"op": "auth", "id": "a", "token": token})
                           + p.encode({"op": "status", "id": "s"}), 2)
    assert [r["ok"] for r in replies] == [True, True]


def test_deeply_nested_json_gets_an_error_and_the_connection_keeps_working(daemon):
    nested = b'{"op": "status", "id": "deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    with unix(daemon) as sock:
        replies = converse(sock, nested + p.encode({"op": "status", "id": "after"}), 2)
    assert replies[0]["error"]["code"] == p.BAD_REQUEST
    assert replies[1]["id"] == "after" and replies[1]["ok"]


def test_an_infinite_deadline_gets_an_error_and_the_connection_keeps_working(daemon):
    bad = b'{"op": "infill", "id": "inf", "prefix": "x = ", "deadline_ms": 1e400}\n'
    with unix(daemon) as sock:
        replies = converse(sock, bad + p.encode({"op": "status", "id": "after"}), 2)
    assert replies[0]["id"] == "inf" and replies[0]["error"]["code"] == p.BAD_REQUEST
    assert replies[1]["id"] == "after" and replies[1]["ok"]


def test_odd_but_valid_json_gets_one_reply_each(daemon):
    """Ids and fields of every JSON type: each message is answered, none drops the connection."""
    odd = [{"op": "status", "id": ["a", 1]}, {"op": "status", "id": {"k": None}}, {"op": "cancel", "id": 3,
           "target": {"x": 1}}, {"op": "infill", "id": "n", "prefix": "", "max_tokens": float("nan")},
           {"op": "infill", "id": "t", "prefix": "", "max_tokens": True, "max_lines": [1]}, {"op": ["status"]}]
    payload = b"".join(json.dumps(m).encode() + b"\n" for m in odd) + p.encode({"op": "status", "id": "after"})
    with unix(daemon) as sock:
        replies = converse(sock, payload, len(odd) + 1)
    assert replies[-1]["id"] == "after" and replies[-1]["ok"]
