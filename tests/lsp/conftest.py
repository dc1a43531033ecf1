"""End-to-end fixtures: the real dg-lsp over stdio, the real daemon, the embedded model.

The pytest session has an engine socket of its own in a temporary directory, passed to every server
as the engineSocket setting: the first server starts a daemon there, the others reuse it, and the
session shuts it down at the end. A user's own daemon is never touched.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from engine.client import EngineClient
from engine.protocol import EngineError

SERVER = [sys.executable, "-m", "lsp_server", "--stdio"]
READY_TIMEOUT_S = 300.0


def capabilities(encodings: list[str] | None = None) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings),
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(configuration=True),
        text_document=types.TextDocumentClientCapabilities(
            synchronization=types.TextDocumentSyncClientCapabilities(),
            inline_completion=types.InlineCompletionClientCapabilities(),
        ),
    )


@pytest.fixture(scope="session")
def engine_socket(tmp_path_factory):
    # A short path: Unix socket paths are limited to about 100 bytes.
    path = tmp_path_factory.mktemp("eng") / "engine.sock"
    yield str(path)
    try:
        EngineClient(str(path), autostart=False, timeout=10).shutdown()
    except EngineError:
        pass  # no test started the daemon, or it is already gone


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, request, engine_socket):
    # Parametrize indirectly with the position encodings the client offers (default: none, so UTF-16).
    encodings = getattr(request, "param", None)
    # No confidence gate: these tests follow completions through the pipeline, whatever the model's
    # confidence; the gate has tests of its own.
    options = {"engineSocket": engine_socket, "minConfidence": 0.0}
    lsp_client.initialize_result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities(encodings), initialization_options=options))
    yield
    await lsp_client.shutdown_session()


class Session:
    """A test's view of one server: documents, edits, requests, dg.status."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.versions: dict[str, int] = {}

    async def status(self) -> dict:
        return await self.client.workspace_execute_command_async(types.ExecuteCommandParams(command="dg.status"))

    async def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> dict:
        """Poll dg.status until the engine is up (the first test of a session waits for the model)."""
        deadline = time.monotonic() + timeout
        while True:
            st = await self.status()
            if st["state"] == "ready":
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"the engine did not come up within {timeout:.0f}s: {st['engine']}")
            await asyncio.sleep(0.2)

    def open(self, uri: str, text: str, language_id: str = "python") -> None:
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))

    def edit(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text)]))

    def configure(self, section: dict) -> None:
        self.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"dg": section}))

    @staticmethod
    def params(uri: str, line: int, character: int) -> types.InlineCompletionParams:
        return types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, character),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))

    async def complete(self, uri: str, line: int, character: int) -> list[types.InlineCompletionItem]:
        result = await self.client.text_document_inline_completion_async(self.params(uri, line, character))
        assert isinstance(result, types.InlineCompletionList), result
        return list(result.items)


@pytest.fixture
def lsp(client: LanguageClient) -> Session:
    return Session(client)


def offset_of(text: str, position: types.Position) -> int:
    """A position's offset in ASCII text with "\n" line breaks (characters are UTF-16 units)."""
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[:position.line]) + position.character


@pytest.fixture
def accept():
    """Apply an item to a text, as an editor does when the user accepts it."""
    def apply(text: str, item: types.InlineCompletionItem) -> str:
        return text[:offset_of(text, item.range.start)] + item.insert_text + text[offset_of(text, item.range.end):]
    return apply


class RawServer:
    """dg-lsp over stdio, driven byte by byte: for frames and messages no well-behaved client sends."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ids = 0

    @staticmethod
    def frame(message: dict | bytes) -> bytes:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    def request(self, method: str, params=None) -> int:
        """Send a request; returns its id."""
        self.ids += 1
        self.send(self.frame({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}))
        return self.ids

    def notify(self, method: str, params=None) -> None:
        self.send(self.frame({"jsonrpc": "2.0", "method": method, "params": params}))

    async def response(self, timeout: float = 60) -> dict:
        """The next response the server sends (its notifications and requests are skipped)."""
        while True:
            header = await asyncio.wait_for(self.proc.stdout.readuntil(b"\r\n\r\n"), timeout)
            length = int(re.search(rb"Content-Length: (\d+)", header).group(1))
            message = json.loads(await asyncio.wait_for(self.proc.stdout.readexactly(length), timeout))
            if "method" not in message:
                return message

    async def initialize(self, options: dict | None = None) -> None:
        self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {},
                                    "initializationOptions": options or {"enabled": False}})
        assert "result" in await self.response()
        self.notify("initialized", {})

    async def completion(self, uri: str, line: int, character: int) -> dict:
        """A well-formed inlineCompletion request, and its response."""
        msg_id = self.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 2}})
        reply = await self.response()
        assert reply["id"] == msg_id, reply
        return reply


@pytest.fixture
async def raw():
    proc = await asyncio.create_subprocess_exec(*SERVER, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                                                limit=2**26)
    yield RawServer(proc)
    if proc.returncode is None:
        proc.kill()
    await proc.wait()
