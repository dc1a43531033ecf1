"""The daemon killed mid-session: the next request gets an empty list at once, the user is told,
and the server brings a new daemon up and completes again."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from lsprotocol import types

URI = "file:///work/example/fib.py"
TEXT = "def fib(n):\n    if n < 2:\n        return n\n    return \n"
LINE, CHARACTER = 3, len("    return ")


async def test_lsp_recovers_after_the_daemon_is_killed(lsp):
    before = await lsp.wait_ready()
    old_pid = before["engine"]["status"]["pid"]
    lsp.open(URI, TEXT)
    await lsp.complete(URI, LINE, CHARACTER)
    assert (await lsp.status())["model_calls"] == 1

    os.kill(old_pid, signal.SIGKILL)
    await asyncio.sleep(0.5)  # the kernel closes the daemon's end of the socket
    # A context the server has not seen, so that no remembered answer hides the dead engine.
    lsp.edit(URI, (1, len("    if n < ")), (1, len("    if n < 2")), "3")
    started = time.monotonic()
    assert await lsp.complete(URI, LINE, CHARACTER) == []
    assert time.monotonic() - started < 2.0, "a request waited for the engine to come back"
    assert any(m.type == types.MessageType.Warning and "engine stopped" in m.message
               for m in lsp.client.messages)

    after = await lsp.wait_ready()
    assert after["engine"]["status"]["pid"] != old_pid
    # Progress "loading model" was shown again for the restart.
    assert sum(1 for reports in lsp.client.progress_reports.values()
               if any(getattr(r, "message", None) == "loading model" for r in reports)) == 2
    lsp.edit(URI, (1, len("    if n < ")), (1, len("    if n < 3")), "4")
    await lsp.complete(URI, LINE, CHARACTER)
    st = await lsp.status()
    assert st["model_calls"] == 2 and st["sources"].get("model", 0) == 2
    assert st["model_latency_ms"]["count"] >= 1, "the restarted engine did not answer"
