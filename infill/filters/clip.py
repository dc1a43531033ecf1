"""Clip a completion to the request's line limit."""

from __future__ import annotations

from infill.request import CompletionRequest


def clip_lines(text: str, request: CompletionRequest) -> str:
    lines = text.split("\n")
    # After a block opener the first line is the (empty) rest of the opener's line, not a body line.
    limit = request.max_lines + (1 if lines[0].strip() == "" and len(lines) > 1 else 0)
    if len(lines) <= limit:
        return text
    # The newline that ends the last kept line stays: lines going in above code need it.
    return "\n".join(lines[:limit]) + "\n"
