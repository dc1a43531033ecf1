import pytest

from infill import Document, build_request
from infill.tokens import chars_for

IMPORTS = "import os\nfrom typing import Any\n\n"
BODY_LINES = "".join(f"        total += compute_{i}(item, offset={i})\n" for i in range(200))
PYTHON = (IMPORTS + "\nclass Ledger:\n    \"\"\"Keeps totals.\"\"\"\n\n"
          "    def summarize(self, items: list[Any],\n                  offset: int = 0) -> int:\n"
          "        total = 0\n" + BODY_LINES + "        return total█\n\n"
          "    def other(self):\n        pass\n")


def context_at(source, language, **options):
    offset = source.index("█")
    doc = Document(source.replace("█", ""), language)
    return doc, offset, build_request(doc, offset, **options)


def test_small_file_is_sent_whole():
    doc, offset, req = context_at("import os\n\ndef f():\n    return █\n\nf()\n", "python")
    assert req.prefix == doc.text[:offset]
    assert req.suffix == doc.text[req.replace_end:]


def test_prefix_ends_at_cursor_and_suffix_starts_at_replace_end():
    doc, offset, req = context_at(PYTHON, "python", prefix_tokens=256, suffix_tokens=64)
    assert req.prefix.endswith("        return total")
    assert doc.text[req.replace_end:].startswith(req.suffix)


def test_cut_prefix_keeps_imports_and_enclosing_headers_in_order():
    doc, offset, req = context_at(PYTHON, "python", prefix_tokens=256, suffix_tokens=64)
    head = req.prefix[:req.prefix.index("        total += ")]
    assert head == ("import os\nfrom typing import Any\nclass Ledger:\n"
                    "    def summarize(self, items: list[Any],\n                  offset: int = 0) -> int:\n")
    assert len(req.prefix) <= chars_for(256)


def test_windows_cut_at_line_boundaries():
    doc, offset, req = context_at(PYTHON, "python", prefix_tokens=300, suffix_tokens=40)
    window = req.prefix[req.prefix.index("        total += "):]
    assert doc.text[offset - len(window) - 1] == "\n"
    assert req.suffix.endswith("\n")
    assert len(req.suffix) <= chars_for(40)


def test_windows_never_cut_inside_a_string():
    doc_text = ("def f():\n    x = 1\n    '''" + "docstring line\n" * 60 + "'''\n"
                + "    y = 2\n" * 3 + "    return █\n" + "    z = 3\n" * 3 + "    s = '''" + "text\n" * 80 + "'''\n")
    doc, offset, req = context_at(doc_text, "python", prefix_tokens=200, suffix_tokens=60)
    assert "docstring" not in req.prefix
    assert "text" not in req.suffix
    assert req.prefix.startswith("def f():\n    y = 2\n")


def test_overlong_line_is_cut_between_tokens():
    line = "var a = [" + ", ".join(f"item{i}" for i in range(2000)) + "];"
    doc, offset, req = context_at(line + "█\n", "javascript", prefix_tokens=100, suffix_tokens=10)
    assert doc.text[offset - len(req.prefix) - 1] in ", "
    assert req.prefix.lstrip(", ").startswith("item")


