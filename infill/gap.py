"""What kind of gap the cursor is in: the completion's shape follows from the syntax around it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from infill.document import Document
from infill.indentation import leading, width
from infill.syntax import is_comment, literal_at

REST_OF_LINE, LINE, BLOCK, SHORT = "rest_of_line", "line", "block", "short"

_BLANK = " \t\r\n\f\v"
_CODE = re.compile(r"\S")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Gap:
    mode: str
    # End of the range the completion replaces: past trailing whitespace, which it overwrites.
    replace_end: int


def classify(doc: Document, offset: int) -> Gap | None:
    """The gap at the cursor, or None where no completion makes sense."""
    text = doc.text
    before = text[offset - 1] if offset > 0 else ""
    after = text[offset] if offset < len(text) else ""
    if _is_word(before) and _is_word(after):
        return None
    if before == "\r" and after == "\n":
        return None
    if literal_at(doc, offset):
        return Gap(SHORT, offset)
    if _inside_token(doc, offset):
        return None
    line_end = line_end_at(text, offset)
    # Searched, not sliced: a minified file's line can run to megabytes.
    if _CODE.search(text, offset, line_end):
        return Gap(REST_OF_LINE, offset)
    if _opens_block(doc, offset):
        return Gap(BLOCK, line_end)
    line_start = text.rfind("\n", 0, offset) + 1
    if _CODE.search(text, line_start, offset):
        return Gap(REST_OF_LINE, line_end)
    if _closes_block(text, line_end, width(text[line_start:offset])):
        return Gap(BLOCK, line_end)
    return Gap(LINE, line_end)


def _inside_token(doc: Document, offset: int) -> bool:
    """Whether the cursor splits a token that parses ("==", "->", a keyword); text tokens such as
    JSX or HTML text, which hold spaces, do not count."""
    tree = doc.tree
    if tree is None:
        return False
    byte = doc.index.to_byte(offset)
    leaf = tree.root_node.descendant_for_byte_range(byte, byte)
    if leaf is None or leaf.child_count or leaf.has_error or not leaf.start_byte < byte < leaf.end_byte:
        return False
    start, end = doc.index.to_char(leaf.start_byte), doc.index.to_char(leaf.end_byte)
    return not _SPACE.search(doc.text, start, end)


def line_end_at(text: str, offset: int) -> int:
    """End of the cursor's line, before its "\\n" or "\\r\\n"."""
    end = text.find("\n", offset)
    if end < 0:
        return len(text)
    return end - 1 if end > offset and text[end - 1] == "\r" else end


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _opens_block(doc: Document, offset: int) -> bool:
    """Whether the code before the cursor, past blanks and comments, ends with a block opener."""
    lang = doc.language
    if lang is None:
        return False
    end = _code_end(doc, offset)
    code = doc.text[max(0, end - 16):end]
    for opener in lang.block_openers:
        if code.endswith(opener):
            # A keyword opener ("do", "then") must be a whole word, not the end of "undo".
            cut = len(code) - len(opener)
            if not opener[0].isalpha() or cut == 0 or not (code[cut - 1].isalnum() or code[cut - 1] == "_"):
                return True
    return False


def _code_end(doc: Document, offset: int) -> int:
    text, tree = doc.text, doc.tree
    pos = offset
    while True:
        while pos > 0 and text[pos - 1] in _BLANK:
            pos -= 1
        if pos == 0 or tree is None:
            return pos
        byte = doc.index.to_byte(pos)
        node = tree.root_node.descendant_for_byte_range(byte - 1, byte)
        if node is None or not is_comment(node) and not (node.parent is not None and is_comment(node.parent)):
            return pos
        comment = node if is_comment(node) else node.parent
        pos = doc.index.to_char(comment.start_byte)


def _closes_block(text: str, line_end: int, depth: int) -> bool:
    """Whether the next non-blank line is indented less than the cursor (or there is none)."""
    newline = text.find("\n", line_end)
    while newline >= 0:
        start = newline + 1
        line = text[start:line_end_at(text, start)]
        if line.strip():
            return width(leading(line)) < depth
        newline = text.find("\n", start)
    return True
