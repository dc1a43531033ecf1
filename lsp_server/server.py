"""The dg-lsp language server: thin LSP handlers over the session core (core.py).

Positions are converted here and nowhere else (see positions.py). This module imports only pygls,
lsprotocol and light modules: `initialize` must answer within a second of the process start, and
pygls with lsprotocol already take about two thirds of that. The core is imported at `initialized`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from functools import cached_property
from typing import Any

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer

from lsp_server import __version__
from lsp_server.positions import UTF16
from lsp_server.protocol import DgProtocol
from lsp_server.stats import Stats
from lsp_server.ui import UserInterface

log = logging.getLogger(__name__)

SECTION = "dg"  # infill.settings.SECTION, named here to keep infill off the startup path
STATUS_COMMAND = "dg.status"
CONFIGURATION_TIMEOUT_S = 5.0
_EMPTY = types.InlineCompletionList(items=[])


class DgLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("dg-lsp", __version__, protocol_cls=DgProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.stats = Stats()
        self.ui = UserInterface(self)
        self.initialization_options: Any = None

    @cached_property
    def core(self):
        from lsp_server.core import Core
        return Core(self.ui, self.stats)

    @property
    def encoding(self) -> str:
        return self.workspace.position_encoding or UTF16

    async def pull_settings(self) -> None:
        """workspace/configuration for the "dg" section, where the client supports it."""
        if not get_capability(self.client_capabilities, "workspace.configuration", False):
            return
        try:
            sections = await asyncio.wait_for(self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])),
                CONFIGURATION_TIMEOUT_S)
        except Exception as exc:  # a client that cannot answer keeps the settings it sent before
            log.warning("workspace/configuration failed: %s", exc)
            return
        if sections:
            self.core.apply_settings(sections[0])


server = DgLanguageServer()


def _section(value: Any) -> Any:
    """The "dg" section of settings sent either as the section itself or wrapped as {"dg": {...}}."""
    if isinstance(value, dict) and isinstance(value.get(SECTION), dict):
        return value[SECTION]
    return value


@server.feature(types.INITIALIZE)
def initialize(ls: DgLanguageServer, params: types.InitializeParams) -> None:
    # Applied at `initialized`, with the core: nothing needs the settings before that.
    ls.initialization_options = _section(params.initialization_options)


@server.feature(types.INITIALIZED)
async def initialized(ls: DgLanguageServer, params: types.InitializedParams) -> None:
    ls.core.apply_settings(ls.initialization_options)
    await ls.pull_settings()
    ls.core.link.activate()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: DgLanguageServer, params: types.DidChangeConfigurationParams) -> None:
    # VS Code and Neovim push {"dg": {...}}; other clients send null and expect a pull.
    if isinstance(params.settings, dict) and SECTION in params.settings:
        ls.core.apply_settings(params.settings[SECTION])
    else:
        await ls.pull_settings()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: DgLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.core.documents.open(params.text_document)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: DgLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.core.documents.change(params, ls.encoding)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DgLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.core.documents.close(params.text_document.uri)
    ls.core.completer.forget(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(ls: DgLanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    od = ls.core.documents.get(params.text_document.uri)
    if od is None:
        return _EMPTY
    encoding = ls.encoding
    offset = od.offset(params.position, encoding)
    if offset is None:
        log.info("%s: no completion at %s, which is outside the document", od.uri, params.position)
        return _EMPTY
    invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
    completion = await ls.core.completer.complete(od, offset, invoked=invoked)
    if completion is None:
        return _EMPTY
    index = od.index
    rng = types.Range(start=index.position(completion.start, encoding), end=index.position(completion.end, encoding))
    return types.InlineCompletionList(items=[types.InlineCompletionItem(insert_text=completion.text, range=rng)])


@server.command(STATUS_COMMAND)
async def status(ls: DgLanguageServer, *args) -> dict:
    return {
        "server": {"name": "dg-lsp", "version": __version__, "pid": os.getpid(), "python": sys.version.split()[0],
                   "encoding": ls.encoding},
        **await ls.core.status(),
    }


@server.feature(types.SHUTDOWN)
async def shutdown(ls: DgLanguageServer, params: None) -> None:
    # The daemon stays up: other editors and the CLI share it, and the next session starts warm.
    await ls.core.link.close()
