"""Drop repetitive loops, a failure mode of parallel decoding: the same line or short run of
lines over and over, or a chunk of a line repeated many times."""

from __future__ import annotations

import re

from infill.filters.lines import cursor_line_head
from infill.request import CompletionRequest

# A chunk of 2-40 characters followed by five more copies of itself.
_CHUNK_LOOP = re.compile(r"(.{2,40}?)\1{5,}")
MAX_PERIOD = 4
COPIES = 3


def drop_repetition(text: str, request: CompletionRequest) -> str:
    """Keep the first copy of a repeated run of lines or chunk, cut the rest."""
    lines = text.split("\n")
    # The first line starts at the cursor: give it the cursor line's indentation to compare.
    head = cursor_line_head(request)
    end = _loop_end([head + lines[0]] + lines[1:])
    text = "\n".join(lines[:end])
    pos = 0
    while match := _CHUNK_LOOP.search(text, pos):
        # Runs of one character ("=====", "0000") are rulers and literals, not loops.
        if len(set(match.group(1))) > 1:
            return text[:match.start() + len(match.group(1))]
        pos = match.start() + 1
    return text


def _loop_end(lines: list[str]) -> int:
    """Where the first run of lines seen COPIES times in a row ends its first copy."""
    for start in range(len(lines)):
        for period in range(1, MAX_PERIOD + 1):
            end = start + COPIES * period
            if end > len(lines):
                break
            run = lines[start:start + period]
            if not any(line.strip() for line in run):
                continue
            if all(lines[start + k * period:start + (k + 1) * period] == run for k in range(1, COPIES)):
                return start + period
    return len(lines)
