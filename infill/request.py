"""`build_request`: document + cursor -> what the engine fills (context windows and gap shape)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from infill.context import prefix_context, suffix_context
from infill.document import Document
from infill.gap import BLOCK, LINE, REST_OF_LINE, SHORT, classify
from infill.indentation import detect_unit
from infill.words import word_ends

# Gap sizes in model tokens per mode: a comment word, the end of a line, a line, a block.
MODE_TOKENS = {SHORT: 8, REST_OF_LINE: 16, LINE: 24, BLOCK: 64}
BLOCK_LINES = 8
TOKENS_PER_BLOCK_LINE = MODE_TOKENS[BLOCK] // BLOCK_LINES


def _at_line_start(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    return not text[line_start:offset].strip()


@dataclass(frozen=True)
class CompletionRequest:
    """What to send the engine, and what postprocess needs to judge the answer.

    prefix ends exactly at the cursor (headers, imports and signatures from other documents may
    lead it); suffix starts at replace_end, which is the cursor, or the end of the cursor's line
    when only blanks follow it there (the completion overwrites them). Offsets are str offsets.
    mode is "rest_of_line", "line", "block" or "short"; max_tokens is the gap to ask the model
    for; max_lines bounds the completion (more than one line only for a block, or for lines to go
    above the code that follows a cursor at a line's start); indent is the file's indentation unit.
    word_ends are the ways the document's words finish the word the cursor ends, for the engine to
    keep the middle's first word to.
    """

    prefix: str
    suffix: str
    offset: int
    replace_end: int
    language: str
    mode: str
    max_tokens: int
    max_lines: int
    indent: str
    word_ends: tuple[str, ...] = ()  # how the word the cursor ends may end (infill/words.py)


def build_request(doc: Document, offset: int, *, prefix_tokens: int = 1024, suffix_tokens: int = 256,
                  max_lines: int | None = None,
                  open_documents: Iterable[Document] = ()) -> CompletionRequest | None:
    """The request for a completion at `offset`, or None where none makes sense.

    None for an offset outside the text, a binary or oversized document, and a gap classify()
    rejects (the middle of a word, between "\\r" and "\\n").
    """
    text = doc.text
    if not 0 <= offset <= len(text) or doc.too_large or "\0" in text:
        return None
    gap = classify(doc, offset)
    if gap is None:
        return None
    mode = gap.mode
    if mode == BLOCK and max_lines is not None and max_lines <= 1:
        mode = LINE
    if mode == BLOCK:
        lines = BLOCK_LINES if max_lines is None else max_lines
        tokens = TOKENS_PER_BLOCK_LINE * lines
    elif mode == REST_OF_LINE and max_lines and _at_line_start(text, offset):
        # Code follows a cursor at a line's start: the gap may be lines to go above that code.
        lines = max_lines
        tokens = max(MODE_TOKENS[mode], TOKENS_PER_BLOCK_LINE * lines)
    else:
        lines, tokens = 1, MODE_TOKENS[mode]
    prefix = prefix_context(doc, offset, prefix_tokens, open_documents)
    suffix = suffix_context(doc, gap.replace_end, suffix_tokens)
    lang = doc.language
    return CompletionRequest(
        prefix=prefix,
        suffix=suffix,
        offset=offset,
        replace_end=gap.replace_end,
        language=lang.name if lang else "text",
        mode=mode,
        max_tokens=tokens,
        max_lines=lines,
        indent=detect_unit(prefix[-2000:] + suffix[:1000], lang.indent if lang else "    "),
        word_ends=word_ends(text, offset),
    )
