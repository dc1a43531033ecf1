"""What a keystroke leaves behind in the server: nothing that grows with the number of keystrokes.

dg-lsp grew about 2 KB a keystroke (issue #20): pygls kept a Future for every notification handled by
a generator handler (didChange among them) and never dropped it. The server here is the real one,
in this process, fed messages through its own stream handler.
"""

from __future__ import annotations

import asyncio

from lsp_server.server import server
from lsp_server.stream import handle_message

URI = "file:///work/example/typed.py"


class Discard:
    """The transport: the answers are not what this test is about."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def send(method: str, params, msg_id: int | None = None) -> None:
    message = {"jsonrpc": "2.0", "method": method, "params": params}
    if msg_id is not None:
        message["id"] = msg_id
    handle_message(server.protocol, message)


async def test_lsp_keystrokes_leave_no_futures_behind():
    server.protocol.set_writer(Discard())
    send("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                        "initializationOptions": {"enabled": False}}, 1)
    send("initialized", {})
    send("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": ""}})
    for version in range(2, 502):
        send("textDocument/didChange", {
            "textDocument": {"uri": URI, "version": version},
            "contentChanges": [{"range": {"start": {"line": 0, "character": version - 2},
                                          "end": {"line": 0, "character": version - 2}}, "text": "x"}]})
        send("textDocument/inlineCompletion", {"textDocument": {"uri": URI},
                                               "position": {"line": 0, "character": version - 1},
                                               "context": {"triggerKind": 2}}, version)
    for _ in range(100):  # let the async handlers finish
        await asyncio.sleep(0.01)
    assert server.core.documents.get(URI).doc.text == "x" * 500
    assert len(server.protocol._request_futures) < 5
