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
        # Per run: where it starts in chars and in bytes, and its length in each. Lengths never
        # change when text elsewhere is edited, so an edit shifts two lists, not four.
        self._char_starts, self._byte_starts, self._char_lens, self._byte_lens = (
            ([], [], [], []) if self._ascii else _runs(text, 0, len(text), 0))

    def replaced(self, start: int, end: int, new_text: str, text: str) -> Utf8Index:
        """The index of `text`, which is this index's text with [start:end) replaced by new_text.

        Only runs touching the change are rescanned; later ones shift, so a keystroke in a large
        non-ASCII file costs a bisect and a list shift, not a scan of the file.
        """
        index = Utf8Index.__new__(Utf8Index)
        index._text = text
        index._ascii = text.isascii()
        if self._ascii and index._ascii:
            index._char_starts, index._byte_starts, index._char_lens, index._byte_lens = [], [], [], []
            return index
        starts, lens = self._char_starts, self._char_lens
        first = max(bisect_right(starts, start) - 1, 0)
        if first < len(starts) and starts[first] + lens[first] < start:
            first += 1
        after = bisect_right(starts, end)
        low = min(start, starts[first]) if first < after else start
        high = max(end, starts[after - 1] + lens[after - 1]) if first < after else end
        char_shift = len(new_text) - (end - start)
        byte_shift = len(encode(new_text)) - (self.to_byte(end) - self.to_byte(start))
        middle = _runs(text, low, high + char_shift, self.to_byte(low))
        index._char_starts = starts[:first] + middle[0] + [c + char_shift for c in starts[after:]]
        index._byte_starts = self._byte_starts[:first] + middle[1] + [b + byte_shift for b in self._byte_starts[after:]]
        index._char_lens = lens[:first] + middle[2] + lens[after:]
        index._byte_lens = self._byte_lens[:first] + middle[3] + self._byte_lens[after:]
        return index

    def to_byte(self, offset: int) -> int:
        if self._ascii:
            return offset
        i = bisect_right(self._char_starts, offset) - 1
        if i < 0:
            return offset
        run_start = self._char_starts[i]
        if offset < run_start + self._char_lens[i]:
            return self._byte_starts[i] + len(encode(self._text[run_start:offset]))
        return self._byte_starts[i] + self._byte_lens[i] + offset - run_start - self._char_lens[i]

    def to_char(self, byte: int) -> int:
        """The str offset of a byte offset; one inside a multi-byte character rounds down."""
        if self._ascii:
            return byte
        i = bisect_right(self._byte_starts, byte) - 1
        if i < 0:
            return byte
        offset, at = self._char_starts[i], self._byte_starts[i]
        if byte < at + self._byte_lens[i]:
            for char in self._text[offset:offset + self._char_lens[i]]:
                at += len(encode(char))
                if at > byte:
                    break
                offset += 1
            return offset
        return offset + self._char_lens[i] + byte - at - self._byte_lens[i]


def _runs(text: str, low: int, high: int, byte_low: int) -> tuple[list[int], list[int], list[int], list[int]]:
    """Runs of non-ASCII characters in text[low:high] as (char starts, byte starts, char lengths,
    byte lengths); byte_low is the byte offset of `low`."""
    char_starts: list[int] = []
    byte_starts: list[int] = []
    char_lens: list[int] = []
    byte_lens: list[int] = []
    extra = byte_low - low
    for run in _NON_ASCII_RUN.finditer(text, low, high):
        start, end = run.span()
        size = len(encode(run.group()))
        char_starts.append(start)
        byte_starts.append(start + extra)
        char_lens.append(end - start)
        byte_lens.append(size)
        extra += size - (end - start)
    return char_starts, byte_starts, char_lens, byte_lens
