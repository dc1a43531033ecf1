import pytest

from infill.filters.suffix_repeat import drop_suffix_repeat

CASES = [
    # The rest of the line typed out again.
    ("python", "print(█)\n", "value)", "value"),
    ("python", "print(█)\n", "len(value))", "len(value)"),
    ("python", "print(█)\n", "f(x)", "f(x)"),
    ("python", "for item in █:\n    pass\n", "items:", "items"),
    ("javascript", "call(a, █, c);\n", "b, c);", "b"),
    ("go", "package main\n\nfunc f() {\n\tg(█)\n}\n", "x) // done", "x"),
    ("rust", "fn f() {\n    let v = vec![█];\n}\n", "1, 2];", "1, 2"),
    ("c", "int x = f(█);\n", "a, b);", "a, b"),
    ("python", "x = compute(█)\n", "compute)", "compute"),
    ("python", "name = █ + suffix\n", "prefix", "prefix"),
    # A whole completion that only repeats the suffix.
    ("python", "foo(█bar)\n", "bar", ""),
    # The next line repeated.
    ("python", "def f(x):\n    y = 2 * x\n    █\n    return y\n", "y += 1\n    return y", "y += 1"),
    ("python", "def f(x):\n    █\n    return x\n", "return x", ""),
    ("java", "class A {\n    void f() {\n        █\n    }\n}\n", "g();\n    }", "g();"),
    ("c", "int f(void) {\n    █\n}\n", "int x = 1;\n    if (x) {\n        x++;\n    }\n    return x;\n}",
     "int x = 1;\n    if (x) {\n        x++;\n    }\n    return x;"),
    ("javascript", "function f() {\n  █\n}\nf();\n", "return 1;\n}\nf();", "return 1;"),
]


@pytest.mark.parametrize(("language", "source", "raw", "expected"), CASES)
def test_drop_suffix_repeat(language, source, raw, expected, request_at):
    _, request = request_at(source, language)
    assert drop_suffix_repeat(raw, request) == expected


def test_a_closer_inside_the_completion_is_kept_when_it_closes_its_own_bracket(request_at):
    _, request = request_at("c(█)\n", "python")
    assert drop_suffix_repeat("a(b) + d(e)", request) == "a(b) + d(e)"


def test_plain_text_repeats(request_at):
    _, request = request_at("Dear █,\n", None)
    assert drop_suffix_repeat("Sir,", request) == "Sir"
