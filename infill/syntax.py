"""Questions asked of a document's syntax tree, answered in str offsets."""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from infill.document import Document
from infill.indentation import leading, width

_STRING_TYPES = frozenset({"char_literal", "character_literal", "rune_literal", "text_block",
                           "heredoc_body", "double_quote_scalar", "single_quote_scalar",
                           "block_scalar", "quoted_attribute_value"})


def is_comment(node: tree_sitter.Node) -> bool:
    return "comment" in node.type


def is_string(node: tree_sitter.Node) -> bool:
    return "string" in node.type or node.type in _STRING_TYPES


def is_literal(node: tree_sitter.Node) -> bool:
    return is_comment(node) or is_string(node)


def literal_at(doc: Document, offset: int) -> str | None:
    """"comment" or "string" when the cursor is inside one, else None (code, or plain text)."""
    tree = doc.tree
    if tree is None or offset == 0:
        return None
    byte = doc.index.to_byte(offset)
    node = tree.root_node.descendant_for_byte_range(byte - 1, byte)
    while node is not None:
        kind = node.type
        if "interpolation" in kind or "substitution" in kind:
            return None
        if is_comment(node):
            inside = node.start_byte < byte < node.end_byte
            # A line comment runs to the end of its line: typing at its end is still the comment.
            closer = doc.language.block_comment[1] if doc.language.block_comment else None
            at_open_end = byte == node.end_byte and not (closer and doc.text.startswith(closer, offset - len(closer)))
            return "comment" if inside or at_open_end else None
        if is_string(node) and node.start_byte < byte < node.end_byte:
            return "string"
        node = node.parent
    return None


@dataclass(frozen=True)
class Scope:
    """An enclosing construct with a body: where it starts and where its header ends (str offsets)."""
    start: int
    header_end: int


def enclosing_scopes(doc: Document, offset: int) -> list[Scope]:
    """Constructs with a body that holds the cursor, outermost first.

    The tree ends a body at its last statement, so a cursor on a blank line below it is placed by
    indentation: it is in the scope when indented deeper than the scope's first line.
    """
    tree = doc.tree
    if tree is None:
        return []
    index, text = doc.index, doc.text
    byte = index.to_byte(offset)
    anchor = offset
    while anchor > 0 and text[anchor - 1] in " \t\r\n":
        anchor -= 1
    anchor_byte = index.to_byte(anchor)
    node = tree.root_node.descendant_for_byte_range(max(anchor_byte - 1, 0), anchor_byte)
    line_start = text.rfind("\n", 0, offset) + 1
    depth = width(leading(text[line_start:offset]))
    scopes = []
    while node is not None:
        body = node.child_by_field_name("body")
        if body is not None and node.start_byte < body.start_byte < byte:
            start = index.to_char(node.start_byte)
            if byte <= body.end_byte or depth > width(leading(text[text.rfind("\n", 0, start) + 1:start + 1])):
                body_start = index.to_char(body.start_byte)
                # A braced body keeps its "{" so the header reads as an opened block.
                braced = text[body_start:body_start + 1] in ("{", "[")
                scopes.append(Scope(start, body_start + 1 if braced else body_start))
        node = node.parent
    scopes.reverse()
    return scopes


def leading_imports(doc: Document, before: int, limit: int = 64) -> list[tuple[int, int]]:
    """(start, end) of the import statements among the file's first top-level nodes before `before`.

    The scan stops at the first definition with a body: imports come first in nearly every file,
    and a bounded scan keeps this cheap on every keystroke.
    """
    tree, lang = doc.tree, doc.language
    if tree is None or not lang.import_types:
        return []
    index = doc.index
    before_byte = index.to_byte(before)
    cursor = tree.walk()
    found = []
    if not cursor.goto_first_child():
        return found
    for _ in range(limit):
        node = cursor.node
        if node.start_byte >= before_byte or node.child_by_field_name("body") is not None:
            break
        if node.type in lang.import_types:
            found.append((index.to_char(node.start_byte), index.to_char(node.end_byte)))
        if not cursor.goto_next_sibling():
            break
    return found


def error_nodes(tree: tree_sitter.Tree, start_byte: int, end_byte: int) -> list[tree_sitter.Node]:
    """The outermost ERROR and MISSING nodes that overlap [start_byte, end_byte], ends included
    (a MISSING node is empty, and one at either end counts).

    The walk enters only subtrees that hold an error (has_error) and, in each, only the children
    that overlap the range, so a clean region costs nothing however large it is. Errors nested in
    an ERROR are left uncounted: how tree-sitter splits a broken region is noise.
    """
    found = []
    pending = [tree.root_node] if tree.root_node.has_error else []
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            found.append(node)
            continue
        cursor = node.walk()
        if cursor.goto_first_child_for_byte(max(start_byte - 1, 0)) is None:
            continue
        while True:
            child = cursor.node
            if child.start_byte > end_byte:
                break
            if child.has_error and child.end_byte >= start_byte:
                pending.append(child)
            if not cursor.goto_next_sibling():
                break
    return found
