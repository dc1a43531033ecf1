"""The remote engine (engine/remote.py) against the real `dg-engine serve --http` and the real model:
its answers, a refused token, a server that goes away and comes back, and servers that answer badly."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine import protocol as p
from engine.client import EngineClient, async_engine
from engine.remote import RemoteEngine

from tests.http_daemon import TOKEN, Served, served, unused_port  # noqa: F401 (served: a fixture)

PREFIX = "def mean(values):\n    total = "
SUFFIX = "\n    return total / len(values)\n"


async def test_an_answer_carries_the_confidences_the_gate_needs(served):
    engine = async_engine(engine_url=served.url, token=TOKEN)
    assert isinstance(engine, RemoteEngine)
    try:
        await engine.connect()
        status = await engine.status()
        # The model's own languages and calibrated defaults come with it, as from the daemon.
        local = EngineClient(served.http.sock, autostart=False, timeout=60).status()
        assert (status.model, status.languages, status.min_confidence, status.max_lines) == \
            (local.model, local.languages, local.min_confidence, local.max_lines)
        result = await engine.infill(PREFIX, SUFFIX, max_tokens=16, max_lines=1, gate=0.0)
        assert result.text.count("\n") <= 1 and result.steps >= 1
        assert len(result.token_confidences) == len(result.token_ends) >= 1
        assert all(0.0 <= c <= 1.0 for c in result.token_confidences)
        assert result.token_ends == sorted(result.token_ends) and result.token_ends[-1] <= len(result.text)
        assert (await engine.status()).requests == 1
    finally:
        await engine.close()


async def test_a_refused_token_says_where_the_token_comes_from(served):
    engine = RemoteEngine(served.url, "not-the-token-at-all-no")
    with pytest.raises(p.EngineError, match=r"refused the token \(401\).*DG_ENGINE_TOKEN") as caught:
        await engine.connect()
    assert caught.value.code == p.UNAUTHORIZED and not engine.connected


async def test_a_token_file_that_cannot_be_read_is_an_auth_error(served, tmp_path):
    engine = RemoteEngine(served.url, token_file=tmp_path / "missing")
    with pytest.raises(p.EngineError, match="cannot read the token file") as caught:
        await engine.connect()
    assert caught.value.code == p.UNAUTHORIZED


async def test_a_server_that_goes_away_and_comes_back(tmp_path):
    """Down: UNAVAILABLE at once (the caller reconnects later); up again, the same engine object
    answers, though the connection it kept from before is dead."""
    server = Served(tmp_path, dict(os.environ))
    engine = RemoteEngine(server.url, TOKEN, timeout=120)
    try:
        with pytest.raises(p.EngineError, match="no engine answers at") as caught:
            await engine.connect()
        assert caught.value.unreachable
        server.up()
        await engine.connect()
        await engine.infill(PREFIX, SUFFIX, max_tokens=4)
        server.down()
        with pytest.raises(p.EngineError) as caught:
            await engine.infill(PREFIX, SUFFIX, max_tokens=4)
        assert caught.value.unreachable and not engine.connected
        server.up()
        await engine.connect()
        assert (await engine.infill(PREFIX, SUFFIX, max_tokens=4)).token_ends
    finally:
        await engine.close()
        server.down()


async def test_a_cancelled_request_is_cancelled_on_the_server(served):
    """Cancelling the call closes its connection; the daemon stops denoising it."""
    engine = RemoteEngine(served.url, TOKEN)
    await engine.connect()
    call = asyncio.ensure_future(engine.infill("numbers = [" + ", ".join(map(str, range(1, 40))) + ", ", "",
                                               max_tokens=256))
    await asyncio.sleep(0.5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    for _ in range(300):
        if "cancelled: its HTTP client disconnected" in served.http.log.read_text():
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail(served.http.log.read_text()[-2000:])
    assert (await engine.infill(PREFIX, SUFFIX, max_tokens=2)).text is not None
    await engine.close()


async def test_the_deadline_bounds_a_request(served):
    engine = RemoteEngine(served.url, TOKEN)
    await engine.connect()
    with pytest.raises(p.EngineError) as caught:
        await engine.infill("numbers = [" + ", ".join(map(str, range(1, 40))) + ", ", "", max_tokens=256,
                            deadline_ms=1)
    assert caught.value.code == p.DEADLINE
    await engine.close()


MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}


def chat(content, logprobs) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": logprobs, "finish_reason": "stop"}]}


def tokens(*pieces: str | bytes) -> dict:
    return {"content": [{"token": str(t), "logprob": -0.1, "bytes": list(t if isinstance(t, bytes) else t.encode()),
                         "top_logprobs": []} for t in pieces]}


class Scripted(BaseHTTPRequestHandler):
    """A server that answers /v1/models well and chat completions with the test's (status, body)."""

    answer: tuple[int, bytes] = (200, b"{}")
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.reply(200, json.dumps(MODELS).encode())

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.reply(*type(self).answer)

    def reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted():
    handler = type("Handler", (Scripted,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status, body, code, says", [
    (200, b"<html>hello</html>", p.INTERNAL, "bad answer: not JSON"),
    (200, json.dumps({"id": "x"}).encode(), p.INTERNAL, "not a chat completion"),
    (200, json.dumps(chat("x = 1", None)).encode(), p.INTERNAL, "no logprobs"),
    (200, json.dumps(chat("x = 1", tokens("y = 2"))).encode(), p.INTERNAL, "do not spell its text"),
    (500, json.dumps({"error": {"message": "boom"}}).encode(), p.INTERNAL, "answered 500: boom"),
    (400, json.dumps({"message": "no such thing"}).encode(), p.BAD_REQUEST, "answered 400: no such thing"),
    (503, b"overloaded", p.UNAVAILABLE, "unavailable (503): overloaded"),
])
async def test_a_bad_answer_is_an_error_that_says_what_was_wrong(scripted, status, body, code, says):
    handler, url = scripted
    handler.answer = (status, body)
    engine = RemoteEngine(url)
    with pytest.raises(p.EngineError, match=says.replace("(", r"\(").replace(")", r"\)")) as caught:
        await engine.infill("a", "b", max_tokens=4)
    assert caught.value.code == code
    await engine.close()


async def test_tokens_that_split_a_character_end_where_it_does(scripted):
    """Byte-level tokens (vLLM's `bytes`) may cut a character in two; a token ends where its whole
    characters do. An end token listed past the text is dropped."""
    handler, url = scripted
    text = "s = 'é'\n"
    handler.answer = (200, json.dumps(chat(text, tokens("s = '", b"\xc3", b"\xa9", "'\n", "<turn|>"))).encode())
    engine = RemoteEngine(url)
    result = await engine.infill("a", "b", max_tokens=8)
    assert result.text == text and result.token_ends == [5, 5, 6, 8]
    await engine.close()


async def test_a_server_that_does_not_speak_http(scripted):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", unused_port()))
        listener.listen()
        port = listener.getsockname()[1]

        def garbage():
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
            conn.close()

        threading.Thread(target=garbage, daemon=True).start()
        engine = RemoteEngine(f"http://127.0.0.1:{port}/v1")
        with pytest.raises(p.EngineError, match="bad answer") as caught:
            await engine.connect()
        assert caught.value.code == p.INTERNAL
