"""Balance brackets and quotes against the suffix.

A completion may not close what it did not open unless the rest of the line leaves it open; what a
single-line completion opens it also closes; a string open at the cursor ends where the suffix
already closes it.
"""

from __future__ import annotations

from infill.filters.lines import cursor_line_head, inserts_lines, rest_of_line
from infill.filters.scan import OPENERS, lexicon, scan
from infill.gap import BLOCK
from infill.request import InfillRequest


def balance_brackets(text: str, request: InfillRequest) -> str:
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
        text = text[:state.unmatched[0]]
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
