"""Inline completions end to end: the real server, daemon and embedded model."""

from __future__ import annotations

import ast

URI = "file:///work/example/stats.py"
# The cursor ends a comment, where the server asks for a short completion that must keep the file
# parsing. (Places where only good code parses belong to dg-tiny's quality tests, bench/humaneval_infill.py.)
TEXT = "def mean(values):\n    # Add up the\n    total = sum(values)\n    return total / len(values)\n"
LINE, CHARACTER = 1, len("    # Add up the")


async def test_lsp_completion_makes_the_file_parse(lsp, accept):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    items = await lsp.complete(URI, LINE, CHARACTER)
    assert items, "no completion at the end of a comment"
    item = items[0]
    assert (item.range.start.line, item.range.start.character) == (LINE, CHARACTER)
    ast.parse(accept(TEXT, item))  # raises SyntaxError if the completion broke the file
    st = await lsp.status()
    assert st["sources"] == {"model": 1}
    assert st["model_calls"] == 1 and st["latency_ms"]["count"] == 1


async def test_lsp_same_context_again_is_served_from_the_cache(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    first = await lsp.complete(URI, LINE, CHARACTER)
    assert first, "no answer to remember"  # blank answers are not cached
    # Type a character and delete it: the context is the same as before, so is the answer.
    lsp.edit(URI, (LINE, CHARACTER), (LINE, CHARACTER), "(")
    lsp.edit(URI, (LINE, CHARACTER), (LINE, CHARACTER + 1), "")
    again = await lsp.complete(URI, LINE, CHARACTER)
    assert [i.insert_text for i in again] == [i.insert_text for i in first]
    st = await lsp.status()
    assert st["sources"].get("cache") == 1
    assert st["model_calls"] == 1
