from infill.filters.indent_style import normalize_indentation


def test_tabs_become_the_files_spaces(request_at):
    _, request = request_at("def f(x):█\n", "python")
    raw = "\n\tif x:\n\t\treturn 1\n\treturn 2"
    assert normalize_indentation(raw, request) == "\n    if x:\n        return 1\n    return 2"


def test_two_space_steps_become_four(request_at):
    _, request = request_at("class A:\n    def f(self):\n        █\n", "python")
    raw = "if self.x:\n          return 1\n        return 2"
    assert normalize_indentation(raw, request) == "if self.x:\n            return 1\n        return 2"


def test_spaces_become_the_files_tabs(request_at):
    _, request = request_at("package main\n\nfunc f() {\n\tif x {\n\t\ty()\n\t}\n\t█\n}\n", "go")
    raw = "for i := 0; i < 3; i++ {\n        g(i)\n    }"
    assert normalize_indentation(raw, request) == "for i := 0; i < 3; i++ {\n\t\tg(i)\n\t}"


def test_matching_style_is_left_alone(request_at):
    _, request = request_at("function f() {\n  if (a) {\n    b();\n  }\n  █\n}\n", "javascript")
    raw = "for (const x of xs) {\n    use(x);\n  }"
    assert normalize_indentation(raw, request) == raw


def test_single_line_is_left_alone(request_at):
    _, request = request_at("x = █\n", "python")
    assert normalize_indentation("\t1", request) == "\t1"


def test_continuation_lines_keep_their_alignment(request_at):
    _, request = request_at("def f(a, b):\n    █\n", "python")
    raw = "return compute(a,\n                  b)"
    assert normalize_indentation(raw, request) == raw
