"""The engine a run talks to: the resident daemon (started when none answers) or one in this process."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from engine.client import AsyncEngineClient
from engine.in_process import InProcessEngine


@asynccontextmanager
async def open_engine(*, model_dir: Path | None, socket: str | None, in_process: bool, timeout: float):
    """Yield an object with `async infill(prefix, suffix, max_tokens=, max_lines=, doc=, id=)`."""
    engine = InProcessEngine(model_dir) if in_process else AsyncEngineClient(socket, model_dir, timeout=timeout)
    try:
        yield engine
    finally:
        await engine.close()
