"""Drop a completion that adds tree-sitter ERROR or MISSING nodes to the document.

The document is reparsed incrementally with the completion in place, and errors are counted only
where the two trees differ (Tree.changed_ranges), so the check costs little on a large file. The
gap itself is often an error before it is filled ("x = " lacks a value), so a completion may swap
that error for another; it is dropped when errors grow in number or one lies wholly inside it.

The check has a deadline. While the text around the cursor is broken, tree-sitter may wrap
thousands of lines in one ERROR and reparse all of them for any change; past the deadline the
completion is kept unchecked, since the editor must not wait and the tree says little there.
"""

from __future__ import annotations

from infill.document import Document
from infill.offsets import encode
from infill.request import InfillRequest
from infill.syntax import error_nodes

DEADLINE_SECONDS = 0.0006


def drop_new_parse_errors(text: str, request: InfillRequest, doc: Document | None) -> str:
    if doc is None or not text:
        return text
    trees = doc.parse_replacement(request.offset, request.replace_end, text, DEADLINE_SECONDS)
    if trees is None:
        return text
    old, new = trees
    start = doc.index.to_byte(request.offset)
    end = start + len(encode(text))
    low, high = start, end
    for changed in old.changed_ranges(new):
        low, high = min(low, changed.start_byte), max(high, changed.end_byte)
    errors = error_nodes(new, low, high)
    if len(errors) > len(error_nodes(old, low, high)):
        return ""
    if any(start <= node.start_byte < node.end_byte <= end for node in errors):
        return ""
    return text
