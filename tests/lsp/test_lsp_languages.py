"""A model answers only in the languages it declares (dg.json); elsewhere the user is told why, once."""

from __future__ import annotations

import ast

JS = "function add(a, b) {\n  return \n}\n"


async def test_lsp_a_language_the_model_does_not_cover_gets_no_model_call_and_one_message(lsp):
    await lsp.wait_ready()
    for k in range(3):
        uri = f"file:///work/example/add{k}.js"
        lsp.open(uri, JS, "javascript")
        assert await lsp.complete(uri, 1, len("  return ")) == []
    shown = [m.message for m in lsp.client.messages if "javascript" in m.message]
    assert len(shown) == 1 and "dg.modelDir" in shown[0] and "python" in shown[0]
    st = await lsp.status()
    assert st["model_calls"] == 0
    assert st["languagesNotCovered"] == ["javascript"]
    assert st["engine"]["status"]["languages"] == ["python"]


async def test_lsp_an_indented_blank_line_gets_no_second_indent(lsp, accept):
    """Token healing: a cursor after the indentation must not get the indentation again."""
    await lsp.wait_ready()
    lsp.configure({"minConfidence": 0.0})
    texts = [
        "def mean(values):\n    total = sum(values)\n    \n    return total / count\n",
        "def area(w, h):\n    \n",
        "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        \n",
    ]
    answered = 0
    for k, text in enumerate(texts):
        uri = f"file:///work/example/indent{k}.py"
        lsp.open(uri, text)
        line = next(i for i, row in enumerate(text.split("\n")) if row.strip() == "" and row)
        items = await lsp.complete(uri, line, len(text.split("\n")[line]))
        for item in items:
            answered += 1
            assert not item.insert_text.startswith((" ", "\t")), item.insert_text
            ast.parse(accept(text, item))
    assert answered, "no completion at any indented blank line"
