"""Every major language through every gap mode and filter: one real snippet per cell."""

import pytest

from infill import Completion, Document, build_request, postprocess

# Per language: a block body after an opener (indented with tabs by the model, followed by code
# past the block's end), a call whose closing bracket the model repeats, a comment, a line the
# model loops on, and a statement the model leaves broken.
MATRIX = {
    "python": {
        "block": ("def area(w, h):█\n\nprint(area(2, 3))\n",
                  "\n\tif w < 0:\n\t\treturn 0\n\treturn w * h\n\ndef other():\n\tpass", "\n    if w < 0:\n        return 0\n    return w * h"),
        "rest_of_line": ("total = max(█)\n", "values, default=0))", "values, default=0"),
        "short": ("# Compute the █\nx = 1\n", "mean of xs\nx = 2", "mean of xs"),
        "line": ("def f(xs):\n    out = []\n    █\n    return out\n",
                 "out.append(1)\n    out.append(1)\n    out.append(1)", "out.append(1)"),
        "broken": ("def f(xs):\n    return █\n", "xs[0 +", None),
    },
    "javascript": {
        "block": ("function area(w, h) {█\n}\n",
                  "\n\tif (w < 0) {\n\t\treturn 0;\n\t}\n\treturn w * h;\n}\nfunction other() {}", "\n  if (w < 0) {\n    return 0;\n  }\n  return w * h;"),
        "rest_of_line": ("const total = Math.max(█);\n", "a, b));", "a, b"),
        "short": ("// Compute the █\nlet x = 1;\n", "mean of xs\nlet y;", "mean of xs"),
        "line": ("function f(xs) {\n  const out = [];\n  █\n  return out;\n}\n",
                 "out.push(1);\n  out.push(1);\n  out.push(1);", "out.push(1);"),
        "broken": ("function f(xs) {\n  return █;\n}\n", "xs[0 +", None),
    },
    "typescript": {
        "block": ("function area(w: number, h: number): number {█\n}\n",
                  "\n\treturn w * h;\n}\n", "\n  return w * h;"),
        "rest_of_line": ("const total: number = Math.max(█);\n", "a, b));", "a, b"),
        "short": ("/* Compute the █ */\nlet x = 1;\n", "mean of xs */", "mean of xs"),
        "line": ("function f(xs: number[]) {\n  const out: number[] = [];\n  █\n  return out;\n}\n",
                 "out.push(1);\n  out.push(1);\n  out.push(1);", "out.push(1);"),
        "broken": ("const x: number = █;\n", "1 +* 2", None),
    },
    "go": {
        "block": ("package main\n\nfunc area(w, h int) int {█\n}\n",
                  "\n    if w < 0 {\n        return 0\n    }\n    return w * h\n}\n", "\n\tif w < 0 {\n\t\treturn 0\n\t}\n\treturn w * h"),
        "rest_of_line": ("package main\n\nfunc f() {\n\tfmt.Println(█)\n}\n", "a, b))", "a, b"),
        "short": ("package main\n\n// Area computes the █\nfunc Area() {}\n", "area of a box\nfunc", "area of a box"),
        "line": ("package main\n\nfunc f() {\n\tx := 0\n\t█\n\tprintln(x)\n}\n",
                 "x++\n\tx++\n\tx++", "x++"),
        "broken": ("package main\n\nfunc f() int {\n\treturn █\n}\n", "1 + * / 2", None),
    },
    "rust": {
        "block": ("fn area(w: i32, h: i32) -> i32 {█\n}\n",
                  "\n\tif w < 0 {\n\t\treturn 0;\n\t}\n\tw * h\n}\n", "\n    if w < 0 {\n        return 0;\n    }\n    w * h"),
        "rest_of_line": ("fn main() {\n    let m = std::cmp::max(█);\n}\n", "a, b));", "a, b"),
        "short": ("/// Returns the █\nfn area() {}\n", "area of a box\nfn", "area of a box"),
        "line": ("fn f() {\n    let mut v = Vec::new();\n    █\n    println!(\"{:?}\", v);\n}\n",
                 "v.push(1);\n    v.push(1);\n    v.push(1);", "v.push(1);"),
        "broken": ("fn f() -> i32 {\n    █\n}\n", "let x = ;", None),
    },
    "java": {
        "block": ("class A {\n    int area(int w, int h) {█\n    }\n}\n",
                  "\n\t\treturn w * h;\n\t}\n}", "\n        return w * h;"),
        "rest_of_line": ("class A {\n    void f() {\n        System.out.println(█);\n    }\n}\n", "a + b));", "a + b"),
        "short": ("class A {\n    // Returns the █\n    int f() { return 1; }\n}\n", "answer\n    int", "answer"),
        "line": ("class A {\n    void f() {\n        int x = 0;\n        █\n        g(x);\n    }\n}\n",
                 "x++;\n        x++;\n        x++;", "x++;"),
        "broken": ("class A {\n    int f() {\n        █\n    }\n}\n", "return 1", None),
    },
    "c": {
        "block": ("int area(int w, int h) {█\n}\n",
                  "\n\tif (w < 0) {\n\t\treturn 0;\n\t}\n\treturn w * h;\n}\n", "\n    if (w < 0) {\n        return 0;\n    }\n    return w * h;"),
        "rest_of_line": ("int main(void) {\n    printf(\"%d\\n\", max(█));\n}\n", "a, b)));", "a, b"),
        "short": ("/* Returns the █ */\nint f(void);\n", "area */", "area"),
        "line": ("int f(void) {\n    int x = 0;\n    █\n    return x;\n}\n",
                 "x++;\n    x++;\n    x++;", "x++;"),
        "broken": ("int f(void) {\n    █\n}\n", "int x = ;", None),
    },
    "cpp": {
        "block": ("struct Box {\n    int area(int w, int h) {█\n    }\n};\n",
                  "\n\t\treturn w * h;\n\t}\n};", "\n        return w * h;"),
        "rest_of_line": ("int main() {\n    std::cout << std::max(█);\n}\n", "a, b));", "a, b"),
        "short": ("// Returns the █\nint f();\n", "area\nint", "area"),
        "line": ("int f() {\n    std::vector<int> v;\n    █\n    return v.size();\n}\n",
                 "v.push_back(1);\n    v.push_back(1);\n    v.push_back(1);", "v.push_back(1);"),
        "broken": ("int f() {\n    █\n}\n", "std::vector<int> v{1, 2;", None),
    },
}

EXPECTED_MODE = {"block": "block", "rest_of_line": "rest_of_line", "short": "short", "line": "line",
                 "broken": None}


@pytest.mark.parametrize(("language", "case"), [(lang, case) for lang in MATRIX for case in MATRIX[lang]])
def test_language_matrix(language, case):
    source, raw, expected = MATRIX[language][case]
    offset = source.index("█")
    doc = Document(source.replace("█", ""), language)
    request = build_request(doc, offset)
    assert request is not None
    if EXPECTED_MODE[case]:
        assert request.mode == EXPECTED_MODE[case]
    completion = postprocess(request, raw, doc)
    assert (completion.text if isinstance(completion, Completion) else None) == expected
