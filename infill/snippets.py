"""Signatures of names used near the cursor that other open documents define."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable

from infill.document import Document

_NAME = re.compile(r"[A-Za-z_]\w{2,}")
# Wrappers whose child is the definition itself ("export function f", "@decorator def f").
_WRAPPERS = frozenset({"decorated_definition", "export_statement"})
MAX_SNIPPETS = 4
MAX_SIGNATURE_CHARS = 300

_definitions: weakref.WeakKeyDictionary[Document, tuple[int, dict[str, str]]] = weakref.WeakKeyDictionary()


def definition_snippets(doc: Document, nearby: str, open_documents: Iterable[Document],
                        budget: int) -> list[str]:
    """Snippets, each a path comment and a signature, for names in `nearby`, within `budget` chars."""
    lang = doc.language
    if lang is None or budget <= 0:
        return []
    names = set(_NAME.findall(nearby))
    snippets: list[str] = []
    for other in open_documents:
        if other is doc or other.language is not lang:
            continue
        found = definitions(other)
        # Names sorted, so the same names give the same prefix (and hit the engine's cache).
        for name in sorted(names.intersection(found)):
            signature = found[name]
            snippet = signature
            if lang.line_comment and other.path:
                snippet = f"{lang.line_comment} {other.path}\n{signature}"
            if len(snippet) + 1 > budget:
                continue
            snippets.append(snippet)
            budget -= len(snippet) + 1
            if len(snippets) == MAX_SNIPPETS:
                return snippets
    return snippets


def definitions(doc: Document) -> dict[str, str]:
    """Top-level definitions of a document, name -> signature; cached until the document changes."""
    cached = _definitions.get(doc)
    if cached is not None and cached[0] == doc.version:
        return cached[1]
    found: dict[str, str] = {}
    tree = doc.tree
    if tree is not None:
        index = doc.index
        for node in tree.root_node.named_children:
            if node.type in _WRAPPERS:
                node = node.child_by_field_name("definition") or node.child_by_field_name("declaration") or node
            name, body = node.child_by_field_name("name"), node.child_by_field_name("body")
            if name is None or body is None:
                continue
            signature = doc.text[index.to_char(node.start_byte):index.to_char(body.start_byte)].rstrip()
            key = doc.text[index.to_char(name.start_byte):index.to_char(name.end_byte)]
            found[key] = signature[:MAX_SIGNATURE_CHARS]
    _definitions[doc] = (doc.version, found)
    return found
