import pytest

from infill.gap import BLOCK, LINE, REST_OF_LINE, SHORT, classify

CASES = [
    # Python
    ("python", "def f(x):█\n    pass\n", BLOCK),
    ("python", "def f(x):\n    █\n", BLOCK),
    ("python", "def f(x):  # why\n    █\n", BLOCK),
    ("python", "def f(x):\n    y = 1\n    █\n    return y\n", LINE),
    ("python", "def f(x):\n    y = 1\n    █\n\ndef g():\n    pass\n", BLOCK),
    ("python", "x = foo(█)\n", REST_OF_LINE),
    ("python", "x = █\n", REST_OF_LINE),
    ("python", "# compute the █\nx = 1\n", SHORT),
    ("python", "# compute the█", SHORT),
    ("python", "s = 'hello █'\n", SHORT),
    ("python", 'def f():\n    """Return █\n    """\n', SHORT),
    ("python", "s = f'{█}'\n", REST_OF_LINE),
    ("python", "value = compu█te()\n", None),
    ("python", "s = 'hel█lo'\n", None),
    # JavaScript / TypeScript / TSX
    ("javascript", "function f(x) {█\n}\n", BLOCK),
    ("javascript", "function f(x) {\n  █\n}\n", BLOCK),
    ("javascript", "const a = [1, 2];\n█\nconsole.log(a);\n", LINE),
    ("javascript", "console.log(█);\n", REST_OF_LINE),
    ("javascript", "// TODO █\n", SHORT),
    ("javascript", "const s = `a ${█} b`;\n", REST_OF_LINE),
    ("javascript", "const s = `a █ b`;\n", SHORT),
    ("javascript", "const val█ue = 1;\n", None),
    ("typescript", "interface A {█\n}\n", BLOCK),
    ("typescript", "const x: number = █;\n", REST_OF_LINE),
    ("typescript", "/** Adds █ */\nfunction add(a: number) {}\n", SHORT),
    ("tsx", "const A = () => {\n  █\n};\n", BLOCK),
    ("tsx", "const A = () => <div className=\"a █\" />;\n", SHORT),
    # Go
    ("go", "package main\n\nfunc main() {█\n}\n", BLOCK),
    ("go", "package main\n\nfunc main() {\n\tx := 1\n\t█\n\tprintln(x)\n}\n", LINE),
    ("go", "package main\n\nfunc main() {\n\tfmt.Println(█)\n}\n", REST_OF_LINE),
    ("go", "package main\n\n// main █\nfunc main() {}\n", SHORT),
    ("go", "package main\n\nvar s = \"a █\"\n", SHORT),
    # Rust
    ("rust", "fn main() {█\n}\n", BLOCK),
    ("rust", "fn main() {\n    let x = 1;\n    █\n    println!(\"{}\", x);\n}\n", LINE),
    ("rust", "fn f<'a>(x: &'a str) -> &'a str { █x }\n", REST_OF_LINE),
    ("rust", "/// Returns █\nfn f() {}\n", SHORT),
    ("rust", "fn ma█in() {}\n", None),
    ("rust", "fn f() -█> i32 { 1 }\n", None),
    ("python", "if a =█= b:\n    pass\n", None),
    ("javascript", "const f = (a) =█> a;\n", None),
    ("tsx", "const A = () => <p>hello █world</p>;\n", REST_OF_LINE),
    # Java
    ("java", "class A {\n    void f() {█\n    }\n}\n", BLOCK),
    ("java", "class A {\n    void f() {\n        int x = 1;\n        █\n        g(x);\n    }\n}\n", LINE),
    ("java", "class A {\n    void f() { System.out.println(█); }\n}\n", REST_OF_LINE),
    ("java", "class A {\n    String s = \"x █\";\n}\n", SHORT),
    # C / C++
    ("c", "int main(void) {█\n}\n", BLOCK),
    ("c", "int main(void) {\n    int x = 1;\n    █\n    return x;\n}\n", LINE),
    ("c", "int main(void) {\n    printf(\"%d\\n\", █);\n}\n", REST_OF_LINE),
    ("c", "/* block █ */\nint x;\n", SHORT),
    ("c", "/* block */█\nint x;\n", REST_OF_LINE),
    ("cpp", "namespace a {\nclass B {█\n};\n}\n", BLOCK),
    ("cpp", "auto s = std::string(\"a █\");\n", SHORT),
    ("cpp", "int f() { return █; }\n", REST_OF_LINE),
    # More grammars
    ("ruby", "def f(x)\n  [1, 2].each do█\nend\n", BLOCK),
    ("ruby", "def f(x)\n  puts(█)\nend\n", REST_OF_LINE),
    ("lua", "if x then█\nend\n", BLOCK),
    ("bash", "for f in *; do█\ndone\n", BLOCK),
    ("c_sharp", "class A {\n    void F() {█\n    }\n}\n", BLOCK),
    ("kotlin", "fun f() {█\n}\n", BLOCK),
    ("php", "<?php\nfunction f() {█\n}\n", BLOCK),
    ("c_sharp", 'class A { string s = "a █"; }\n', SHORT),
    ("c_sharp", "class A { void F() { G(█); } }\n", REST_OF_LINE),
    ("kotlin", "fun f() {\n    // note █\n}\n", SHORT),
    ("kotlin", "fun f() {\n    g(█)\n}\n", REST_OF_LINE),
    ("scala", "object A {\n  def f(x: Int): Int =█\n}\n", BLOCK),
    ("php", '<?php\n$s = "a █";\n', SHORT),
    ("ruby", "# note █\nx = 1\n", SHORT),
    ("lua", "--[[ block █ ]]\n", SHORT),
    ("lua", "--[[ block ]]█\n", REST_OF_LINE),
    ("bash", 'echo "a █"\n', SHORT),
    ("css", "a {\n  /* note █ */\n}\n", SHORT),
    ("css", "a {█\n}\n", BLOCK),
    ("html", "<!-- note █ -->\n", SHORT),
    ("html", '<div class="a █"></div>\n', SHORT),
    ("json", '{"a": "b █"}\n', SHORT),
    ("yaml", "a: # note █\n", SHORT),
    ("yaml", "a:█\n", BLOCK),
    ("toml", 'a = "b █"\n', SHORT),
    # Plain text: no syntax, only lines
    (None, "Dear █\n", REST_OF_LINE),
    (None, "First line.\n█\nLast line.\n", LINE),
    (None, "some█thing", None),
]


@pytest.mark.parametrize(("language", "source", "mode"), CASES)
def test_gap_mode_follows_the_syntax_at_the_cursor(language, source, mode, cursor_doc):
    doc, offset = cursor_doc(source, language)
    gap = classify(doc, offset)
    assert (gap.mode if gap else None) == mode


def test_trailing_whitespace_after_the_cursor_is_overwritten(cursor_doc):
    doc, offset = cursor_doc("def f():\n    █   \n", "python")
    gap = classify(doc, offset)
    assert gap.replace_end == offset + 3


def test_rest_of_line_replaces_nothing(cursor_doc):
    doc, offset = cursor_doc("x = foo(█)\n", "python")
    assert classify(doc, offset).replace_end == offset


def test_crlf_line_end_excludes_the_carriage_return(cursor_doc):
    doc, offset = cursor_doc("if (x) {█  \r\n}\r\n", "c")
    gap = classify(doc, offset)
    assert gap.mode == BLOCK and doc.text[gap.replace_end:].startswith("\r\n")


def test_no_gap_between_carriage_return_and_newline(cursor_doc):
    doc, offset = cursor_doc("a\r█\nb", "python")
    assert classify(doc, offset) is None
