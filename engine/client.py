"""Talk to the engine daemon: sync and asyncio clients. No torch import.

Both clients start the daemon when none answers (unless told not to) and reconnect on the next
call after the daemon dies or restarts. A daemon they start exits after AUTOSTART_IDLE_EXIT_S without
a client. A request that times out is not sent again: one deadline per request, even for a daemon
that is stopped (SIGSTOP) and still accepts connections.

    client = EngineClient()                      # the embedded dg-tiny, default socket
    result = client.infill("def add(a, b):\\n", "\\n", max_tokens=24)

`async_engine` gives the front ends either this daemon's asyncio client or, given an engine URL, an
OpenAI-compatible server as the engine (engine/remote.py), behind the same API.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from engine import DEFAULT_MODEL_DIR
from engine import protocol as p

START_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 30.0
# Long enough that a run of dg-infill commands or an editor restart finds the model warm; short enough
# that a forgotten daemon gives its memory back.
AUTOSTART_IDLE_EXIT_S = 300.0


class Endpoint:
    """Where the daemon listens: a Unix socket path, or tcp://HOST:PORT with a token."""

    def __init__(self, address: str | os.PathLike | None = None, model_dir: str | os.PathLike | None = None,
                 token: str | None = None):
        self.model_dir = Path(model_dir or DEFAULT_MODEL_DIR)
        address = str(address) if address else str(p.default_socket(self.model_dir))
        self.tcp = None
        if address.startswith("tcp://"):
            host, _, port = address[len("tcp://") :].rpartition(":")
            self.tcp = (host or "127.0.0.1", int(port))
        self.address = address
        self.token = p.token_from(token) or self._token_from_file()
        self._log_start = 0  # where the log of the daemon this endpoint last started begins

    def _token_from_file(self) -> str | None:
        """The token a TCP daemon on this machine left for its local clients."""
        if self.tcp is None:
            return None
        try:
            return p.token_file(*self.tcp).read_text().strip()
        except OSError:
            return None

    def log_path(self) -> Path:
        """One log per address: sockets of the same name in different directories must not share one."""
        return p.runtime_dir() / f"engine-{hashlib.sha1(self.address.encode()).hexdigest()[:10]}.log"

    def start_daemon(self) -> subprocess.Popen:
        """Start `dg-engine serve` detached from this process, logging to the runtime directory."""
        if self.tcp:
            raise p.EngineError(p.UNAVAILABLE,
                                f"no engine answers at {self.address}; start it with dg-engine serve --tcp")
        cmd = [sys.executable, "-m", "engine", "serve", "--model", str(self.model_dir), "--socket", self.address,
               "--idle-exit", str(AUTOSTART_IDLE_EXIT_S)]
        log = self.log_path().open("ab")
        self._log_start = log.tell()
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    def exited(self, proc: subprocess.Popen) -> p.EngineError:
        """The error for a daemon that exited while starting: its last words say what to fix."""
        try:
            with self.log_path().open("rb") as log:
                log.seek(self._log_start)
                lines = [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]
        except OSError:
            lines = []
        last = lines[-1].strip() if lines else f"it exited with code {proc.returncode}"
        return p.EngineError(p.UNAVAILABLE, f"the engine did not start: {last} (log: {self.log_path()})")

    def auth_message(self) -> dict | None:
        return {"op": "auth", "id": "auth", "token": self.token} if self.tcp else None


def _raise_for(reply: dict):
    if reply.get("ok"):
        return reply.get("result")
    err = reply.get("error") or {}
    code = err.get("code")
    # A newer daemon may know codes this client does not: they read as internal errors.
    raise p.EngineError(code if code in p.CODES else p.INTERNAL, err.get("message", "unknown error"))


