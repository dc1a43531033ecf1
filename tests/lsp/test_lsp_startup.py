"""Before the engine is up: requests get an empty list at once, and the client sees progress."""

from __future__ import annotations

import asyncio
import time

import pytest
from lsprotocol import types

from engine.client import EngineClient
from engine.protocol import EngineError


@pytest.fixture
def fresh_socket(tmp_path):
    """A socket no daemon listens on yet: the server must start one and load the model."""
    path = str(tmp_path / "fresh.sock")
    yield path
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            EngineClient(path, autostart=False, timeout=120).shutdown()
            return
        except EngineError:
            time.sleep(0.2)


async def test_lsp_requests_before_the_engine_is_ready_get_no_items_at_once(lsp, fresh_socket):
    lsp.configure({"engineSocket": fresh_socket})
    for _ in range(100):
        st = await lsp.status()
        if st["engine"]["address"] == fresh_socket and st["state"] == "starting":
            break
        await asyncio.sleep(0.02)
    assert st["state"] == "starting", st["engine"]
    lsp.open("file:///work/example/early.py", "def early():\n    return \n")
    started = time.monotonic()
    assert await lsp.complete("file:///work/example/early.py", 1, len("    return ")) == []
    assert time.monotonic() - started < 1.0
    assert (await lsp.status())["model_calls"] == 0
    begun = [r for reports in lsp.client.progress_reports.values() for r in reports
             if isinstance(r, types.WorkDoneProgressBegin)]
    assert begun and all(r.message == "loading model" for r in begun)
