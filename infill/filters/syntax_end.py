"""Stop where the gap's syntax ends: after one line for the single-line modes, at the first line
that dedents out of the block for block mode.

At the end of a line of code the model may end that line and write the next: that is kept, as one
line, since the statement before the cursor is complete. At the start of a line of code it may
write whole lines to go above it: those are kept, ending with a newline and the cursor's
indentation so the code stays where it was."""

from __future__ import annotations

from infill.filters.lines import cursor_line_head, inserts_lines, rest_of_line
from infill.gap import BLOCK, REST_OF_LINE
from infill.indentation import leading, width
from infill.request import CompletionRequest


def stop_at_syntax_end(text: str, request: CompletionRequest) -> str:
    lines = text.split("\n")
    head = cursor_line_head(request)
    if inserts_lines(request, text):
        # A last line without its newline would run into the code after the cursor.
        whole = lines[:-1][:request.max_lines]
        return "\n".join(whole) + "\n" + head if any(line.strip() for line in whole) else ""
    if request.mode != BLOCK:
        ends_line = not lines[0].strip() and not rest_of_line(request).strip()
        if request.mode == REST_OF_LINE and len(lines) > 1 and ends_line:
            return "\n".join(lines[:2])
        return lines[0]
    body = width(leading(head))
    if head.strip():
        # The cursor ends a block opener's line: the body sits one unit deeper than that line.
        body += width(request.indent)
    for j in range(1, len(lines)):
        if lines[j].strip() and width(leading(lines[j])) < body:
            return "\n".join(lines[:j])
    return text
