"""The open documents: LSP text sync applied to infill Documents (incremental tree-sitter).

dg keeps one copy of each document, this one, instead of pygls' workspace copy (see protocol.py):
positions in changes are converted here against the text they refer to, once, at the LSP edge.
"""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.uris import to_fs_path

from infill import Document
from lsp_server.positions import LineIndex

log = logging.getLogger(__name__)


class OpenDocument:
    def __init__(self, uri: str, language_id: str, version: int, text: str) -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self.doc = Document(text, language_id, to_fs_path(uri) or uri)
        self._index: LineIndex | None = None

    @property
    def index(self) -> LineIndex:
        # The index belongs to one text; any change makes a new one when a position is next read.
        if self._index is None or self._index.text is not self.doc.text:
            self._index = LineIndex(self.doc.text)
        return self._index

    def offset(self, position: types.Position, encoding: str) -> int | None:
        """The str offset of a request position, None when it is not in the document."""
        return self.index.offset(position.line, position.character, encoding)

    def apply(self, change: types.TextDocumentContentChangeEvent, encoding: str) -> None:
        if not isinstance(change, types.TextDocumentContentChangePartial):
            self.doc.replace_all(change.text)
            return
        index = self.index
        start = index.offset(change.range.start.line, change.range.start.character, encoding, clamp=True)
        end = index.offset(change.range.end.line, change.range.end.character, encoding, clamp=True)
        if start is None or end is None:
            # Negative line or character: no editor sends that; dropping it beats a crash.
            log.warning("%s: ignoring a change at an invalid range %s", self.uri, change.range)
            return
        start, end = min(start, end), max(start, end)
        self.doc.apply_change(start, end, change.text)


class DocumentStore:
    def __init__(self) -> None:
        self._docs: dict[str, OpenDocument] = {}

    def open(self, item: types.TextDocumentItem) -> OpenDocument:
        doc = OpenDocument(item.uri, item.language_id, item.version, item.text)
        self._docs[item.uri] = doc
        return doc

    def change(self, params: types.DidChangeTextDocumentParams, encoding: str) -> OpenDocument | None:
        doc = self._docs.get(params.text_document.uri)
        if doc is None:
            log.warning("change to %s, which is not open", params.text_document.uri)
            return None
        for change in params.content_changes:
            doc.apply(change, encoding)
        doc.version = params.text_document.version
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> OpenDocument | None:
        return self._docs.get(uri)

    def __iter__(self):
        return iter(self._docs.values())
