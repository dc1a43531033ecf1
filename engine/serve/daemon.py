"""`dg-engine serve`: keep one model resident and serve many clients over a socket.

A Unix socket (mode 0600) in a per-user 0700 directory by default; TCP only when asked, bound to
loopback unless told otherwise, and then every connection must first present the shared token, within
AUTH_TIMEOUT_S. Malformed or oversized messages get an error reply and the connection keeps working.
A model that fails to load is reported in the status for LOAD_FAILURE_LINGER_S, then the daemon exits;
with an idle limit it also exits once no client has been connected for that long. With `http`, the
HTTP completion APIs (engine/serve/http.py) listen beside the socket, on the same scheduler; a
request in flight there counts as a connected client.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from engine import protocol as p
from engine.address import ListenError
from engine.serve.http import HttpApi
from engine.serve.scheduler import Scheduler

log = logging.getLogger("dg-engine")
READ_CHUNK = 65536
AUTH_TIMEOUT_S = 10.0
# Long enough for a client polling the status to read why; the daemon is of no use after that.
LOAD_FAILURE_LINGER_S = 10.0
REPLY_GRACE_S = 1.0  # at shutdown, how long the answers to dropped requests may take to go out
TOO_LARGE = object()  # what `Lines` yields in place of a line over the size limit


class Lines:
    """Newline-delimited messages out of a byte stream; a line over the limit is skipped to its end
    and reported once, so the next message is read normally."""

    def __init__(self) -> None:
        self.buf = b""
        self.discarding = False

    def feed(self, chunk: bytes) -> Iterator[bytes | object]:
        self.buf += chunk
        while True:
            line, sep, rest = self.buf.partition(b"\n")
            if not sep:
                if len(self.buf) > p.MAX_MESSAGE_BYTES:
                    if not self.discarding:
                        self.discarding = True
                        yield TOO_LARGE
                    self.buf = b""
                return
            self.buf = rest
            if self.discarding:
                self.discarding = False
            elif line.strip():
                yield line


class Daemon:
    def __init__(self, scheduler: Scheduler, socket_path: Path | None = None, tcp: tuple[str, int] | None = None,
                 token: str | None = None, idle_exit_s: float | None = None, http: tuple[str, int] | None = None,
                 http_token: str | None = None):
        if tcp and not token:
            raise ValueError("a TCP engine needs a token")
        self.scheduler = scheduler
        self.socket_path = socket_path
        self.tcp = tcp
        self.token = token
        self.idle_exit_s = idle_exit_s
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task] = set()
        self.clients = 0
        self._idle_timer: asyncio.TimerHandle | None = None
        self.http = None if http is None else HttpApi(scheduler, http, http_token, on_request=self._client)

    @property
    def address(self) -> str:
        return f"tcp://{self.tcp[0]}:{self.tcp[1]}" if self.tcp else str(self.socket_path)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        server = await self._listen()
        token_path = None
        try:
            if self.http is not None:
                await self.http.start()
                log.info("HTTP APIs on %s%s", self.http.url,
                         "" if self.http.token else " without a token: any user of this machine can use them")
            token_path = write_token_file(p.token_file(*self.tcp), self.token) if self.tcp else None
            log.info("listening on %s", self.address)
            self.scheduler.start(on_load_failure=lambda: loop.call_soon_threadsafe(self._load_failed))
            self._arm_idle_exit()
            async with server:
                await self.stopping.wait()
                log.info("shutting down")
                # Stop listening first: a client that comes now must hear at once that no engine
                # answers, not wait on the backlog while the model thread finishes its step.
                server.close()
                if self.socket_path is not None and self.socket_path.exists():
                    self.socket_path.unlink()
                # Every request still queued or running is answered shutting_down, on either door,
                # before its connection goes.
                await asyncio.to_thread(self.scheduler.stop)
                if self.tasks:
                    await asyncio.wait(set(self.tasks), timeout=REPLY_GRACE_S)
                for task in self.tasks:
                    task.cancel()
                if self.http is not None:
                    await self.http.stop()
        finally:
            server.close()
            if token_path is not None:
                token_path.unlink(missing_ok=True)
            if self.socket_path is not None and self.socket_path.exists():
                self.socket_path.unlink()

    async def _listen(self) -> asyncio.Server:
        try:
            if self.tcp:
                return await asyncio.start_server(self.handle, *self.tcp)
            claim_socket_path(self.socket_path)
            server = await asyncio.start_unix_server(self.handle, str(self.socket_path))
            self.socket_path.chmod(0o600)
            return server
        except OSError as exc:
            # asyncio rewords bind errors at length; the errno's own words are the one line a person needs.
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ListenError(f"cannot listen on {self.address}: {reason}") from None

    def _load_failed(self) -> None:
        log.error("exiting in %.0f s: the model failed to load", LOAD_FAILURE_LINGER_S)
        asyncio.get_running_loop().call_later(LOAD_FAILURE_LINGER_S, self.stopping.set)

    def _arm_idle_exit(self) -> None:
        if self.idle_exit_s is not None and self.clients == 0:
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle_exit_s, self._idle)

    def _idle(self) -> None:
        log.info("no client for %.0f s: exiting", self.idle_exit_s)
        self.stopping.set()

    def _client(self, arrived: bool) -> None:
        """A client arrived (True) or left (False): the idle timer runs only while none is here."""
        if arrived:
            self.clients += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        else:
            self.clients -= 1
            self._arm_idle_exit()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._client(True)
        try:
            await self.converse(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except TimeoutError:
            log.info("closed a connection that sent no token within %.0f s", AUTH_TIMEOUT_S)
        finally:
            writer.close()
            self._client(False)

    async def converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        authed = self.tcp is None
        # An unauthenticated connection gets one deadline, not one per read: trickling bytes buys no time.
        auth_by = asyncio.get_running_loop().time() + AUTH_TIMEOUT_S
        lines = Lines()
        while True:
            async with asyncio.timeout_at(None if authed else auth_by):
                chunk = await reader.read(READ_CHUNK)
            if not chunk:
                return
            for line in lines.feed(chunk):
                if line is TOO_LARGE:
                    await self.reply(writer, p.error(None, p.TOO_LARGE, f"message exceeds {p.MAX_MESSAGE_BYTES} bytes"))
                elif not authed:
                    authed = await self.authenticate(line, writer)
                    if not authed:
                        return
                else:
                    await self.dispatch(line, writer)

    async def authenticate(self, line: bytes, writer) -> bool:
        try:
            msg = p.decode(line)
        except p.EngineError:
            msg = {}
        # Bytes: compare_digest refuses str with non-ASCII characters.
        good = msg.get("op") == "auth" and hmac.compare_digest(str(msg.get("token", "")).encode(errors="replace"),
                                                               self.token.encode())
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
                await self.reply(writer, p.ok(msg.get("id"), replace(self.scheduler.status(),
                                                                     idle_exit_s=self.idle_exit_s)))
            elif op == "shutdown":
                await self.reply(writer, p.ok(msg.get("id"), {}))
                self.stopping.set()
            elif op == "auth":
                await self.reply(writer, p.ok(msg.get("id"), {}))
            else:
                raise p.EngineError(p.BAD_REQUEST, f"unknown op {op!r}")
        except p.EngineError as exc:
            await self.reply(writer, p.error(msg.get("id"), exc.code, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the module promises a reply and a connection that keeps working
            log.exception("request failed: %.200r", line)
            await self.reply(writer, p.error(msg.get("id"), p.INTERNAL, f"{type(exc).__name__}: {exc}"))

    async def answer_infill(self, request: p.InfillRequest, writer) -> None:
        try:
            result = await self.scheduler.submit(request)
            await self.reply(writer, p.ok(request.id, result))
        except p.EngineError as exc:
            await self.reply(writer, p.error(request.id, exc.code, str(exc)))
        except Exception as exc:  # noqa: BLE001 - every request gets an answer
            log.exception("infill %s failed", request.id)
            await self.reply(writer, p.error(request.id, p.INTERNAL, f"{type(exc).__name__}: {exc}"))

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
    raise ListenError(f"a daemon already serves {path}")


def write_token_file(path: Path, token: str) -> Path:
    """Leave the token where local clients find it; written once the address is ours, so that a daemon
    that fails to bind never replaces the token of the one that holds the address."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    return path
