"""The engine inside the calling process, with the async API of `AsyncEngineClient`.

For `dg-infill --in-process` and the benchmarks: no daemon, no socket. The serving side (torch) is
imported when one is made, so importing this module stays light.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from engine import DEFAULT_MODEL_DIR
from engine import protocol as p


class InProcessEngine:
    def __init__(self, model_dir=None, **engine_kwargs):
        from engine.serve.engine import Engine
        from engine.serve.scheduler import Scheduler

        self.scheduler = Scheduler(lambda: Engine(model_dir or DEFAULT_MODEL_DIR, **engine_kwargs))
        self.scheduler.start()
        self._ids = 0

    async def infill(self, prefix: str, suffix: str, *, max_tokens: int = 24, doc: str = "",
                     deadline_ms: int | None = None, id: str | None = None,
                     max_lines: int | None = None, gate: float | None = None,
                     word_ends: Sequence[str] = (), trace: bool = False) -> p.InfillResult:
        """The result, or EngineError with the code the daemon would have replied."""
        self._ids += 1
        request = p.infill_request(id or f"i{self._ids}", prefix, suffix, max_tokens=max_tokens, doc=doc,
                                   deadline_ms=deadline_ms, max_lines=max_lines, gate=gate, word_ends=word_ends,
                                   trace=trace)
        return await self.scheduler.submit(request)

    async def cancel(self, id: str) -> None:
        self.scheduler.cancel(id)

    async def status(self) -> p.Status:
        return self.scheduler.status()

    async def close(self) -> None:
        await asyncio.to_thread(self.scheduler.stop)
