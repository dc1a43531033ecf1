"""The engine a run talks to: the resident daemon (started when none answers), one in this process,
or an OpenAI-compatible server (--engine-url)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from engine.client import async_engine
from engine.in_process import InProcessEngine


@asynccontextmanager
async def open_engine(*, model_dir: Path | None, socket: str | None, in_process: bool, timeout: float,
                      engine_url: str | None = None, token: str | None = None, token_file: Path | None = None):
    """Yield an object with `async infill(prefix, suffix, max_tokens=, max_lines=, doc=, id=)`."""
    engine = InProcessEngine(model_dir) if in_process else async_engine(
        socket, model_dir, engine_url=engine_url, token=token, token_file=token_file, timeout=timeout)
    try:
        yield engine
    finally:
        await engine.close()
