"""Drop what the suffix already holds: the rest of the cursor's line that the completion types out
again, and the suffix's next line (a statement, a closing bracket) repeated at the completion's end."""

from __future__ import annotations

from infill.filters.lines import cursor_line_head, inserts_lines, next_code_line, rest_of_line
from infill.filters.scan import Lexicon, lexicon, scan
from infill.request import CompletionRequest


def drop_suffix_repeat(text: str, request: CompletionRequest) -> str:
    lex = lexicon(request.language)
    head = cursor_line_head(request)
    if inserts_lines(request, text):
        # Lines going in above code: the line they must not repeat is the one they push down.
        kept = _drop_next_line(text, head, head + rest_of_line(request), lex)
        # A cut takes the newline and indentation that end the lines: they go back on.
        return text if kept == text else kept + "\n" + head if kept.strip() else ""
    text = _drop_rest_of_line(text, rest_of_line(request).strip(), lex)
    return _drop_next_line(text, head, next_code_line(request), lex)


def _top_level(text: str, lex: Lexicon) -> bool:
    state = scan(text, lex)
    return not state.stack and state.quote is None


def _drop_rest_of_line(text: str, rest: str, lex: Lexicon) -> str:
    """Cut the completion where its first line runs into the rest of the line: where what follows
    is a start of `rest`, or begins with all of it, and the completion has no bracket open."""
    if not rest:
        return text
    first = text.split("\n", 1)[0]
    for i in range(len(first)):
        tail = first[i:].strip()
        if not tail or i and not _boundary(first[i - 1], first[i]):
            continue
        if (rest.startswith(tail) or tail.startswith(rest)) and _top_level(first[:i], lex):
            return first[:i]
    return text


def _boundary(before: str, char: str) -> bool:
    """Whether a token can start at `char` after `before` (not inside a word)."""
    word = before.isalnum() or before == "_"
    return not (word and (char.isalnum() or char == "_"))


def _drop_next_line(text: str, head: str, following: str, lex: Lexicon) -> str:
    """Cut the completion at its first line that equals the suffix's next line, indentation
    included, when the completion has no bracket of its own open there."""
    if not following.strip():
        return text
    lines = text.split("\n")
    for j, line in enumerate(lines):
        full = head + line if j == 0 else line
        if full.rstrip() == following.rstrip() and _top_level("\n".join(lines[:j]), lex):
            return "\n".join(lines[:j])
    return text
