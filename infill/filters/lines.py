"""Lines of the request around the cursor, as the filters need them (newlines already "\\n")."""

from __future__ import annotations

from infill.request import CompletionRequest


def cursor_line_head(request: CompletionRequest) -> str:
    """The cursor's line up to the cursor."""
    return request.prefix[request.prefix.rfind("\n") + 1:]


def rest_of_line(request: CompletionRequest) -> str:
    """What follows the replaced range on the cursor's line."""
    return request.suffix.split("\n", 1)[0].rstrip("\r")


def next_code_line(request: CompletionRequest) -> str:
    """The first non-blank line after the cursor's line, "" if the suffix has none."""
    for line in request.suffix.split("\n")[1:]:
        if line.strip():
            return line.rstrip("\r")
    return ""


def inserts_lines(request: CompletionRequest, text: str) -> bool:
    """Whether `text` goes in as whole lines above code: the cursor is at the start of a line of
    code (only blanks before it) and the completion holds a newline."""
    return "\n" in text and not cursor_line_head(request).strip() and bool(rest_of_line(request).strip())
