"""dg-lsp with the engineUrl setting: the real server over stdio, the real `dg-engine serve --http`
as the remote engine, the real model. A server that is down is reported and completions come once it
is up; a restarted server is reconnected to; a refused token says where the token comes from."""

from __future__ import annotations

import asyncio
import os
import time

from lsprotocol import types

from tests.http_daemon import TOKEN, Served

TEXT = "def fib(n):\n    if n < 2:\n        return n\n    return \n"
LINE, CHARACTER = 3, len("    return ")
HANG_GUARD_S = 300.0  # not a measure: only ends a hung test


async def shown(lsp, words: str) -> list[types.ShowMessageParams]:
    """The messages shown so far that contain `words`, once there is one."""
    started = time.monotonic()
    while not (found := [m for m in lsp.client.messages if words in m.message]):
        assert time.monotonic() - started < HANG_GUARD_S, (await lsp.status())["engine"]
        await asyncio.sleep(0.1)
    return found


async def answered(lsp, uri: str, calls_before: int) -> dict:
    """Ask at the cursor of `uri` until the remote engine has answered once more; the status then."""
    started = time.monotonic()
    while True:
        await lsp.complete(uri, LINE, CHARACTER)
        st = await lsp.status()
        if st["model_latency_ms"]["count"] > calls_before:
            return st
        assert time.monotonic() - started < HANG_GUARD_S, st["engine"]
        await asyncio.sleep(0.5)


async def test_lsp_remote_engine_down_up_and_restarted(lsp, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    server = Served(tmp_path, dict(os.environ))
    try:
        lsp.configure({"engineUrl": server.url, "engineTokenFile": str(token_file)})
        lsp.open("file:///work/remote/a.py", TEXT)
        assert await lsp.complete("file:///work/remote/a.py", LINE, CHARACTER) == []
        report = await shown(lsp, f"cannot use the engine at {server.url}")
        assert len(report) == 1 and "dg.engineUrl" in report[0].message
        st = await lsp.status()
        assert st["state"] == "failed" and st["engine"]["address"] == server.url

        await asyncio.to_thread(server.up)
        st = await answered(lsp, "file:///work/remote/a.py", 0)
        assert st["state"] == "ready" and st["model"] == "dg-tiny" and st["device"] == f"remote {server.url}"
        # What the model covers and its calibrated defaults come from the server, as from a local daemon.
        engine = st["engine"]["status"]
        assert engine["languages"] == ["python"] and engine["min_confidence"] is not None

        await asyncio.to_thread(server.down)
        # A context the server has not seen, so that no remembered answer hides the missing engine.
        lsp.open("file:///work/remote/b.py", TEXT.replace("n < 2", "n < 3"))
        started = time.monotonic()
        assert await lsp.complete("file:///work/remote/b.py", LINE, CHARACTER) == []
        assert time.monotonic() - started < 2.0, "a request waited for the engine to come back"
        assert (await shown(lsp, "engine stopped"))[0].type == types.MessageType.Warning

        await asyncio.to_thread(server.up)
        st = await answered(lsp, "file:///work/remote/b.py", st["model_latency_ms"]["count"])
        assert st["state"] == "ready"
    finally:
        await asyncio.to_thread(server.down)


async def test_lsp_remote_engine_refusing_the_token(lsp, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("not-the-token-of-this-server")
    server = Served(tmp_path, dict(os.environ))
    await asyncio.to_thread(server.up)
    try:
        lsp.configure({"engineUrl": server.url, "engineTokenFile": str(token_file)})
        report = await shown(lsp, "refused the token")
        assert "DG_ENGINE_TOKEN" in report[0].message and "dg.engineTokenFile" in report[0].message
        assert (await lsp.status())["state"] == "failed"
        lsp.open("file:///work/remote/c.py", TEXT)
        assert await lsp.complete("file:///work/remote/c.py", LINE, CHARACTER) == []
    finally:
        await asyncio.to_thread(server.down)
