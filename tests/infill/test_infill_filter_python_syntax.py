"""Python's own parser judges a Python completion: an item must not add an error, and a word that
finishes the word at the cursor is not refused for the errors of a line still being typed."""

import pytest

from infill.filters.python_syntax import drop_python_syntax_errors

CASES = [
    # The file compiles without the item: it must compile with it.
    ("def f(x):\n    y = x + r█\n", "ound(x)", True),
    ("def f(x):\n    y = x + re█\n", "turn", False),  # a keyword where a name belongs
    ("def mean(values):\n    total = sum(values)\n    █\n    return total\n", "    count = 1", False),  # doubled indent
    # A call still open at the cursor: a word may finish the name in it, as long as the error stays put.
    ("x = foo(ba█\ny = 1\n", "r", True),
    ("x = foo(re█\n", "turn", False),
    ("x = foo(ba█\ny = 1\n", "r, 1", False),  # more than the word: the file must compile
    ("x = foo(ba█\ny = 1\n", "r(", False),
    # The code after the cursor is not joined up yet (a line of a call was typed over).
    ("def f(self):\n    schema = s█\n        )\n    return schema\n", "elf", True),
    ("def f(self):\n    schema = s█\n        )\n    return schema\n", "elf\n        x = 1", False),
    # An error before the cursor's line stops the parser: tree-sitter's check stands alone.
    ("def broken(:\n    pass\nx = █\n", "1 +", True),
]


@pytest.mark.parametrize(("source", "raw", "kept"), CASES)
def test_drop_python_syntax_errors(source, raw, kept, request_at):
    doc, request = request_at(source, "python")
    assert drop_python_syntax_errors(raw, request, doc) == (raw if kept else "")


def test_other_languages_and_no_document_are_not_checked(request_at):
    doc, request = request_at("x = █\n", "javascript")
    assert drop_python_syntax_errors("((", request, doc) == "(("
    _, request = request_at("x = █\n", "python")
    assert drop_python_syntax_errors("((", request, None) == "(("
