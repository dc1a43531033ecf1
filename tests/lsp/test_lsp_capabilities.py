"""initialize: capabilities, and the position encoding negotiated with the client."""

from __future__ import annotations

import pytest
from lsprotocol import types

UTF8, UTF16, UTF32 = (types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16,
                      types.PositionEncodingKind.Utf32)


async def test_lsp_initialize_capabilities(lsp):
    result = lsp.client.initialize_result
    caps = result.capabilities
    assert result.server_info.name == "dg-lsp"
    assert caps.inline_completion_provider is not None
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.text_document_sync.open_close
    assert "dg.status" in caps.execute_command_provider.commands
    assert caps.position_encoding == UTF16


@pytest.mark.parametrize("client, expected", [
    (["utf-8"], UTF8),
    (["utf-32", "utf-16"], UTF32),
    (["utf-16", "utf-8"], UTF16),
], indirect=["client"])
async def test_lsp_position_encoding_follows_the_client(lsp, expected):
    assert lsp.client.initialize_result.capabilities.position_encoding == expected
