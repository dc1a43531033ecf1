"""A text document and its tree-sitter tree, kept up to date incrementally as the text is edited."""

from __future__ import annotations

from collections.abc import Callable

import tree_sitter

from infill.languages import Language, resolve
from infill.offsets import Utf8Index, encode

# Above this size a document gets neither tree nor completion: a first parse of a generated
# file of megabytes takes seconds (a megabyte of minified JavaScript, about one), and such files
# give the model little to work with.
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
        # UTF-8 of the text, edited in place: a keystroke moves the tail, it allocates no new copy.
        self._data = bytearray(encode(text))
        self._index: Utf8Index | None = None
        self._tree: tree_sitter.Tree | None = None
        self._stale = True
        # A known (offset, row): rows are counted from it, and keystrokes stay near it.
        self._row_anchor = (0, 0)

    def apply_change(self, start: int, end: int, new_text: str) -> None:
        """Replace text[start:end] with new_text; the tree is edited now and reparsed when next read."""
        if not 0 <= start <= end <= len(self._text):
            raise ValueError(f"change {start}:{end} outside a document of {len(self._text)} characters")
        edit = self._edit(start, end, new_text)
        if self._tree is not None:
            self._tree.edit(*edit)
        start_byte, old_end_byte = edit[0], edit[1]
        text = self._text[:start] + new_text + self._text[end:]
        self._index = self.index.replaced(start, end, new_text, text)
        self._data[start_byte:old_end_byte] = encode(new_text)
        self._text = text
        self._row_anchor = (start, edit[3][0])
        self._stale = True
        self.version += 1
        if self.too_large:
            self._tree = None

    def parse_replacement(self, start: int, end: int, new_text: str,
                          work_limit: int) -> tuple[tree_sitter.Tree, tree_sitter.Tree] | None:
        """Parse the document as if text[start:end] were new_text, leaving the document as it is.

        Returns (current tree edited to the new coordinates, new tree), so the two can be compared
        with Tree.changed_ranges. None for plain text, and for a parse that needs more than
        `work_limit` progress reports (tree-sitter reports about every hundred parse operations):
        in error recovery it may reparse thousands of lines. Counting work rather than time keeps
        the outcome the same on a busy machine.
        """
        tree = self.tree
        if tree is None:
            return None
        edit = self._edit(start, end, new_text)
        edited = tree.copy()
        edited.edit(*edit)
        reports = 0

        def over_limit(*_: object) -> bool:
            nonlocal reports
            reports += 1
            return reports > work_limit

        try:
            new = self._parser.parse(_spliced_reader(self._data, edit[0], edit[1], encode(new_text)), edited,
                                     progress_callback=over_limit)
        except ValueError:
            # Cancelled: without a reset the parser would resume this parse on its next call.
            self._parser.reset()
            return None
        return edited, new

    def _edit(self, start: int, end: int, new_text: str) -> Edit:
        index = self.index
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
        return self._row(offset), byte - self.index.to_byte(line_start)

    def _row(self, offset: int) -> int:
        at, row = self._row_anchor
        if offset >= at:
            row += self._text.count("\n", at, offset)
        else:
            row -= self._text.count("\n", offset, at)
        self._row_anchor = (offset, row)
        return row


Read = Callable[[int, tuple[int, int]], bytes]
# py-tree-sitter 0.26 keeps a reference to every bytes object a read callback returns, for good: a
# reader that sliced the document leaked what it read on every parse (issue #20). These 256 objects
# are all the reader ever returns, so what it keeps is bounded by them. Bytes, not a buffer: a parse
# from a buffer ignores the progress callback that bounds its work.
_BYTE = [bytes([b]) for b in range(256)]


def _spliced_reader(data: bytearray, start: int, end: int, new: bytes) -> Read:
    """A tree-sitter read callback over data[:start] + new + data[end:], a byte at a time, without
    building it: a copy of a large document per check costs more than the parse of a small edit."""
    shift = end - start - len(new)

    def read(byte: int, _point: tuple[int, int]) -> bytes:
        if byte < start:
            return _BYTE[data[byte]]
        if byte < start + len(new):
            return _BYTE[new[byte - start]]
        byte += shift
        return _BYTE[data[byte]] if byte < len(data) else b""
    return read