def test_minified_line_is_cut_after_separators():
    line = "var a=[" + ",".join(f"{{k{i}:'v{i}'}}" for i in range(3000)) + "];"
    middle = line.index(",", len(line) // 2) + 1
    doc, offset, req = context_at(line[:middle] + "█" + line[middle:], "javascript", prefix_tokens=100, suffix_tokens=40)
    assert 0 < len(req.prefix) <= chars_for(100) and doc.text[offset - len(req.prefix) - 1] in ",{}"
    assert 0 < len(req.suffix) <= chars_for(40) and req.suffix[-1] in ",{}"


def test_budgets_bound_the_windows_on_a_large_file():
    source = "x = 1\n" * 20000 + "█\n" + "y = 2\n" * 20000
    doc, offset, req = context_at(source, "python", prefix_tokens=1024, suffix_tokens=256)
    assert len(req.prefix) <= chars_for(1024)
    assert len(req.suffix) <= chars_for(256)


def test_c_like_headers_keep_the_opening_brace():
    body = "".join(f"    x += {i};\n" for i in range(300))
    source = "#include <stdio.h>\n\nint main(void) {\n" + body + "    return █;\n}\n"
    doc, offset, req = context_at(source, "c", prefix_tokens=200)
    assert req.prefix.startswith("#include <stdio.h>\nint main(void) {\n    x += ")


def test_plain_text_is_cut_by_lines():
    source = "".join(f"line {i}\n" for i in range(1000)) + "█"
    doc, offset, req = context_at(source, None, prefix_tokens=100)
    assert req.language == "text"
    assert req.prefix.startswith("line ") and len(req.prefix) <= chars_for(100)


def test_signatures_from_other_open_documents():
    helpers = Document("def parse_header(raw: bytes, *, strict: bool = False) -> dict:\n    return {}\n\n"
                       "def unrelated():\n    pass\n", "python", "/proj/helpers.py")
    other_language = Document("function parse_header() {}\n", "javascript", "/proj/h.js")
    doc, offset, req = context_at("from helpers import parse_header\n\nresult = parse_header(█)\n", "python",
                                  open_documents=[helpers, other_language])
    assert req.prefix.startswith("# /proj/helpers.py\ndef parse_header(raw: bytes, *, strict: bool = False) -> dict:\n"
                                 "from helpers import parse_header\n")
    assert "unrelated" not in req.prefix and "function" not in req.prefix


def test_indent_unit_is_detected_from_the_file():
    two = "function f() {\n  if (x) {\n    y();\n  }\n  █\n}\n"
    tabs = "package main\n\nfunc f() {\n\tif x {\n\t\ty()\n\t}\n\t█\n}\n"
    assert context_at(two, "javascript")[2].indent == "  "
    assert context_at(tabs, "go")[2].indent == "\t"
    assert context_at("█", "python")[2].indent == "    "
    assert context_at("█", "go")[2].indent == "\t"


LONG_BODIES = {
    "go": ("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\ntype S struct{}\n\nfunc (s *S) Run(args []string) error {\n",
           "\tfmt.Println({i})\n", "\treturn █\n}\n",
           "package main\nimport (\n\t\"fmt\"\n\t\"os\"\n)\nfunc (s *S) Run(args []string) error {\n"),
    "rust": ("use std::io;\nuse std::fmt;\n\nimpl Thing {\n    pub fn run(&self, x: i32) -> i32 {\n",
             "        let v{i} = {i};\n", "        █\n    }\n}\n",
             "use std::io;\nuse std::fmt;\nimpl Thing {\n    pub fn run(&self, x: i32) -> i32 {\n"),
    "javascript": ("import fs from 'fs';\nimport { join } from 'path';\n\nclass A {\n  run(x) {\n",
                   "    console.log({i});\n", "    █\n  }\n}\n",
                   "import fs from 'fs';\nimport { join } from 'path';\nclass A {\n  run(x) {\n"),
    "java": ("package a.b;\n\nimport java.util.List;\n\npublic class A {\n    public int run(int x) {\n",
             "        f({i});\n", "        █\n    }\n}\n",
             "package a.b;\nimport java.util.List;\npublic class A {\n    public int run(int x) {\n"),
}


@pytest.mark.parametrize("language", LONG_BODIES)
def test_headers_and_imports_in_each_language(language):
    head, line, tail, expected = LONG_BODIES[language]
    source = head + "".join(line.format(i=i) for i in range(300)) + tail
    doc, offset, req = context_at(source, language, prefix_tokens=200)
    assert req.prefix.startswith(expected)
    assert req.prefix[len(expected):].startswith(line.format(i="")[:4])
    assert len(req.prefix) <= chars_for(200)


def test_prefix_start_stays_put_while_typing():
    source = "".join(f"value_{i} = compute({i})\n" for i in range(400)) + "█\n"
    offset = source.index("█")
    doc = Document(source.replace("█", ""), "python")
    starts = []
    for char in "result = compute(value_1, value_2) + compute(value_3)\nother = result * 2\n":
        doc.apply_change(offset, offset, char)
        offset += 1
        request = build_request(doc, offset, prefix_tokens=256)
        starts.append(offset - len(request.prefix))
    assert len(set(starts)) == 1
