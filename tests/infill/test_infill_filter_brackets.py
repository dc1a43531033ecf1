import pytest

from infill.filters.brackets import balance_brackets

CASES = [
    ("python", "print(█)\n", "f(x", "f(x)"),
    ("python", "print(█)\n", "x))", "x"),
    ("python", "x = █\n", "[1, (2, 3", "[1, (2, 3)]"),
    ("python", "x = █\n", "'abc", "'abc'"),
    ("python", "x = █\n", "d['k'] + 1", "d['k'] + 1"),
    ("python", "x = █\n", "f(')' + y", "f(')' + y)"),
    ("python", "print('hello █')\n", "world') + str(1", "world"),
    ("python", "x = █  # note (\n", "(1", "(1)"),
    ("javascript", "const s = █;\n", "`a ${b}", "`a ${b}`"),
    ("javascript", "foo(bar(█));\n", "1)", "1"),
    ("go", "package main\n\nfunc f() {\n\tg(█)\n}\n", "h(1, 2)", "h(1, 2)"),
    ("rust", "fn f<'a>(x: &'a str) { g(█) }\n", "&'a x", "&'a x"),
    ("c", "int x = f(█);\n", "a[0]]", "a[0]"),
    ("cpp", "auto v = std::vector<int>{█};\n", "1, 2}", "1, 2"),
    ("java", "class A { void f() { g(█); } }\n", "new int[]{1, 2", "new int[]{1, 2}"),
    # A block may leave its own brackets for the parse check to judge, but never closes others.
    ("c", "int f(void) {\n    █\n}\n", "if (x) {\n        y();\n    }\n}", "if (x) {\n        y();\n    }\n"),
    ("c", "int x = █\n", "f(1); /* don't ( */", "f(1); /* don't ( */"),
    ("lua", "local x = █\n", "f(1) --[[ it's ( ]]", "f(1) --[[ it's ( ]]"),
    ("python", "x = █\n", "g(1)  # isn't (", "g(1)  # isn't ("),
    (None, "Note (see █)\n", "page 3) and more", "page 3"),
    # A closer for a bracket an earlier line opened stays when the suffix does not close it.
    ("python", "NAMES = {\n    'a': 1,\n█", "}\nprint(NAMES)", "}\nprint(NAMES)"),
    ("python", "call(\n    a,\n    █\n)\n", "b)", "b"),
    (None, "Don't █\n", "panic, it's fine", "panic, it's fine"),
]


@pytest.mark.parametrize(("language", "source", "raw", "expected"), CASES)
def test_balance_brackets(language, source, raw, expected, request_at):
    _, request = request_at(source, language)
    assert balance_brackets(raw, request) == expected
