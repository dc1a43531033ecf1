"""`postprocess`: raw model text -> a completion fit to insert, or a rejection that says why not.

The filters run in this order: loops first, so later filters do not work on garbage; indentation
before the dedent rule, which compares widths in the file's style; the line limit before the
syntax end, which shapes the last line kept; the parse checks last, as they are the only ones
that reparse (tree-sitter's, then Python's own parser for Python, which sees indentation errors).
"""

from __future__ import annotations

from dataclasses import dataclass

from infill.document import Document
from infill.filters.brackets import balance_brackets
from infill.filters.clip import clip_lines
from infill.filters.indent_style import normalize_indentation
from infill.filters.lines import rest_of_line
from infill.filters.parse_errors import drop_new_parse_errors
from infill.filters.python_syntax import drop_python_syntax_errors
from infill.filters.repetition import drop_repetition
from infill.filters.suffix_repeat import drop_suffix_repeat
from infill.filters.syntax_end import stop_at_syntax_end
from infill.request import CompletionRequest

FILTERS = (drop_repetition, normalize_indentation, clip_lines, stop_at_syntax_end,
           drop_suffix_repeat, balance_brackets)


@dataclass(frozen=True)
class Completion:
    text: str
    start: int
    end: int


# Why nothing is shown or written: the reasons a Rejection carries (the CLI reports them as statuses).
EMPTY = "empty"  # nothing worth inserting was left
PARSE_ERROR = "parse_error"  # the completion would make the file fail to parse
LOW_CONFIDENCE = "low_confidence"  # the model's first token is below the gate
UNSUPPORTED_LANGUAGE = "unsupported_language"  # the model was not trained on the file's language
STALE = "stale"  # the document no longer holds the range the request was built for


@dataclass(frozen=True)
class Rejection:
    reason: str
    detail: str = ""  # the figures behind the reason, for a message ("0.31 < 0.50")
    text: str | None = None  # what was rejected, where there is text (a completion that does not parse)


def postprocess(request: CompletionRequest, raw_text: str, doc: Document | None = None) -> Completion | Rejection:
    """The completion to insert over [request.offset, request.replace_end), or why there is none.

    With `doc` (the document the request was built from, unchanged since) a completion that adds
    parse errors is rejected; without it the parse checks are skipped.
    """
    if doc is not None and request.replace_end > len(doc.text):
        return Rejection(STALE)
    text = raw_text.replace("\r\n", "\n").replace("\r", "\n")
    for step in FILTERS:
        text = step(text, request)
        if not text.strip():
            return Rejection(EMPTY)
    if not rest_of_line(request).strip():
        # Nothing follows on the line: trailing blanks and newlines would only add empty lines.
        text = text.rstrip()
    checked = drop_python_syntax_errors(drop_new_parse_errors(text, request, doc), request, doc)
    if not checked.strip():
        return Rejection(PARSE_ERROR, text=text)
    if "\r\n" in request.prefix or "\r\n" in request.suffix:
        checked = checked.replace("\n", "\r\n")
    return Completion(checked, request.offset, request.replace_end)
