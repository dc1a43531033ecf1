"""Prefix and suffix windows around the cursor, cut at line and syntax boundaries within a budget.

A window that cuts an enclosing scope keeps that scope's header (and the file's imports, and
signatures of names defined in other open documents) ahead of the prefix, so the model still sees
which function and class it is writing in.
"""

from __future__ import annotations

from collections.abc import Iterable

import tree_sitter

from infill.document import Document
from infill.snippets import definition_snippets
from infill.syntax import enclosing_scopes, is_literal, leading_imports
from infill.tokens import chars_for

# Headers, imports and snippets together take at most this share of the prefix budget.
EXTRAS_SHARE = 3
# A window edge moves at most this share of its budget to land on a statement boundary.
SNAP_SHARE = 4
# The prefix start moves in steps of this share of the budget (see _stable).
STABLE_SHARE = 8
# Longer headers are kept by their first line alone.
MAX_HEADER_CHARS = 400
# A token ends after each of these in every language here; a minified line is cut after one.
_SEPARATORS = frozenset(" \t,;(){}[]")


def prefix_context(doc: Document, offset: int, tokens: int,
                   open_documents: Iterable[Document] = ()) -> str:
    text = doc.text
    budget = chars_for(tokens)
    line_start = text.rfind("\n", 0, offset) + 1
    extras_budget = budget // EXTRAS_SHARE
    start = max(0, offset - budget)
    extras: list[str] = []
    if start > 0:
        # Headers shrink the window, which can cut one more scope: settle that in a second pass.
        headers, _ = _headers(doc, offset, start, line_start, extras_budget)
        headers, floor = _headers(doc, offset, offset - budget + _size(headers), line_start, extras_budget)
        imports = _imports(doc, start, extras_budget - _size(headers))
        extras = imports + headers
        start = max(floor, _align_start(text, _stable(offset - budget + _size(extras), budget), offset))
        start = _snap_start(doc, start, offset, budget // SNAP_SHARE)
    nearby = text[max(line_start - 400, start):offset] + text[offset:offset + 200]
    room = min(extras_budget - _size(extras), budget - _size(extras) - (offset - start))
    snippets = definition_snippets(doc, nearby, open_documents, room)
    return "".join(part + "\n" for part in snippets + extras) + text[start:offset]


def _stable(start: int, budget: int) -> int:
    """`start` rounded up to a multiple of a STABLE_SHARE of the budget.

    Typing moves the cursor, and a window of exactly the budget would move its start with it: a
    new prefix on every line, and the engine's cache of the prefix lost. Rounded, the start stays
    put while the cursor moves that far.
    """
    step = max(budget // STABLE_SHARE, 1)
    return -(-start // step) * step


def _size(parts: list[str]) -> int:
    return sum(len(part) + 1 for part in parts)


def _imports(doc: Document, before: int, budget: int) -> list[str]:
    found = []
    for start, end in leading_imports(doc, before):
        statement = doc.text[start:end].rstrip()
        if len(statement) + 1 > budget:
            break
        found.append(statement)
        budget -= len(statement) + 1
    return found


def suffix_context(doc: Document, offset: int, tokens: int) -> str:
    text = doc.text
    budget = chars_for(tokens)
    end = offset + budget
    if end >= len(text):
        return text[offset:]
    newline = text.rfind("\n", offset, end)
    if newline >= 0:
        end = newline + 1
    else:
        end = next((i for i in range(end, offset, -1) if text[i - 1] in _SEPARATORS), offset)
    return text[offset:_snap_end(doc, end, offset, budget // SNAP_SHARE)]


def _headers(doc: Document, offset: int, window_start: int, line_start: int,
             budget: int) -> tuple[list[str], int]:
    """Headers of the scopes that start before the window, outermost first, and the offset the
    window must start at so it does not repeat the innermost one."""
    text = doc.text
    headers: list[str] = []
    floor = 0
    used = 0
    for scope in reversed(enclosing_scopes(doc, offset)):
        if scope.start >= window_start:
            continue
        after = _line_after(text, scope.header_end)
        if after > line_start:
            continue
        head_start = text.rfind("\n", 0, scope.start) + 1
        header = text[head_start:scope.header_end].rstrip()
        if len(header) > MAX_HEADER_CHARS:
            header = header.split("\n", 1)[0]
        if used + len(header) + 1 > budget:
            break
        headers.insert(0, header)
        used += len(header) + 1
        floor = max(floor, after)
    return headers, floor


def _line_after(text: str, offset: int) -> int:
    """Where a window can start to follow text that ends at `offset`: the start of offset's line
    when only blanks precede it there, else the next line."""
    line_start = text.rfind("\n", 0, offset) + 1
    if not text[line_start:offset].strip():
        return line_start
    newline = text.find("\n", offset)
    return newline + 1 if newline >= 0 else len(text)


def _align_start(text: str, start: int, offset: int) -> int:
    """The first line start at or after `start`; on an overlong cursor line, a token boundary."""
    if start <= 0 or text[start - 1] == "\n":
        return max(start, 0)
    newline = text.find("\n", start, offset)
    if newline >= 0:
        return newline + 1
    return next((i + 1 for i in range(start, offset) if text[i] in _SEPARATORS), offset)


def _straddlers(doc: Document, byte: int, keep: int, after_cursor: bool) -> list[tree_sitter.Node]:
    """Nodes cut by a window edge at `byte` that do not hold the cursor, innermost first."""
    tree = doc.tree
    if tree is None:
        return []
    node = tree.root_node.descendant_for_byte_range(byte, byte)
    found = []
    while node is not None and node.parent is not None:
        if node.start_byte < byte < node.end_byte:
            if after_cursor and node.start_byte < keep or not after_cursor and node.end_byte > keep:
                break
            found.append(node)
        node = node.parent
    return found


def _snap_start(doc: Document, start: int, offset: int, allowance: int) -> int:
    """Move the prefix start past a statement it cuts: past any cut string or comment (never
    mid-token), past a larger statement where that costs at most `allowance` characters."""
    index, text = doc.index, doc.text
    nodes = _straddlers(doc, index.to_byte(start), index.to_byte(offset), after_cursor=False)
    best = start
    for node in reversed(nodes):
        end = index.to_char(node.end_byte)
        newline = text.find("\n", end, offset)
        boundary = newline + 1 if newline >= 0 else end
        if is_literal(node) or boundary - start <= allowance:
            best = max(best, boundary)
            if not is_literal(node):
                break
    return min(best, offset)


def _snap_end(doc: Document, end: int, offset: int, allowance: int) -> int:
    """The suffix counterpart of `_snap_start`: move the end back before a statement it cuts."""
    index, text = doc.index, doc.text
    nodes = _straddlers(doc, index.to_byte(end), index.to_byte(offset), after_cursor=True)
    best = end
    for node in reversed(nodes):
        start = index.to_char(node.start_byte)
        boundary = max(text.rfind("\n", offset, start) + 1, offset)
        if is_literal(node) or end - boundary <= allowance:
            best = min(best, boundary)
            if not is_literal(node):
                break
    return max(best, offset)
