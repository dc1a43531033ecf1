"""A small lexer for brackets and quotes in code, skipping strings and comments.

Filters use it on short texts (a completion, the cursor's line), never on a whole document.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infill.languages import resolve

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class Lexicon:
    quotes: str
    line_comment: str | None
    block_comment: tuple[str, str] | None


def lexicon(language: str) -> Lexicon:
    """Quotes and comment markers of a request's language; plain text has none (apostrophes in
    prose are not strings)."""
    lang = resolve(language)
    return Lexicon(lang.quotes, lang.line_comment, lang.block_comment) if lang else Lexicon("", None, None)


@dataclass
class Scan:
    stack: list[str]
    quote: str | None
    # Positions of closers that match no opener, and of closers that closed an opener from before.
    unmatched: list[int] = field(default_factory=list)
    closed_outer: list[int] = field(default_factory=list)
    # Where a string open before the text was closed.
    quote_closed_at: int | None = None


def scan(text: str, lex: Lexicon, stack: list[str] | None = None, quote: str | None = None) -> Scan:
    """Brackets and quotes of `text`, continuing from the open `stack` and `quote` of the text
    before it (the cursor's line, when `text` is a completion)."""
    result = Scan(list(stack or ()), quote)
    outer = len(result.stack)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if result.quote:
            if char == "\\":
                i += 2
                continue
            if text.startswith(result.quote, i):
                if quote and result.quote_closed_at is None:
                    result.quote_closed_at = i
                i += len(result.quote)
                result.quote = None
                continue
            if char == "\n" and result.quote in ("'", '"'):
                # An unterminated one-line string ends with its line: the next line is code again.
                result.quote = None
            i += 1
            continue
        if lex.block_comment and text.startswith(lex.block_comment[0], i):
            end = text.find(lex.block_comment[1], i + len(lex.block_comment[0]))
            if end < 0:
                break
            i = end + len(lex.block_comment[1])
            continue
        if lex.line_comment and text.startswith(lex.line_comment, i):
            end = text.find("\n", i)
            if end < 0:
                break
            i = end
            continue
        if char in lex.quotes:
            triple = char * 3
            result.quote = triple if char != "`" and text.startswith(triple, i) else char
            i += len(result.quote)
            continue
        if char in OPENERS:
            result.stack.append(char)
        elif char in CLOSERS:
            if result.stack and result.stack[-1] == CLOSERS[char]:
                result.stack.pop()
                if len(result.stack) < outer:
                    outer = len(result.stack)
                    result.closed_outer.append(i)
            else:
                result.unmatched.append(i)
        i += 1
    return result
