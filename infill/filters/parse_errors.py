"""Drop a completion that adds tree-sitter ERROR or MISSING nodes to the document.

The document is reparsed incrementally with the completion in place, and errors are counted only
where the two trees differ (Tree.changed_ranges), so the check costs little on a large file. The
gap itself is often an error before it is filled ("x = " lacks a value), so a completion may swap
that error for another; it is dropped when errors grow in number or one lies wholly inside it.

The check has a work limit. While the text around the cursor is broken, tree-sitter may wrap
thousands of lines in one ERROR and reparse all of them for any change; past the limit the
completion is kept unchecked, since the editor must not wait and the tree says little there.
"""

from __future__ import annotations

from infill.document import Document
from infill.offsets import encode
from infill.request import CompletionRequest
from infill.syntax import error_nodes

# Progress reports of the check's parse (about a millisecond here): a keystroke's reparse takes
# under ten, one through an ERROR region of a thousand lines about thirty (bench/infill.py).
PARSE_WORK_LIMIT = 50


def drop_new_parse_errors(text: str, request: CompletionRequest, doc: Document | None) -> str:
    if doc is None or not text:
        return text
    trees = doc.parse_replacement(request.offset, request.replace_end, text, PARSE_WORK_LIMIT)
    if trees is None:
        return text
    old, new = trees
    start = doc.index.to_byte(request.offset)
    end = start + len(encode(text))
    low, high = start, end
    for changed in old.changed_ranges(new):
        low, high = min(low, changed.start_byte), max(high, changed.end_byte)
    errors = error_nodes(new, low, high)
    if any(start <= node.start_byte < node.end_byte <= end for node in errors):
        return ""
    return "" if len(errors) > len(error_nodes(old, low, high)) else text
