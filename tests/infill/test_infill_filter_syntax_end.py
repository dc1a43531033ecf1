from infill.filters.syntax_end import stop_at_syntax_end


def test_single_line_modes_stop_at_the_newline(request_at):
    _, request = request_at("x = █\n", "python")
    assert stop_at_syntax_end("1\ny = 2\n", request) == "1"
    _, request = request_at("# the █\n", "python")
    assert request.mode == "short"
    assert stop_at_syntax_end("answer\nx = 1", request) == "answer"


def test_block_after_opener_stops_at_dedent_python(request_at):
    _, request = request_at("def f(x):█\n\nprint(f(1))\n", "python")
    raw = "\n    y = x + 1\n    if y:\n        y += 1\n\n    return y\n\ndef g():\n    pass\n"
    assert stop_at_syntax_end(raw, request) == "\n    y = x + 1\n    if y:\n        y += 1\n\n    return y\n"


def test_block_on_empty_line_stops_at_dedent_go(request_at):
    _, request = request_at("package main\n\nfunc f() {\n\tx := 1\n\t█\n}\n", "go")
    assert request.mode == "block"
    raw = "if x > 0 {\n\t\tx--\n\t}\n}\n\nfunc g() {}\n"
    assert stop_at_syntax_end(raw, request) == "if x > 0 {\n\t\tx--\n\t}"


def test_block_stops_at_the_closing_brace_rust(request_at):
    _, request = request_at("fn main() {█\n}\n", "rust")
    raw = "\n    let x = 1;\n    println!(\"{}\", x);\n}\n"
    assert stop_at_syntax_end(raw, request) == "\n    let x = 1;\n    println!(\"{}\", x);"


def test_block_keeps_a_completion_without_dedent(request_at):
    _, request = request_at("class A {\n    void f() {█\n    }\n}\n", "java")
    raw = "\n        int x = 1;\n        g(x);"
    assert stop_at_syntax_end(raw, request) == raw


def test_the_end_of_a_line_of_code_may_go_on_to_the_next_line(request_at):
    _, request = request_at("def f(x):\n    y = x + 1█\n", "python")
    assert request.mode == "rest_of_line"
    assert stop_at_syntax_end("\n    return y\n\nprint(f(1))", request) == "\n    return y"
    assert stop_at_syntax_end("0\n    return y", request) == "0"


def test_a_newline_before_text_on_the_line_is_not_a_next_line(request_at):
    _, request = request_at("print(█)\n", "python")
    assert stop_at_syntax_end("\nx", request) == ""
