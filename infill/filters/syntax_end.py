"""Stop where the gap's syntax ends: after one line for the single-line modes, at the first line
that dedents out of the block for block mode."""

from __future__ import annotations

from infill.filters.lines import cursor_line_head
from infill.gap import BLOCK
from infill.indentation import leading, width
from infill.request import InfillRequest


def stop_at_syntax_end(text: str, request: InfillRequest) -> str:
    lines = text.split("\n")
    if request.mode != BLOCK:
        return lines[0]
    head = cursor_line_head(request)
    body = width(leading(head))
    if head.strip():
        # The cursor ends a block opener's line: the body sits one unit deeper than that line.
        body += width(request.indent)
    for j in range(1, len(lines)):
        if lines[j].strip() and width(leading(lines[j])) < body:
            return "\n".join(lines[:j])
    return text
