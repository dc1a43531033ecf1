from infill.indentation import detect_unit, render


def test_unit_from_steps_into_deeper_lines():
    deep = "def f():\n    for a in b:\n        for c in d:\n            if e:\n                g()\n    return 1\n" * 3
    assert detect_unit(deep, "\t") == "    "


def test_two_spaces_tabs_and_the_default():
    assert detect_unit("if (a) {\n  b();\n  if (c) {\n    d();\n  }\n}\n", "    ") == "  "
    assert detect_unit("func f() {\n\tif x {\n\t\ty()\n\t}\n}\n", "    ") == "\t"
    assert detect_unit("x = 1\ny = 2\n", "\t") == "\t"


def test_render_in_the_files_style():
    assert render(8, "    ") == " " * 8
    assert render(10, "\t") == "\t\t  "
