import pytest

from infill.filters.parse_errors import drop_new_parse_errors

CASES = [
    ("python", "def f(x):\n    return █\n", "x + 1", True),
    ("python", "def f(x):\n    return █\n", "x +", False),
    ("python", "def f(x):\n    return █\n", "(x", False),
    ("python", "x = (█\n", "1)", True),  # fixes an existing error
    ("javascript", "function f() {\n  █\n}\n", "return [1, 2];", True),
    ("javascript", "function f() {\n  █\n}\n", "return [1, 2;", False),
    ("typescript", "const x: number = █;\n", "1 + 2", True),
    ("typescript", "const x: number = █;\n", "1 +* 2", False),
    ("go", "package main\n\nfunc f() int {\n\t█\n}\n", "return 1", True),
    ("go", "package main\n\nfunc f() int {\n\t█\n}\n", "return {", False),
    ("rust", "fn f() -> i32 {\n    █\n}\n", "let x = 1;\n    x", True),
    ("rust", "fn f() -> i32 {\n    █\n}\n", "let x = ;", False),
    ("java", "class A {\n    int f() {\n        █\n    }\n}\n", "return 1;", True),
    ("java", "class A {\n    int f() {\n        █\n    }\n}\n", "return 1", False),
    ("c", "int f(void) {\n    █\n}\n", "int x = 1;", True),
    ("c", "int f(void) {\n    █\n}\n", "int x = ;", False),
    ("cpp", "int f() {\n    █\n}\n", "std::vector<int> v{1, 2};", True),
    ("cpp", "int f() {\n    █\n}\n", "std::vector<int> v{1, 2;", False),
]


@pytest.mark.parametrize(("language", "source", "raw", "kept"), CASES)
def test_drop_new_parse_errors(language, source, raw, kept, request_at):
    doc, request = request_at(source, language)
    assert drop_new_parse_errors(raw, request, doc) == (raw if kept else "")


def test_errors_elsewhere_in_the_file_do_not_count(request_at):
    source = "def broken(:\n    pass\n\n" + "x = 1\n" * 50 + "y = █\n" + "z = 2\n" * 50 + "def also_broken(\n"
    doc, request = request_at(source, "python")
    assert drop_new_parse_errors("3", request, doc) == "3"
    assert drop_new_parse_errors("3 +", request, doc) == ""


def test_plain_text_and_no_document_are_not_checked(request_at):
    doc, request = request_at("Dear █\n", None)
    assert drop_new_parse_errors("((", request, doc) == "(("
    _, request = request_at("x = █\n", "python")
    assert drop_new_parse_errors("((", request, None) == "(("
