"""LSP positions <-> Python str offsets, in the position encoding negotiated at initialize.

This is the one place that knows about lines and code units: everything behind the LSP edge works on
str offsets. Lines end at "\\n", "\\r\\n" or "\\r" only, as the LSP specification says; str.splitlines
would also split at form feeds and U+2028, which editors do not count as line breaks.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from lsprotocol import types

UTF8, UTF16, UTF32 = (types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16,
                      types.PositionEncodingKind.Utf32)

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def _units(text: str, encoding: str) -> int:
    """Length of text in the encoding's code units."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF16:
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    return len(text.encode("utf-8", "surrogatepass"))


class LineIndex:
    """Where each line of one text starts; built once per text version, on demand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        if "\r" in text:
            lengths = map(len, _LINE.findall(text))
        else:
            lengths = (len(line) + 1 for line in text.split("\n")[:-1])
        self.starts = [0, *accumulate(lengths)]

    def line_end(self, line: int) -> int:
        """Offset of the end of a line's content, before its line break."""
        end = self.starts[line + 1] if line + 1 < len(self.starts) else len(self.text)
        while end > self.starts[line] and self.text[end - 1] in "\r\n":
            end -= 1
        return end

    def offset(self, line: int, character: int, encoding: str, *, clamp: bool = False) -> int | None:
        """The str offset of an LSP position, or None for a position outside the text.

        With clamp, a position past the end of its line or of the text is moved to that end, as
        editors do for document changes; a request at such a position is a client error instead.
        """
        if line < 0 or character < 0:
            return None
        if line >= len(self.starts):
            return len(self.text) if clamp else None
        start, end = self.starts[line], self.line_end(line)
        if encoding == UTF32 or self.ascii:
            if start + character <= end:
                return start + character
            return end if clamp else None
        units = 0
        for i in range(start, end):
            if units >= character:
                return i if units == character or clamp else None
            units += _units(self.text[i], encoding)
        if units == character or clamp:
            return end
        return None

    def position(self, offset: int, encoding: str) -> types.Position:
        line = bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        return types.Position(line=line, character=_units(self.text[start:offset], encoding))
