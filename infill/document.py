"""A text document and its tree-sitter tree, kept up to date incrementally as the text is edited."""

from __future__ import annotations

import tree_sitter

from infill.languages import Language, resolve
from infill.offsets import Utf8Index, encode

# Above this size a document is served as neither tree nor completion: parsing a generated
# multi-megabyte file on every keystroke would stall the editor for no useful context.
MAX_CHARS = 4_000_000

Edit = tuple[int, int, int, tuple[int, int], tuple[int, int], tuple[int, int]]


class Document:
    def __init__(self, text: str, language_id: str | None = None, path: str | None = None) -> None:
        self.path = path
        self.language: Language | None = resolve(language_id, path)
        self._parser = self.language.parser() if self.language is not None else None
        # Counts changes, so caches keyed on a document can tell they are stale.
        self.version = -1
        self.replace_all(text)

    @property
    def text(self) -> str:
        return self._text

    @property
    def data(self) -> bytes:
        """The text as UTF-8, the buffer the tree's byte offsets refer to."""
        return self._data

    @property
    def too_large(self) -> bool:
        return len(self._text) > MAX_CHARS

    @property
    def index(self) -> Utf8Index:
        if self._index is None:
            self._index = Utf8Index(self._text)
        return self._index

    @property
    def tree(self) -> tree_sitter.Tree | None:
        """The syntax tree of the current text; None for plain text and oversized documents."""
        if self._parser is None or self.too_large:
            return None
        if self._stale:
            old = self._tree
            self._tree = self._parser.parse(self._data, old) if old is not None else self._parser.parse(self._data)
            self._stale = False
        return self._tree

    def replace_all(self, text: str) -> None:
        self.version += 1
        self._text = text
        self._data = encode(text)
        self._index: Utf8Index | None = None
        self._tree: tree_sitter.Tree | None = None
        self._stale = True

    def apply_change(self, start: int, end: int, new_text: str) -> None:
        """Replace text[start:end] with new_text; the tree is edited now and reparsed when next read."""
        if not 0 <= start <= end <= len(self._text):
            raise ValueError(f"change {start}:{end} outside a document of {len(self._text)} characters")
        edit = self._edit(start, end, new_text)
        if self._tree is not None:
            self._tree.edit(*edit)
        start_byte, old_end_byte = edit[0], edit[1]
        self._data = self._data[:start_byte] + encode(new_text) + self._data[old_end_byte:]
        self._text = self._text[:start] + new_text + self._text[end:]
        self._index = None
        self._stale = True
        self.version += 1
        if self.too_large:
            self._tree = None

    def parse_replacement(self, start: int, end: int, new_text: str) -> tuple[tree_sitter.Tree, tree_sitter.Tree] | None:
        """Parse the document as if text[start:end] were new_text, leaving the document as it is.

        Returns (current tree edited to the new coordinates, new tree), so the two can be compared
        with Tree.changed_ranges; None for plain text.
        """
        tree = self.tree
        if tree is None:
            return None
        edit = self._edit(start, end, new_text)
        edited = tree.copy()
        edited.edit(*edit)
        data = self._data[:edit[0]] + encode(new_text) + self._data[edit[1]:]
        return edited, self._parser.parse(data, edited)

    def _edit(self, start: int, end: int, new_text: str) -> Edit:
        text, index = self._text, self.index
        start_byte, end_byte = index.to_byte(start), index.to_byte(end)
        new_bytes = encode(new_text)
        start_point = self._point(start, start_byte)
        end_point = self._point(end, end_byte)
        newlines = new_text.count("\n")
        if newlines:
            new_end_point = (start_point[0] + newlines, len(encode(new_text[new_text.rfind("\n") + 1:])))
        else:
            new_end_point = (start_point[0], start_point[1] + len(new_bytes))
        return start_byte, end_byte, start_byte + len(new_bytes), start_point, end_point, new_end_point

    def _point(self, offset: int, byte: int) -> tuple[int, int]:
        # tree-sitter counts rows at "\n" only; a "\r" before it is an ordinary column.
        line_start = self._text.rfind("\n", 0, offset) + 1
        return self._text.count("\n", 0, offset), byte - self.index.to_byte(line_start)