class EngineClient:
    """Blocking client; one request at a time per client (guarded by a lock)."""

    def __init__(self, address=None, model_dir=None, *, autostart: bool = True, token: str | None = None,
                 timeout: float = REQUEST_TIMEOUT_S):
        self.endpoint = Endpoint(address, model_dir, token)
        self.autostart = autostart
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _connect_once(self) -> socket.socket:
        if self.endpoint.tcp:
            sock = socket.create_connection(self.endpoint.tcp, timeout=self.timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            sock.connect(self.endpoint.address)
        self._buf = b""
        auth = self.endpoint.auth_message()
        if auth:
            sock.sendall(p.encode(auth))
            self._sock = sock
            _raise_for(self._read_reply("auth"))
        return sock

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        try:
            self._sock = self._connect_once()
            return self._sock
        except (FileNotFoundError, ConnectionRefusedError, socket.timeout):
            if not self.autostart:
                raise p.EngineError(p.UNAVAILABLE, f"no engine answers at {self.endpoint.address}") from None
        proc = self.endpoint.start_daemon()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise self.endpoint.exited(proc)
            try:
                self._sock = self._connect_once()
                return self._sock
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        raise p.EngineError(p.UNAVAILABLE, f"the engine did not start within {START_TIMEOUT_S:.0f}s")

    def _read_reply(self, id: str) -> dict:
        while True:
            line, sep, rest = self._buf.partition(b"\n")
            if sep:
                self._buf = rest
                reply = json.loads(line)
                if reply.get("id") == id:
                    return reply
                continue
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("engine closed the connection")
            self._buf += chunk

    def call(self, op: str, **fields):
        """Send one request and wait for its reply; reconnects once if the daemon went away."""
        with self._lock:
            for attempt in (1, 2):
                id = str(next(self._ids))
                try:
                    sock = self._connect()
                    sock.sendall(p.encode(p.request_message(op, id, **fields)))
                    return _raise_for(self._read_reply(id))
                except (ConnectionError, BrokenPipeError, socket.timeout, OSError) as exc:
                    self.close()
                    if isinstance(exc, socket.timeout):
                        raise p.EngineError(p.TIMEOUT,
                                            f"the engine did not answer within {self.timeout:.0f}s") from None
                    if attempt == 2:
                        raise p.EngineError(p.UNAVAILABLE, f"engine at {self.endpoint.address}: {exc}") from None

    def infill(self, prefix: str, suffix: str, *, max_tokens: int = 24, doc: str = "",
               deadline_ms: int | None = None, max_lines: int | None = None,
               gate: float | None = None, word_ends: Sequence[str] = (), trace: bool = False) -> p.InfillResult:
        return p.result_from_dict(self.call("infill", **p.infill_fields(
            prefix, suffix, max_tokens=max_tokens, doc=doc, deadline_ms=deadline_ms, max_lines=max_lines,
            gate=gate, word_ends=word_ends, trace=trace)))

    def status(self) -> p.Status:
        return p.status_from_dict(self.call("status"))

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> p.Status:
        """Block until the daemon has loaded its model (starting it first when autostart is on)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.status()
                if status.ready:
                    return status
                if status.error:
                    raise p.EngineError(p.LOAD_FAILED, status.error)
            except p.EngineError as exc:
                if not exc.unreachable or time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise p.EngineError(p.UNAVAILABLE, f"the engine was not ready within {timeout:.0f}s")
            time.sleep(0.1)

    def shutdown(self) -> None:
        self.call("shutdown")
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class AsyncEngineClient:
    """asyncio client: many requests in flight on one connection, replies matched by id."""

    def __init__(self, address=None, model_dir=None, *, autostart: bool = True, token: str | None = None,
                 timeout: float = REQUEST_TIMEOUT_S):
        self.endpoint = Endpoint(address, model_dir, token)
        self.autostart = autostart
        self.timeout = timeout
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._connecting: asyncio.Lock | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def _open(self):
        if self.endpoint.tcp:
            return await asyncio.open_connection(*self.endpoint.tcp, limit=p.MAX_MESSAGE_BYTES * 2)
        return await asyncio.open_unix_connection(self.endpoint.address, limit=p.MAX_MESSAGE_BYTES * 2)

    async def connect(self) -> None:
        """Connect, starting the daemon first if none answers and autostart is on."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self.connected:
                return
            try:
                reader, writer = await self._open()
            except (FileNotFoundError, ConnectionRefusedError):
                if not self.autostart:
                    raise p.EngineError(p.UNAVAILABLE, f"no engine answers at {self.endpoint.address}") from None
                reader, writer = await self._start_and_open()
            self._writer = writer
            self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(reader))
        auth = self.endpoint.auth_message()
        if auth:
            await self._send_and_wait(auth)

    async def _start_and_open(self):
        if self._proc is None or self._proc.poll() is not None:
            self._proc = self.endpoint.start_daemon()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise self.endpoint.exited(self._proc)
            try:
                return await self._open()
            except (FileNotFoundError, ConnectionRefusedError):
                await asyncio.sleep(0.05)
        raise p.EngineError(p.UNAVAILABLE, f"the engine did not start within {START_TIMEOUT_S:.0f}s")

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                reply = json.loads(line)
                fut = self._pending.pop(str(reply.get("id")), None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._writer = None
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(p.EngineError(p.UNAVAILABLE, "the engine connection closed"))
            self._pending.clear()

    async def _send_and_wait(self, message: dict):
        fut = asyncio.get_running_loop().create_future()
        self._pending[message["id"]] = fut
        try:
            self._writer.write(p.encode(message))
            await self._writer.drain()
            reply = await asyncio.wait_for(fut, self.timeout)
        except (ConnectionError, AttributeError) as exc:
            raise p.EngineError(p.UNAVAILABLE, f"engine at {self.endpoint.address}: {exc}") from None
        except asyncio.TimeoutError:
            raise p.EngineError(p.TIMEOUT, f"the engine did not answer within {self.timeout:.0f}s") from None
        finally:
            self._pending.pop(message["id"], None)
        return _raise_for(reply)

    async def call(self, op: str, id: str | None = None, **fields):
        """Send one request and await its reply; reconnects once if the daemon went away."""
        for attempt in (1, 2):
            try:
                await self.connect()
                msg = p.request_message(op, id or f"a{next(self._ids)}", **fields)
                return await self._send_and_wait(msg)
            except p.EngineError as exc:
                if not exc.unreachable:
                    raise
                await self.close()
                if attempt == 2 or exc.code == p.TIMEOUT:
                    raise

    def new_id(self) -> str:
        return f"a{next(self._ids)}"

    async def infill(self, prefix: str, suffix: str, *, max_tokens: int = 24, doc: str = "",
                     deadline_ms: int | None = None, id: str | None = None,
                     max_lines: int | None = None, gate: float | None = None,
                     word_ends: Sequence[str] = (), trace: bool = False) -> p.InfillResult:
        result = await self.call("infill", id=id, **p.infill_fields(
            prefix, suffix, max_tokens=max_tokens, doc=doc, deadline_ms=deadline_ms, max_lines=max_lines,
            gate=gate, word_ends=word_ends, trace=trace))
        return p.result_from_dict(result)

    async def cancel(self, id: str) -> None:
        """Ask the daemon to drop a request; its infill call then raises EngineError(CANCELLED)."""
        if self.connected:
            self._writer.write(p.encode(p.request_message("cancel", f"c{next(self._ids)}", target=id)))
            await self._writer.drain()

    async def status(self) -> p.Status:
        return p.status_from_dict(await self.call("status"))

    async def shutdown(self) -> None:
        try:
            await self.call("shutdown")
        finally:
            await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._reader_task is not None:
            self._reader_task.cancel()
            self._reader_task = None


def async_engine(address=None, model_dir=None, *, engine_url: str | None = None, token: str | None = None,
                 token_file: str | os.PathLike | None = None, autostart: bool = True,
                 timeout: float = REQUEST_TIMEOUT_S):
    """The engine a front end talks to: the OpenAI-compatible server at `engine_url` when one is given,
    its token from `token`, `token_file` or $DG_ENGINE_TOKEN; else the daemon at `address` (started
    when none answers and `autostart`)."""
    from engine.remote import RemoteEngine, read_token

    if engine_url:
        return RemoteEngine(engine_url, token, token_file=token_file, timeout=timeout)
    return AsyncEngineClient(address, model_dir, autostart=autostart, timeout=timeout,
                             token=read_token(token, token_file))
