import pytest

from infill import Completion, Document, Rejection, build_request, postprocess
from infill.completion import STALE

CASES = [
    # (language, source, raw model text, expected completion text or None)
    ("python", "def add(a, b):█\n\nprint(add(1, 2))\n",
     "\n\treturn a + b\n\n\ndef sub(a, b):\n\treturn a - b\n", "\n    return a + b"),
    ("python", "def f(items):\n    total = 0\n    █\n    return total\n",
     "for item in items:\n        total += item\n    return total\n", None),  # a header cut from its body
    ("python", "def f(items):\n    total = 0\n    for item in items:\n        █\n    return total\n",
     "        total += item\n", "total += item"),  # never the indentation twice
    ("python", "def f(items):\n    total = 0\n    █\n    return total\n",
     "total += len(items)\n    return total", "total += len(items)"),
    ("python", "print(█)\n", "'done')", "'done'"),
    ("python", "def f(x):\n    y = x + 1█\n", "\n    return y\n", "\n    return y"),
    ("python", "# Sum the █\nx = 1\n", "values of x\nx = 2", "values of x"),
    ("python", "x = █\n", "   \n\t ", None),
    ("python", "x = █\n", "", None),
    ("python", "x = █\n", "foo(foo(foo(foo(foo(foo(foo(", "foo()"),
    ("javascript", "function greet(name) {█\n}\n", "\n  return `hi ${name}`;\n}\n", "\n  return `hi ${name}`;"),
    ("javascript", "const xs = [1, 2].map(█);\n", "x => x * 2);", "x => x * 2"),
    ("typescript", "function id<T>(x: T): T {\n  █\n}\n", "return x;\n}", "return x;"),
    ("tsx", "const A = () => <div>{█}</div>;\n", "props.name}", "props.name"),
    ("go", "package main\n\nfunc f(x int) int {█\n}\n", "\n    if x > 0 {\n        return x\n    }\n    return -x\n}\n",
     "\n\tif x > 0 {\n\t\treturn x\n\t}\n\treturn -x"),
    ("rust", "fn main() {\n    let v = vec![1, 2];\n    println!(\"{:?}\", █);\n}\n", "v);", "v"),
    ("rust", "fn double(x: i32) -> i32 {\n    █\n}\n", "x * 2\n}", "x * 2"),
    ("java", "class A {\n    int f(int x) {\n        █\n    }\n}\n", "return x + 1", None),
    ("java", "class A {\n    int f(int x) {\n        █\n    }\n}\n", "return x + 1;", "return x + 1;"),
    ("c", "int sq(int x) {\n    return █;\n}\n", "x * x;", "x * x"),
    ("cpp", "#include <vector>\nint f() {\n    std::vector<int> v{█};\n}\n", "1, 2, 3};", "1, 2, 3"),
    ("ruby", "def f(x)\n  puts(█)\nend\n", "x + 1)", "x + 1"),
    (None, "Dear █,\n", "Sir or Madam,", "Sir or Madam"),
    # At the start of a line of code: whole lines go in above it, and the code keeps its place.
    ("python", "def f(xs):\n█    return total\n", "    total = sum(xs)\n", "    total = sum(xs)\n"),
    ("python", "def f(xs):\n    █return total\n", "total = sum(xs)\n    extra", "total = sum(xs)\n    "),
    ("python", "def f(xs):\n    █return total\n", "total = 0\n    return total\n", "total = 0\n    "),
    ("python", "def f(xs):\n    █return total\n", "return total\n", None),
    ("c", "int f(int x) {\n    █return x;\n}\n", "x += 1;\n", "x += 1;\n    "),
    ("javascript", "function f(x) {\n  █return x;\n}\n", "x = x * 2;\n  if (x) {\n    x++;\n  }\n",
     "x = x * 2;\n  if (x) {\n    x++;\n  }\n  "),
    # A cursor at column 0 leaves the first line's indentation to the model, and the rest follows.
    ("python", "def f(i, j):\n    if i == j:\n█\n    return 1\n",
     "        return 0\n    else:\n        return 2\n", "        return 0\n    else:\n        return 2"),
]


@pytest.mark.parametrize(("language", "source", "raw", "expected"), CASES)
def test_postprocess(language, source, raw, expected):
    offset = source.index("█")
    doc = Document(source.replace("█", ""), language)
    request = build_request(doc, offset, max_lines=8)
    completion = postprocess(request, raw, doc)
    assert (completion.text if isinstance(completion, Completion) else None) == expected
    if isinstance(completion, Completion):
        assert (completion.start, completion.end) == (request.offset, request.replace_end)


def test_crlf_documents_get_crlf_completions():
    source = "def f(x):\r\n    █\r\n"
    doc = Document(source.replace("█", ""), "python")
    request = build_request(doc, source.index("█"))
    completion = postprocess(request, "if x:\n        return 1\n    return 2", doc)
    assert completion.text == "if x:\r\n        return 1\r\n    return 2"


def test_trailing_whitespace_is_overwritten():
    source = "def f(x):\n    █   \n"
    doc = Document(source.replace("█", ""), "python")
    request = build_request(doc, source.index("█"))
    assert postprocess(request, "return x", doc) == Completion("return x", request.offset, request.offset + 3)


def test_stale_request_gets_nothing():
    doc = Document("x = 1\ny = \n", "python")
    request = build_request(doc, 10)
    doc.replace_all("x")
    assert postprocess(request, "2", doc) == Rejection(STALE)


def test_without_a_document_the_parse_check_is_skipped():
    doc = Document("x = █\n".replace("█", ""), "python")
    request = build_request(doc, 4)
    assert postprocess(request, "1 +", None).text == "1 +"
