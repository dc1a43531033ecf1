"""The engine a run talks to: the resident daemon (started when none answers) or one in this process."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from engine.client import AsyncEngineClient


@asynccontextmanager
async def open_engine(*, model_dir: Path | None, socket: str | None, in_process: bool, timeout: float):
    """Yield an object with `async infill(prefix, suffix, max_tokens=, max_lines=, doc=, id=)`."""
    if in_process:
        # Imported here: it loads torch, which a run against the daemon never needs.
        from engine.scheduler import InProcessEngine

        engine = InProcessEngine(model_dir)
    else:
        engine = AsyncEngineClient(socket, model_dir, timeout=timeout)
    try:
        yield engine
    finally:
        await engine.close()
