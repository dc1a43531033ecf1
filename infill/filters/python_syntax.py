"""Drop a Python completion that Python's own parser rejects where tree-sitter does not.

tree-sitter recovers from indentation errors (a doubled indent, an `if` with no body) without an
ERROR node, so `parse_errors` lets them through; `compile()` does not. The file is judged with
the completion in place against the file as it stands: a completion is dropped when it breaks a
file that compiled, or when the first error now lies in or after it and is not the one the file
already had there. An error before the completion is not its doing, and leaves it to tree-sitter.
One error is the user's next line, not the completion's: a completion that ends a block header
(`for item in items:`) before its body is typed.
"""

from __future__ import annotations

import ast
import functools
import warnings

from infill.document import Document
from infill.request import InfillRequest


@functools.lru_cache(maxsize=8)  # the document as it stands is judged once per version, not per completion
def first_error(source: str) -> tuple[int, str] | None:
    """The line (0-based) and message of the first error Python's parser finds, None if it compiles."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not an error
            ast.parse(source)
    except SyntaxError as exc:
        return (exc.lineno or 1) - 1, exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, very deep nesting
        return 0, type(exc).__name__
    return None


def drop_python_syntax_errors(text: str, request: InfillRequest, doc: Document | None) -> str:
    if doc is None or not text or request.language != "python":
        return text
    source = doc.text
    filled = source[: request.offset] + text + source[request.replace_end :]
    after = first_error(filled)
    if after is None:
        return text
    first_line = source.count("\n", 0, request.offset)
    last_line = first_line + text.rstrip("\n").count("\n")
    if after[0] == last_line + 1 and after[1].startswith("expected an indented block") \
            and text.rstrip().endswith(":"):
        return text
    before = first_error(source)
    if before is None:
        return ""
    if after[0] < first_line:
        return text
    added = text.count("\n") - source.count("\n", request.offset, request.replace_end)
    expected = (before[0] + added if before[0] > first_line else before[0], before[1])
    return text if after == expected else ""
