"""$/cancelRequest and supersession: neither leaves a request hanging or the engine busy."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled

URI = "file:///work/example/walk.py"
TEXT = ("import os\n\n\ndef count_files(root):\n    count = 0\n"
        "    for dirpath, dirnames, filenames in os.walk(root):\n        count += \n    return count\n")
LINE, CHARACTER = 6, len("        count += ")


async def _wait_model_call(lsp, calls: int) -> None:
    """Until the server has sent the request to the engine."""
    for _ in range(500):
        if (await lsp.status())["model_calls"] >= calls:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the request never reached the engine")


async def test_lsp_cancel_request_stops_it(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    protocol = lsp.client.protocol
    pending = asyncio.ensure_future(protocol.send_request_async(
        types.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.params(URI, LINE, CHARACTER), msg_id="cancel-me"))
    await _wait_model_call(lsp, 1)
    protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(pending, 5)
    st = await lsp.status()
    assert st["sources"] == {"cancelled": 1}
    # The server and the engine keep serving.
    assert isinstance(await lsp.client.text_document_inline_completion_async(lsp.params(URI, LINE, CHARACTER)),
                      types.InlineCompletionList)
    st = await lsp.status()
    assert st["sources"].get("model") == 1
    assert st["model_latency_ms"]["count"] == 1, "the engine did not answer after a cancellation"


async def test_lsp_newer_request_supersedes_the_older_at_once(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    older = asyncio.ensure_future(lsp.client.text_document_inline_completion_async(lsp.params(URI, LINE, CHARACTER)))
    await _wait_model_call(lsp, 1)
    lsp.edit(URI, (LINE, CHARACTER), (LINE, CHARACTER), "i")
    newer = asyncio.ensure_future(
        lsp.client.text_document_inline_completion_async(lsp.params(URI, LINE, CHARACTER + 1)))
    result = await asyncio.wait_for(older, 5)
    assert isinstance(result, types.InlineCompletionList) and not result.items
    assert not newer.done(), "the older request waited for the newer one's model call"
    assert isinstance(await newer, types.InlineCompletionList)
    st = await lsp.status()
    assert st["sources"]["cancelled"] == 1 and st["sources"].get("model") == 1
    assert st["model_calls"] == 2
    assert st["model_latency_ms"]["count"] == 1, "the newer request got no answer from the engine"


async def test_lsp_debounce_lets_a_newer_keystroke_skip_the_model(lsp):
    await lsp.wait_ready()
    lsp.configure({"debounceMs": 300})
    for _ in range(100):
        if (await lsp.status())["settings"]["debounceMs"] == 300:
            break
        await asyncio.sleep(0.02)
    lsp.open(URI, TEXT)
    older = asyncio.ensure_future(lsp.client.text_document_inline_completion_async(lsp.params(URI, LINE, CHARACTER)))
    await asyncio.sleep(0.05)
    lsp.edit(URI, (LINE, CHARACTER), (LINE, CHARACTER), "1")
    newer = asyncio.ensure_future(
        lsp.client.text_document_inline_completion_async(lsp.params(URI, LINE, CHARACTER + 1)))
    assert not (await asyncio.wait_for(older, 5)).items
    await newer
    st = await lsp.status()
    assert st["model_calls"] == 1, "the superseded keystroke reached the model"
    assert st["sources"]["cancelled"] == 1
