"""Client mistakes get JSON-RPC's answers and cost nothing else: every request is answered exactly
once, a bad frame costs that frame, and the server still answers a normal request afterwards."""

from __future__ import annotations

import json

URI = "file:///work/example/a.py"
INVALID_PARAMS, PARSE_ERROR, NOT_INITIALIZED = -32602, -32700, -32002


async def open_document(raw) -> None:
    raw.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python", "version": 1,
                                                         "text": "def f():\n    return 1\n"}})


async def test_lsp_a_negative_position_gets_invalid_params(raw):
    await raw.initialize()
    await open_document(raw)
    msg_id = raw.request("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": -1, "character": 0}, "context": {"triggerKind": 2}})
    reply = await raw.response()
    assert reply["id"] == msg_id and reply["error"]["code"] == INVALID_PARAMS
    assert (await raw.completion(URI, 1, 4))["result"] == {"items": []}


async def test_lsp_params_of_the_wrong_type_get_invalid_params(raw):
    await raw.initialize()
    await open_document(raw)
    for params in ("a string", {"textDocument": {"uri": URI}, "position": "here", "context": {}}, None):
        msg_id = raw.request("textDocument/inlineCompletion", params)
        reply = await raw.response()
        assert reply["id"] == msg_id and reply["error"]["code"] == INVALID_PARAMS, reply
    assert (await raw.completion(URI, 1, 4))["result"] == {"items": []}


async def test_lsp_a_body_that_is_not_json_gets_a_parse_error(raw):
    await raw.initialize()
    raw.send(raw.frame(b'{"jsonrpc": "2.0", "id": 7, "method": '))
    reply = await raw.response()
    assert reply["id"] is None and reply["error"]["code"] == PARSE_ERROR
    assert (await raw.completion(URI, 0, 0))["result"] == {"items": []}


async def test_lsp_a_short_content_length_costs_only_its_frame(raw):
    await raw.initialize()
    await open_document(raw)
    body = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "workspace/executeCommand",
                       "params": {"command": "dg.status"}}).encode()
    raw.send(b"Content-Length: %d\r\n\r\n" % (len(body) - 5) + body)
    assert (await raw.response())["error"]["code"] == PARSE_ERROR
    assert (await raw.completion(URI, 1, 4))["result"] == {"items": []}


async def test_lsp_a_long_content_length_costs_only_its_frame(raw):
    await raw.initialize()
    await open_document(raw)
    body = b'{"jsonrpc": "2.0", "id": 98, "method": "shutdown"}'
    raw.send(b"Content-Length: %d\r\n\r\n" % (len(body) + 40) + body)
    # The next frame shows where the bad one ended: both are answered, in order.
    msg_id = raw.request("workspace/executeCommand", {"command": "dg.status"})
    assert (await raw.response())["error"]["code"] == PARSE_ERROR
    reply = await raw.response()
    assert reply["id"] == msg_id and reply["result"]["server"]["name"] == "dg-lsp"


async def test_lsp_a_request_before_initialize_gets_not_initialized_without_a_traceback(raw):
    msg_id = raw.request("workspace/executeCommand", {"command": "dg.status"})
    reply = await raw.response()
    assert reply["id"] == msg_id and reply["error"]["code"] == NOT_INITIALIZED
    assert "data" not in reply["error"] or not reply["error"]["data"]
    await raw.initialize()
    assert (await raw.completion(URI, 0, 0))["result"] == {"items": []}
