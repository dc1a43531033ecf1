"""End-to-end fixtures: the real dg-lsp over stdio, the real daemon, the embedded model.

The pytest session has an engine socket of its own in a temporary directory, passed to every server
as the engineSocket setting: the first server starts a daemon there, the others reuse it, and the
session shuts it down at the end. A user's own daemon is never touched.
"""

from __future__ import annotations

import asyncio
import sys
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from engine.client import EngineClient, EngineUnavailable

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
    except EngineUnavailable:
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
