"""The bad-model matrix in the editor: a broken modelDir is reported once, with a message that says
what to fix, without waiting for any timeout, and the daemon started for it does not stay behind."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.bad_models import CASES

HANG_GUARD_S = 120.0  # not a measure: the report comes within seconds; this only ends a hung test


def processes_mentioning(text: str) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:
            pass  # the process ended meanwhile
    return pids


@pytest.mark.parametrize("make, says", CASES.items(), ids=[f.__name__ for f in CASES])
async def test_lsp_a_bad_model_is_reported_and_leaves_no_daemon(lsp, make, says, tmp_path):
    model, sock = tmp_path / "model", str(tmp_path / "e.sock")
    make(model)
    lsp.configure({"modelDir": str(model), "engineSocket": sock})
    started = time.monotonic()
    while not (reports := [m.message for m in lsp.client.messages if "could not start" in m.message]):
        assert time.monotonic() - started < HANG_GUARD_S, (await lsp.status())["engine"]
        await asyncio.sleep(0.05)
    print(f"{make.__name__}: reported after {time.monotonic() - started:.1f} s")
    assert len(reports) == 1 and says in reports[0], reports
    assert (await lsp.status())["state"] == "failed"
    while processes_mentioning(sock):
        assert time.monotonic() - started < HANG_GUARD_S, "the daemon for the bad model is still running"
        await asyncio.sleep(0.1)
