"""Holes: the ranges of a file that the model fills, found by marker, position (--at) or line span (--span).

A hole is opened by removing its range from the text, so the model sees neither the marker nor the
code being regenerated; when the hole is not filled, its original text goes back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


class HoleError(ValueError):
    """A --at or --span that does not name a place in the file."""


@dataclass(frozen=True)
class Hole:
    start: int  # str offsets in the file's text
    end: int
    line: int  # 1-based line and column (in characters) of `start`
    col: int

    def original(self, text: str) -> str:
        return text[self.start:self.end]


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a str offset; lines end at "\\n"."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def find_markers(text: str, marker: str) -> list[Hole]:
    if not marker:
        raise ValueError("the marker is empty")
    holes = []
    start = text.find(marker)
    while start >= 0:
        holes.append(Hole(start, start + len(marker), *position(text, start)))
        start = text.find(marker, start + len(marker))
    return holes


def _line_bounds(text: str, line: int) -> tuple[int, int]:
    """(start, end) str offsets of a 1-based line's content, without its line ending."""
    lines = text.count("\n") + 1
    if not 1 <= line <= lines:
        raise HoleError(f"line {line} is outside the file (it has {lines} lines)")
    start = 0
    for _ in range(line - 1):
        start = text.index("\n", start) + 1
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    if end > start and text[end - 1] == "\r":
        end -= 1
    return start, end


def at(text: str, line: int, col: int) -> Hole:
    """An empty hole at 1-based `line`:`col`; a column past the line's end is refused."""
    start, end = _line_bounds(text, line)
    if not 1 <= col <= end - start + 1:
        raise HoleError(f"column {col} is outside line {line} (it has {end - start} characters)")
    return Hole(start + col - 1, start + col - 1, line, col)


def span(text: str, first: int, last: int) -> Hole:
    """Lines `first`..`last` (1-based, inclusive) as one hole, keeping the first line's indentation
    and the last line's ending, so the gap sits on an indented empty line as in an editor."""
    if first > last:
        raise HoleError(f"the span {first}-{last} ends before it starts")
    start, first_end = _line_bounds(text, first)
    _, end = _line_bounds(text, last)
    head = text[start:first_end]
    indent = len(head) - len(head.lstrip(" \t"))
    return Hole(start + indent, end, first, indent + 1)


def open_holes(text: str, holes: list[Hole]) -> tuple[str, list[int]]:
    """The text with every hole's range removed, and each hole's offset in that text.

    Holes must be sorted and must not overlap.
    """
    pieces, offsets = [], []
    cursor = removed = 0
    for hole in holes:
        if hole.start < cursor:
            raise HoleError(f"holes at {hole.line}:{hole.col} and before it overlap")
        pieces.append(text[cursor:hole.start])
        offsets.append(hole.start - removed)
        removed += hole.end - hole.start
        cursor = hole.end
    pieces.append(text[cursor:])
    return "".join(pieces), offsets


@dataclass(frozen=True)
class Fill:
    """Text for the opened text's range [start, end): end is past blanks the completion replaces."""

    start: int
    end: int
    text: str


def close_holes(opened: str, holes: list[Hole], offsets: list[int], fills: dict[int, Fill],
                original: str) -> str:
    """The file's new text: each filled hole (by index) gets its fill, every other hole its
    original text back, and everything else stays as it was."""
    pieces = []
    cursor = 0
    for index, (hole, offset) in enumerate(zip(holes, offsets)):
        fill = fills.get(index)
        if fill is None:
            pieces.append(opened[cursor:offset])
            pieces.append(hole.original(original))
            cursor = offset
        else:
            pieces.append(opened[cursor:fill.start])
            pieces.append(fill.text)
            cursor = fill.end
    pieces.append(opened[cursor:])
    return "".join(pieces)
