"""The LSP byte stream: frames in, and an answer for every request whatever the bytes say.

pygls' own reader trusts each frame: a Content-Length shorter than its body leaves the rest of the
body where the next header should be, and every later message is lost; a body that is not JSON, or
a request whose params do not deserialize, is logged and never answered, so the editor waits forever.
Here a bad frame costs that frame only, and JSON-RPC's answers go back: -32700 for a body that is not
JSON, -32600 for one that is not a request, -32602 for params of the wrong shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable

from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.exceptions import JsonRpcParseError
from pygls.io_ import StdoutWriter
from pygls.protocol import JsonRPCProtocol
from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

HEADER_END = b"\r\n\r\n"
# The last Content-Length of a header block; what precedes it on its line is the rest of a bad frame.
CONTENT_LENGTH = re.compile(rb"Content-Length:[ \t]*(\d+)", re.IGNORECASE)
# A header inside a body marks where a frame that claimed too many bytes runs into the next one: a
# JSON body cannot hold a raw CR LF inside a string, and outside strings this is not JSON.
NEXT_HEADER = re.compile(rb"Content-Length:[ \t]*\d+\r\n", re.IGNORECASE)
MAX_HEADER_BYTES = 8192
MAX_BODY_BYTES = 256 * 1024 * 1024
READ_CHUNK = 65536
BAD_FRAME = object()  # what Framer yields for a frame it had to drop
_DECODER = json.JSONDecoder()


def _json_end(body: bytes) -> int | None:
    """Where the JSON value that starts `body` ends, when more than whitespace follows it: the frame
    claimed more bytes than its message has, and the rest belongs to the next frame."""
    try:
        text = body.decode()
        _, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    except (ValueError, RecursionError):
        return None
    return len(text[:end].encode()) if text[end:].strip() else None


class Framer:
    """Cuts a byte stream into parsed JSON messages; yields BAD_FRAME for each frame it drops."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.scanned = 0  # how far the body being read has been searched for a header

    def feed(self, data: bytes):
        self.buf += data
        while True:
            end = self.buf.find(HEADER_END)
            if end < 0:
                if len(self.buf) > MAX_HEADER_BYTES:  # no header ever ends: keep what may start one
                    del self.buf[: -len(HEADER_END)]
                    yield BAD_FRAME
                return
            lengths = list(CONTENT_LENGTH.finditer(self.buf, 0, end))
            start = end + len(HEADER_END)
            if not lengths or int(lengths[-1].group(1)) > MAX_BODY_BYTES:
                del self.buf[:start]
                yield BAD_FRAME
                continue
            n = int(lengths[-1].group(1))
            stop = min(len(self.buf), start + n)
            runs_into = NEXT_HEADER.search(self.buf, max(start, self.scanned - 64), stop)
            if runs_into is not None:
                del self.buf[: runs_into.start()]
                self.scanned = 0
                yield BAD_FRAME
                continue
            if len(self.buf) < start + n:
                self.scanned = stop
                return
            body = bytes(self.buf[start : start + n])
            del self.buf[: start + n]
            self.scanned = 0
            try:
                message = json.loads(body)
            except (ValueError, RecursionError):  # ValueError covers bad UTF-8 too
                message = BAD_FRAME
                if (end := _json_end(body)) is not None:
                    self.buf[:0] = body[end:].lstrip()
            yield message


def _request_id(data: dict):
    """The id to answer with: JSON-RPC ids are strings or integers; anything else is answered as null."""
    msg_id = data.get("id")
    return msg_id if isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool) else None


def _answer(protocol: JsonRPCProtocol, msg_id, error: JsonRpcException, detail: str) -> None:
    log.warning("%s: %s", error.message, detail)
    # A plain dict: lsprotocol's converter would leave out the "id": null that JSON-RPC requires.
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id,
                         "error": {"code": error.code, "message": f"{error.message}: {detail}"}})


def handle_message(protocol: JsonRPCProtocol, data) -> None:
    """Hand one parsed message to pygls; answer a request that cannot be handled."""
    if data is BAD_FRAME:
        _answer(protocol, None, JsonRpcParseError(), "a frame that is not one JSON message was dropped")
        return
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0" or not isinstance(data.get("method", ""), str):
        _answer(protocol, _request_id(data) if isinstance(data, dict) else None, JsonRpcInvalidRequest(),
                "not a JSON-RPC 2.0 message")
        return
    is_request = "id" in data and "method" in data
    try:
        message = protocol.structure_message(data)
    except JsonRpcException as exc:
        if is_request:
            msg_id = _request_id(data)
            error = JsonRpcInvalidParams() if msg_id is not None else JsonRpcInvalidRequest()
            _answer(protocol, msg_id, error, f"{data['method']} ({exc.__cause__ or exc})")
        else:
            log.warning("dropped a notification that does not deserialize: %s", str(data.get("method"))[:100])
        return
    try:
        protocol.handle_message(message)
    except Exception as exc:  # noqa: BLE001 - one message must not end the session
        log.exception("handling %s failed", str(data.get("method"))[:100])
        if is_request:
            _answer(protocol, _request_id(data), JsonRpcInternalError(), type(exc).__name__)


async def read_loop(server: JsonRPCServer, read: Callable[[], Awaitable[bytes]]) -> None:
    framer = Framer()
    while not server._stop_event.is_set():
        data = await read()
        if not data:
            return
        for message in framer.feed(data):
            handle_message(server.protocol, message)


def start_io(server: JsonRPCServer) -> None:
    """pygls' start_io with this module's reader."""
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    stdin = sys.stdin.buffer

    async def read() -> bytes:
        return await asyncio.get_running_loop().run_in_executor(server.thread_pool, stdin.read1, READ_CHUNK)

    try:
        asyncio.run(read_loop(server, read))
    except BrokenPipeError:
        log.error("the client closed the connection")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def start_tcp(server: JsonRPCServer, host: str, port: int) -> None:
    """pygls' start_tcp with this module's reader: one client, and the server ends when it leaves."""
    from engine.address import ListenError  # not on the stdio path

    server._stop_event = threading.Event()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)
        await read_loop(server, lambda: reader.read(READ_CHUNK))
        server.shutdown()

    async def main() -> None:
        try:
            server._server = await asyncio.start_server(connection, host, port)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
        log.info("serving LSP on %s:%d", host, port)
        async with server._server:
            try:
                await server._server.serve_forever()
            except asyncio.CancelledError:
                pass

    try:
        asyncio.run(main())
    except ListenError as exc:
        sys.exit(f"dg-lsp: {exc}")
    except (KeyboardInterrupt, SystemExit):
        pass
