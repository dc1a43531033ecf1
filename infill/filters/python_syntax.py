"""Drop a Python completion that Python's own parser rejects.

tree-sitter recovers from indentation errors (a doubled indent, an `if` with no body) without an
ERROR node, so `parse_errors` lets them through; `compile()` does not. With the completion in
place the file must compile, with two exceptions where the parser cannot judge the completion:
- The file has an error before the cursor's line, the same with the completion in place: the parser
  stops there, so tree-sitter's check stands alone. (An unclosed bracket is reported where it opens,
  so it never counts as before the cursor.)
- The completion only finishes the word the cursor is in, and the file's first error stays what and
  where it was. While a line is being typed the file seldom compiles (a call not yet closed, the
  code after the cursor not yet joined up), and a word cannot open a bracket, a block or an indent;
  it can only be a keyword where a name belongs, which moves the error. Held out, this check had
  refused six in seven of the words the model finished rightly as a person typed (`bench.typing`).
A block header whose body is not there yet (`for item in items:` above code at the same depth) is
dropped too: it cannot be told from a header written where a statement belongs, and held-out typing
showed the latter (tests/engine/test_engine_wellformed.py).
"""

from __future__ import annotations

import ast
import functools
import re
import warnings

from infill.document import Document
from infill.request import CompletionRequest

_WORD = re.compile(r"[A-Za-z0-9_]+")


@functools.lru_cache(maxsize=8)  # the document as it stands is judged once per version, not per completion
def first_error(source: str) -> tuple[int, int, str] | None:
    """The offset and line (0-based) of the first error Python's parser finds, and its message; None if
    it compiles."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes is not an error
            ast.parse(source)
    except SyntaxError as exc:
        line = (exc.lineno or 1) - 1
        start = 0
        for _ in range(line):
            start = source.find("\n", start) + 1 or len(source)
        return start + max(0, (exc.offset or 1) - 1), line, exc.msg
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, very deep nesting
        return 0, 0, type(exc).__name__
    return None


def drop_python_syntax_errors(text: str, request: CompletionRequest, doc: Document | None) -> str:
    if doc is None or not text or request.language != "python":
        return text
    source = doc.text
    filled = source[: request.offset] + text + source[request.replace_end :]
    after = first_error(filled)
    if after is None:
        return text
    before = first_error(source)
    if before is None:
        return ""
    at, line, message = after
    if _WORD.fullmatch(text) and _WORD.fullmatch(source, request.offset - 1, request.offset):
        shift = len(text) - (request.replace_end - request.offset)
        if at >= request.offset + len(text):
            at -= shift
        return text if (at, message) == (before[0], before[2]) else ""
    earlier = line < source.count("\n", 0, request.offset) and "never closed" not in message
    return text if earlier and before == after else ""
