"""Queue infill requests, micro-batch them on a model thread, drop the ones nobody waits for.

One worker thread owns the model. Requests that arrive together share forward passes. A request
is dropped between denoising steps once it is cancelled, superseded by a newer request for the
same document, or past its deadline; its future fails with the protocol's error code at once.
Used by the daemon (`engine.serve.daemon`) and in-process by the batch CLI (`engine.in_process`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine import protocol as p
from engine.serve import native_memory
from engine.serve.engine import BackgroundCompile, Engine, Job

log = logging.getLogger("dg-engine")
BATCH_WINDOW_S = 0.002  # how long the worker waits for company before running a lone request
STOP_TIMEOUT_S = 30.0  # a running batch ends at its next denoising step once its requests are dropped
# The memory freed since the last batches goes back to the system after a pause in typing this long,
# and every TRIM_EVERY_S of typing without one: `bench.soak`'s steady typing, which never pauses, had
# the daemon at 1.48 GB and growing 20 MB per 1,000 keystrokes, against a flat 1.08 GB with the trims.
IDLE_S = 1.0
TRIM_EVERY_S = 10.0


@dataclass
class Pending:
    request: p.InfillRequest
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    deadline: float | None
    dropped: str | None = None  # the error code once dropped
    received: float = field(default_factory=time.perf_counter)
    grown: Callable[[str], None] | None = None  # called in `loop` with the middle's text after each step
    predict_ms: float | None = None

    def job(self) -> Job:
        # Through the loop, so that the texts come in order and before the result (settle).
        grown = None if self.grown is None else lambda text: self.loop.call_soon_threadsafe(self.grown, text)
        return Job(self.request, self.alive, self.received, grown, self.predict_ms)

    def alive(self) -> bool:
        if self.dropped is None and self.deadline is not None and time.perf_counter() > self.deadline:
            self.dropped = p.DEADLINE
        return self.dropped is None

    def settle(self, result: p.InfillResult | None = None, code: str | None = None, message: str = "") -> None:
        """Resolve the future from any thread, once."""

        def apply():
            if self.future.done():
                return
            if code is None:
                self.future.set_result(result)
            else:
                self.future.set_exception(p.EngineError(code, message or code))

        self.loop.call_soon_threadsafe(apply)


class Scheduler:
    def __init__(self, load_engine: Callable[[], Engine], max_batch: int = 8, compile: bool = False):
        self.load_engine = load_engine
        self.max_batch = max_batch
        self.compile = compile
        self.compiling: BackgroundCompile | None = None
        self.engine: Engine | None = None
        self.load_error: Exception | None = None
        self.ready = threading.Event()
        self.queue: queue.Queue[Pending | None] = queue.Queue()
        self.by_id: dict[str, Pending] = {}
        self.latest_for_doc: dict[str, Pending] = {}
        self.lock = threading.Lock()
        self.on_load_failure: Callable[[], None] | None = None
        self.thread = threading.Thread(target=self._work, name="dg-engine-model", daemon=True)
        self.trimmed = time.monotonic()

    def start(self, on_load_failure: Callable[[], None] | None = None) -> None:
        """Start the model thread; `on_load_failure` is called from it if the model cannot load."""
        self.on_load_failure = on_load_failure
        self.thread.start()

    def stop(self) -> None:
        """Drop what is queued or running and wait for the model thread to end: a process that exits
        while that thread is still inside PyTorch can abort ("terminate called without an active
        exception")."""
        with self.lock:
            for pend in list(self.by_id.values()):
                self._drop(pend, p.SHUTTING_DOWN, "the engine is shutting down")
        self.queue.put(None)
        if self.thread.is_alive():
            self.thread.join(timeout=STOP_TIMEOUT_S)
        if self.compiling is not None:
            self.compiling.cancel()

    def submit(self, request: p.InfillRequest, grown: Callable[[str], None] | None = None,
               predict_ms: float | None = None) -> asyncio.Future:
        """Queue a request; its future resolves to an InfillResult or fails with EngineError. `grown`, if
        given, is called in this loop with the middle's text so far after each denoising step where the
        order writes from the left; `predict_ms` is Job's."""
        loop = asyncio.get_running_loop()
        deadline = None if request.deadline_ms is None else time.perf_counter() + request.deadline_ms / 1000
        pend = Pending(request, loop.create_future(), loop, deadline, grown=grown, predict_ms=predict_ms)
        if self.load_error is not None:
            pend.settle(code=p.LOAD_FAILED, message=f"the model failed to load: {self.load_error}")
            return pend.future
        with self.lock:
            if request.doc:
                older = self.latest_for_doc.get(request.doc)
                if older is not None:
                    self._drop(older, p.SUPERSEDED, f"superseded by request {request.id}")
                self.latest_for_doc[request.doc] = pend
            self.by_id[request.id] = pend
        self.queue.put(pend)
        return pend.future

    def cancel(self, id: str) -> bool:
        with self.lock:
            pend = self.by_id.get(id)
            if pend is not None:
                self._drop(pend, p.CANCELLED, "cancelled by the client")
        return pend is not None

    def _drop(self, pend: Pending, code: str, message: str) -> None:
        if pend.dropped is None:
            pend.dropped = code
        pend.settle(code=code, message=message)
        self._forget(pend)

    def _forget(self, pend: Pending) -> None:
        self.by_id.pop(pend.request.id, None)
        if self.latest_for_doc.get(pend.request.doc) is pend:
            del self.latest_for_doc[pend.request.doc]

    def status(self) -> p.Status:
        if self.engine is None or self.load_error is not None:  # loading, or it failed to
            return p.Status(model="", device="", dtype="", ready=False, queue_depth=self.queue.qsize(), requests=0,
                            ms_per_step=0.0, steps_per_infill=0.0, cache_hit_rate=0.0, uptime_s=0.0, pid=os.getpid(),
                            error="" if self.load_error is None else str(self.load_error))
        return self.engine.status(queue_depth=self.queue.qsize(), ready=self.ready.is_set())

    def _next_batch(self) -> list[Pending] | None:
        try:
            first = self.queue.get(timeout=IDLE_S)
        except queue.Empty:
            self._give_back()
            first = self.queue.get()
        else:
            if time.monotonic() - self.trimmed > TRIM_EVERY_S:
                self._give_back()
        if first is None:
            return None
        batch = [first]
        until = time.perf_counter() + BATCH_WINDOW_S
        while len(batch) < self.max_batch:
            try:
                item = self.queue.get(timeout=max(0.0, until - time.perf_counter()))
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)
                break
            batch.append(item)
        return batch

    def _give_back(self) -> None:
        native_memory.give_back()
        self.trimmed = time.monotonic()

    def _work(self) -> None:
        try:
            self.engine = self.load_engine()
            self.engine.warm_up()
        except Exception as exc:  # noqa: BLE001 - reported to every client, the daemon keeps answering
            log.exception("model failed to load")
            self.load_error = exc
            if self.on_load_failure is not None:
                self.on_load_failure()
            while (pend := self.queue.get()) is not None:
                pend.settle(code=p.LOAD_FAILED, message=f"the model failed to load: {exc}")
            return
        self.ready.set()
        log.info("model ready: %s", self.engine.status())
        if self.compile and self.engine.lm.device.type == "cpu":
            self.compiling = self.engine.compile_in_background()
        while (batch := self._next_batch()) is not None:
            live = [pend for pend in batch if pend.alive()]
            for pend in batch:
                if pend not in live:
                    with self.lock:
                        self._drop(pend, pend.dropped or p.CANCELLED, f"dropped before running ({pend.dropped})")
            if not live:
                continue
            try:
                results = self.engine.run([pend.job() for pend in live])
            except Exception as exc:  # noqa: BLE001 - one bad batch must not kill the daemon
                log.exception("infill failed")
                results = [exc] * len(live)
            with self.lock:
                for pend, result in zip(live, results):
                    if isinstance(result, p.InfillResult):
                        pend.settle(result)
                    elif isinstance(result, Exception):
                        pend.settle(code=p.INTERNAL, message=f"infill failed: {result}")
                    else:
                        pend.settle(code=pend.dropped or p.CANCELLED, message=f"dropped while running ({pend.dropped})")
                    self._forget(pend)

