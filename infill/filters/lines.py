"""Lines of the request around the cursor, as the filters need them (newlines already "\\n")."""

from __future__ import annotations

from infill.request import InfillRequest


def cursor_line_head(request: InfillRequest) -> str:
    """The cursor's line up to the cursor."""
    return request.prefix[request.prefix.rfind("\n") + 1:]


def rest_of_line(request: InfillRequest) -> str:
    """What follows the replaced range on the cursor's line."""
    return request.suffix.split("\n", 1)[0].rstrip("\r")


def next_code_line(request: InfillRequest) -> str:
    """The first non-blank line after the cursor's line, "" if the suffix has none."""
    for line in request.suffix.split("\n")[1:]:
        if line.strip():
            return line.rstrip("\r")
    return ""
