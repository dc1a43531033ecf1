"""Conversion between Python str offsets and the UTF-8 byte offsets tree-sitter works in.

ASCII text (the common case) maps one to one. Otherwise the index records each run of non-ASCII
characters with its byte length, so a conversion is a bisect plus the encoding of at most one run.
"""

from __future__ import annotations

import re
from bisect import bisect_right

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def encode(text: str) -> bytes:
    # A str decoded from JSON can hold a lone surrogate; it must cost bytes, not an exception.
    return text.encode("utf-8", "surrogatepass")


class Utf8Index:
    def __init__(self, text: str) -> None:
        self._text = text
        self._ascii = text.isascii()
        self._char_starts: list[int] = []
        self._byte_starts: list[int] = []
        self._char_ends: list[int] = []
        self._byte_ends: list[int] = []
        if self._ascii:
            return
        extra = 0
        for run in _NON_ASCII_RUN.finditer(text):
            start, end = run.span()
            self._char_starts.append(start)
            self._byte_starts.append(start + extra)
            extra += len(encode(run.group())) - (end - start)
            self._char_ends.append(end)
            self._byte_ends.append(end + extra)

    def to_byte(self, offset: int) -> int:
        if self._ascii:
            return offset
        i = bisect_right(self._char_starts, offset) - 1
        if i < 0:
            return offset
        if offset < self._char_ends[i]:
            return self._byte_starts[i] + len(encode(self._text[self._char_starts[i]:offset]))
        return self._byte_ends[i] + offset - self._char_ends[i]

    def to_char(self, byte: int) -> int:
        """The str offset of a byte offset; one inside a multi-byte character rounds down."""
        if self._ascii:
            return byte
        i = bisect_right(self._byte_starts, byte) - 1
        if i < 0:
            return byte
        if byte < self._byte_ends[i]:
            offset, at = self._char_starts[i], self._byte_starts[i]
            for char in self._text[offset:self._char_ends[i]]:
                at += len(encode(char))
                if at > byte:
                    break
                offset += 1
            return offset
        return self._char_ends[i] + byte - self._byte_ends[i]
