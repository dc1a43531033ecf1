"""`dg-engine serve`: keep one model resident and serve many clients over a socket.

A Unix socket (mode 0600) in a per-user 0700 directory by default; TCP only when asked, bound to
loopback unless told otherwise, and then every connection must first present the shared token.
Malformed or oversized messages get an error reply and the connection keeps working.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import socket
from pathlib import Path

from engine import protocol as p
from engine.scheduler import RequestFailed, Scheduler

log = logging.getLogger("dg-engine")
READ_CHUNK = 65536


class Daemon:
    def __init__(self, scheduler: Scheduler, socket_path: Path | None = None, tcp: tuple[str, int] | None = None,
                 token: str | None = None):
        if tcp and not token:
            raise ValueError("a TCP engine needs a token")
        self.scheduler = scheduler
        self.socket_path = socket_path
        self.tcp = tcp
        self.token = token
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        if self.tcp:
            server = await asyncio.start_server(self.handle, *self.tcp)
            log.info("listening on tcp://%s:%d", *self.tcp)
        else:
            claim_socket_path(self.socket_path)
            server = await asyncio.start_unix_server(self.handle, str(self.socket_path))
            self.socket_path.chmod(0o600)
            log.info("listening on %s", self.socket_path)
        self.scheduler.start()
        async with server:
            await self.stopping.wait()
            log.info("shutting down")
            self.scheduler.stop()
            server.close()
            for task in self.tasks:
                task.cancel()
        if self.socket_path is not None and self.socket_path.exists():
            self.socket_path.unlink()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        authed = self.tcp is None
        buf, discarding = b"", False
        try:
            while chunk := await reader.read(READ_CHUNK):
                buf += chunk
                while True:
                    line, sep, rest = buf.partition(b"\n")
                    if not sep:
                        if len(buf) > p.MAX_MESSAGE_BYTES and not discarding:
                            discarding = True
                            await self.reply(writer, p.error(None, p.TOO_LARGE,
                                                             f"message exceeds {p.MAX_MESSAGE_BYTES} bytes"))
                        if discarding:
                            buf = b""
                        break
                    buf = rest
                    if discarding:
                        discarding = False
                        continue
                    if not line.strip():
                        continue
                    if not authed:
                        authed = await self.authenticate(line, writer)
                        if not authed:
                            return
                        continue
                    await self.dispatch(line, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def authenticate(self, line: bytes, writer) -> bool:
        try:
            msg = p.decode(line)
        except p.ProtocolError:
            msg = {}
        good = msg.get("op") == "auth" and hmac.compare_digest(str(msg.get("token", "")), self.token)
        await self.reply(writer, p.ok(msg.get("id"), {}) if good else p.error(msg.get("id"), p.UNAUTHORIZED,
                                                                               "first send {op: auth, token}"))
        return good

    async def dispatch(self, line: bytes, writer) -> None:
        msg: dict = {}
        try:
            msg = p.decode(line)
            op = msg["op"]
            if op == "infill":
                request = p.parse_infill(msg)
                task = asyncio.create_task(self.answer_infill(request, writer))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif op == "cancel":
                self.scheduler.cancel(str(msg.get("target", "")))
                await self.reply(writer, p.ok(msg.get("id"), {}))
            elif op == "status":
                await self.reply(writer, p.ok(msg.get("id"), self.scheduler.status()))
            elif op == "shutdown":
                await self.reply(writer, p.ok(msg.get("id"), {}))
                self.stopping.set()
            elif op == "auth":
                await self.reply(writer, p.ok(msg.get("id"), {}))
            else:
                raise p.ProtocolError(p.BAD_REQUEST, f"unknown op {op!r}")
        except p.ProtocolError as exc:
            await self.reply(writer, p.error(msg.get("id"), exc.code, str(exc)))

    async def answer_infill(self, request: p.InfillRequest, writer) -> None:
        try:
            result = await self.scheduler.submit(request)
            await self.reply(writer, p.ok(request.id, result))
        except RequestFailed as exc:
            await self.reply(writer, p.error(request.id, exc.code, str(exc)))

    async def reply(self, writer: asyncio.StreamWriter, message: dict) -> None:
        if writer.is_closing():
            return
        writer.write(p.encode(message))
        try:
            await writer.drain()
        except ConnectionError:
            pass


def claim_socket_path(path: Path) -> None:
    """Refuse to start beside a live daemon; remove a stale socket left by a dead one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise SystemExit(f"dg-engine: a daemon already serves {path}")


def write_token_file(token: str) -> Path:
    path = p.runtime_dir() / "engine-tcp.token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    return path
