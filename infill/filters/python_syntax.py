"""Drop a Python completion that Python's own parser rejects.

tree-sitter recovers from indentation errors (a doubled indent, an `if` with no body) without an
ERROR node, so `parse_errors` lets them through; `compile()` does not. With the completion in
place the file must compile, unless the file has an error before the cursor's line, the same with
the completion in place: the parser stops there and cannot judge the completion, so tree-sitter's
check stands alone. (An unclosed bracket is reported where it opens, so it never counts as before
the cursor.) A block header whose body is not there yet (`for item in items:` above code at the
same depth) is dropped too: it cannot be told from a header written where a statement belongs, and
held-out typing showed the latter (tests/engine/test_engine_wellformed.py).
"""

from __future__ import annotations

import ast
import functools
import warnings

from infill.document import Document
from infill.request import CompletionRequest


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


def drop_python_syntax_errors(text: str, request: CompletionRequest, doc: Document | None) -> str:
    if doc is None or not text or request.language != "python":
        return text
    source = doc.text
    filled = source[: request.offset] + text + source[request.replace_end :]
    after = first_error(filled)
    if after is None:
        return text
    first_line = source.count("\n", 0, request.offset)
    earlier = after[0] < first_line and "never closed" not in after[1]
    return text if earlier and first_error(source) == after else ""
