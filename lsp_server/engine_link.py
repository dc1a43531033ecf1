"""The server's link to the engine: found or started in the background, never waited on.

A completion request only ever talks to an engine that is up. When none is (at startup, after the
daemon died, after the engine settings changed) the request gets no answer at once and the link
brings the engine up in the background, with window/workDoneProgress "loading model"; the requests
after that get completions again. The engine is the local daemon, or with the engineUrl setting an
OpenAI-compatible server (engine/remote.py), which the link reconnects to in the same way but never
starts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict

from lsprotocol.types import MessageType

from engine import protocol as p
from engine.client import AsyncEngineClient, Endpoint, async_engine
from engine.remote import RemoteEngine
from engine.protocol import EngineError
from infill.settings import Settings
from lsp_server.ui import UserInterface

log = logging.getLogger(__name__)

STOPPED, STARTING, READY, FAILED = "stopped", "starting", "ready", "failed"

# The daemon drops a request past its deadline between denoising steps. Typing supersedes requests
# long before that; the deadline only bounds the work for a request nobody supersedes, whose answer
# still shows when it comes (a slow CPU with a big model needs seconds).
DEADLINE_MS = 10_000
# Past the deadline the daemon answers "deadline"; this local limit only guards against a daemon
# that hangs without closing the socket.
REPLY_TIMEOUT_S = DEADLINE_MS / 1000 + 5
# dg.status shows the last known engine status rather than wait for a busy daemon.
STATUS_TIMEOUT_S = 1.0
READY_POLL_S = 0.2
READY_TIMEOUT_S = 300.0
# After a failed start, wait before starting again so that a broken model directory does not
# spawn a daemon on every keystroke; a settings change retries at once.
RETRY_AFTER_S = (5.0, 30.0, 120.0)
# Codes that mean the answer is no longer wanted, not that something is wrong.
_DROPPED = {p.SUPERSEDED, p.CANCELLED, p.DEADLINE}


class NotReady(Exception):
    """The engine is not up; the request gets no items and the link is bringing it up."""


class EngineLink:
    def __init__(self, ui: UserInterface, settings: Settings) -> None:
        self.ui = ui
        self.state = STOPPED
        self.error: str | None = None
        self.engine_status: p.Status | None = None
        self._settings = settings
        self._client: AsyncEngineClient | RemoteEngine | None = None
        self._bring_up: asyncio.Task | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._active = False
        self._background: set[asyncio.Task] = set()

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self._settings.engine_socket, self._settings.model_dir)

    @property
    def remote(self) -> bool:
        return self._settings.engine_url is not None

    @property
    def address(self) -> str:
        return self._settings.engine_url or self.endpoint.address

    @staticmethod
    def _engine_settings(settings: Settings) -> tuple:
        return settings.model_dir, settings.engine_socket, settings.engine_url, settings.engine_token_file

    def activate(self) -> None:
        """The session is up (initialized): from now on the engine is brought up while enabled."""
        self._active = True
        if self._settings.enabled:
            self.start()

    def configure(self, settings: Settings) -> None:
        """Take new settings; a different model or socket means a different engine."""
        old, self._settings = self._settings, settings
        if self._engine_settings(old) != self._engine_settings(settings):
            log.info("engine: %s", settings.engine_url or f"model {settings.model_dir or 'dg-tiny'}, "
                                                         f"socket {self.endpoint.address}")
            self._drop_client()
            self._failures, self._retry_at = 0, 0.0
            self.ui.forget("engine")  # a new engine's failure is news
        # Completions switched off load no model; switched on, they bring the engine up.
        if self._active and settings.enabled:
            self.start()

    def start(self) -> None:
        """Bring the engine up in the background unless it is up, coming up, or failed just now."""
        if self.state == READY and self._client is not None and self._client.connected:
            return
        if self._bring_up is not None and not self._bring_up.done():
            return
        if self.state == FAILED and time.monotonic() < self._retry_at:
            return
        self.state = STARTING
        self._bring_up = self._spawn(self._come_up())

    async def _come_up(self) -> None:
        settings = self._settings
        address, model_dir = settings.engine_socket, settings.model_dir
        async with self.ui.progress("dg-lsp", "loading model") as ended:
            client = async_engine(address, model_dir, engine_url=settings.engine_url,
                                  token_file=settings.engine_token_file, autostart=False, timeout=REPLY_TIMEOUT_S)
            try:
                try:
                    await client.connect()
                except EngineError as exc:
                    if not exc.unreachable or self.remote:
                        raise
                    await self._start_daemon(address, model_dir)
                    await client.connect()
                status = await self._wait_ready(client)
            except (EngineError, OSError, asyncio.TimeoutError) as exc:
                await client.close()
                self._failed(exc)
                ended("the engine could not start")
                return
            except asyncio.CancelledError:  # the engine settings changed meanwhile
                await client.close()
                raise
            self._client, self.engine_status = client, status
            self.state, self.error, self._failures = READY, None, 0
            self.ui.forget("engine")
            log.info("engine ready at %s: %s on %s (%s)", self.address, status.model, status.device, status.dtype)
            ended(f"{status.model} ready on {status.device}")

    @staticmethod
    async def _start_daemon(address, model_dir) -> None:
        # A client of its own, with autostart: the one completions use never starts a daemon, so a
        # request never waits for a model to load.
        starter = AsyncEngineClient(address, model_dir, autostart=True)
        try:
            await starter.connect()
        finally:
            await starter.close()

    @staticmethod
    async def _wait_ready(client: AsyncEngineClient | RemoteEngine) -> p.Status:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            status = await client.status()
            if status.ready:
                return status
            if status.error:
                # A daemon whose model failed to load is of no use: stop it rather than leave it behind.
                try:
                    await client.shutdown()
                except EngineError as exc:
                    log.info("engine shutdown: %s", exc)
                raise EngineError(p.LOAD_FAILED, status.error)
            if time.monotonic() > deadline:
                raise asyncio.TimeoutError(f"the engine did not load its model within {READY_TIMEOUT_S:.0f}s")
            await asyncio.sleep(READY_POLL_S)

    def _failed(self, exc: BaseException) -> None:
        self.state, self.error = FAILED, str(exc)
        self._retry_at = time.monotonic() + RETRY_AFTER_S[min(self._failures, len(RETRY_AFTER_S) - 1)]
        self._failures += 1
        if self.remote:
            self.ui.show_once("engine-start", f"dg-lsp: cannot use the engine at {self.address} ({exc}). "
                                              f"Completions are off until it answers; check the dg.engineUrl "
                                              f"setting and its token ($DG_ENGINE_TOKEN or dg.engineTokenFile).")
            return
        endpoint = self.endpoint
        log_path = None if endpoint.tcp else str(endpoint.log_path())
        log_hint = f" The engine log is {log_path}." if log_path and log_path not in str(exc) else ""
        self.ui.show_once(
            "engine-start",
            f"dg-lsp: the completion engine could not start ({exc}). Completions are off until it does; "
            f"check the dg.modelDir and dg.engineSocket settings, or run `dg-engine serve` in a terminal "
            f"to see why.{log_hint}",
        )

    def check_ready(self) -> None:
        """Raise NotReady, and bring the engine up in the background, unless it is up."""
        client = self._client
        if self.state != READY or client is None or not client.connected:
            if self.state == READY:
                self._lost("the connection closed")
            self.start()
            raise NotReady

    async def infill(self, doc_key: str, prefix: str, suffix: str, max_tokens: int,
                     max_lines: int, gate: float, word_ends: Sequence[str] = ()) -> p.InfillResult | None:
        """The engine's answer; None when the answer was dropped or the engine failed (and the user
        was told). Raises NotReady when the engine is not up."""
        self.check_ready()
        client = self._client
        id = client.new_id()
        call = asyncio.ensure_future(client.infill(prefix, suffix, max_tokens=max_tokens, doc=doc_key,
                                                   deadline_ms=DEADLINE_MS, id=id, max_lines=max_lines, gate=gate,
                                                   word_ends=word_ends))
        try:
            return await call
        except asyncio.CancelledError:
            # The request was cancelled or superseded: tell the daemon to stop denoising it.
            call.cancel()
            self._spawn(self._cancel(client, id))
            raise
        except EngineError as exc:
            log.info("%s: no answer from the engine: %s (%s)", doc_key, exc, exc.code)
            if exc.unreachable:
                self._lost(str(exc))
            elif exc.code == p.SHUTTING_DOWN:
                self._lost("it is shutting down")
            elif exc.code not in _DROPPED:
                hint = "its server's log says why" if self.remote else "run `dg-engine serve` in a terminal to see why"
                self.ui.show_once(f"engine-error-{exc.code}",
                                  f"dg-lsp: the engine failed a completion request ({exc.code}: {exc}). "
                                  f"If this repeats, {hint}.")
        return None

    def _lost(self, reason: str) -> None:
        again = "reconnecting" if self.remote else "starting it again"
        self.ui.show_once("engine-lost", f"dg-lsp: the completion engine stopped ({reason}); {again}.",
                          MessageType.Warning)
        self._drop_client()
        self.start()

    @staticmethod
    async def _cancel(client: AsyncEngineClient | RemoteEngine, id: str) -> None:
        try:
            await client.cancel(id)
        except (OSError, EngineError) as exc:
            log.debug("cancel %s: %s", id, exc)

    async def report(self) -> dict:
        """The engine part of dg.status: its live status when it is up."""
        if self.state == READY and self._client is not None and self._client.connected:
            try:
                self.engine_status = await asyncio.wait_for(self._client.status(), STATUS_TIMEOUT_S)
            except (EngineError, asyncio.TimeoutError) as exc:
                log.warning("engine status: %s", exc)
        return {
            "state": self.state,
            "address": self.address,
            "error": self.error,
            "status": asdict(self.engine_status) if self.engine_status else None,
        }

    def _drop_client(self) -> None:
        if self._bring_up is not None and not self._bring_up.done():
            self._bring_up.cancel()
        client, self._client = self._client, None
        self.state, self.engine_status = STOPPED, None
        if client is not None:
            self._spawn(client.close())

    async def close(self) -> None:
        client, self._client = self._client, None
        if self._bring_up is not None:
            self._bring_up.cancel()
        if client is not None:
            await client.close()

    def _spawn(self, coro) -> asyncio.Task:
        # Keep a reference: the event loop holds tasks only weakly.
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task
