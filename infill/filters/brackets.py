"""Balance brackets and quotes against the suffix.

A completion may not close what it did not open where the code after it closes that already; what
a single-line completion opens it also closes; a string open at the cursor ends where the suffix
already closes it.
"""

from __future__ import annotations

from infill.filters.lines import cursor_line_head, inserts_lines, next_code_line, rest_of_line
from infill.filters.scan import OPENERS, lexicon, scan
from infill.gap import BLOCK
from infill.request import CompletionRequest


def balance_brackets(text: str, request: CompletionRequest) -> str:
    if inserts_lines(request, text):
        # Whole lines above code close what they open or fail the parse check; a cut here would
        # take their final newline.
        return text
    lex = lexicon(request.language)
    before = scan(cursor_line_head(request), lex)
    state = scan(text, lex, before.stack, before.quote)
    if before.quote and state.quote_closed_at is not None and rest_of_line(request).strip():
        text = text[:state.quote_closed_at]
        state = scan(text, lex, before.stack, before.quote)
    if state.unmatched:
        at = state.unmatched[0]
        # A closer that mismatches an open bracket is wrong wherever it is.
        if scan(text[:at], lex, before.stack, before.quote).stack or _suffix_closes(request, text[at]):
            text = text[:at]
            state = scan(text, lex, before.stack, before.quote)
    rest = scan(rest_of_line(request), lex, state.stack, state.quote)
    if rest.unmatched and state.closed_outer:
        # The rest of the line closes brackets the completion closed already.
        over = min(len(rest.unmatched), len(state.closed_outer))
        text = text[:state.closed_outer[-over]]
        state = scan(text, lex, before.stack, before.quote)
    if request.mode == BLOCK:
        return text
    own = state.stack[len(before.stack) - len(state.closed_outer):]
    if state.quote and not before.quote and len(state.quote) == 1:
        text += state.quote
    return text + "".join(OPENERS[opener] for opener in reversed(own))


def _suffix_closes(request: CompletionRequest, closer: str) -> bool:
    """Whether the code after the cursor starts with `closer`: a completion's closer that matches
    nothing it or the cursor's line opened is then the suffix's own. Otherwise it may close what
    an earlier line opened, and the parse check judges it."""
    follows = rest_of_line(request).strip() or next_code_line(request).strip()
    return follows.startswith(closer)
