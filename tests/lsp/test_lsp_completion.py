"""Inline completions end to end: the real server, daemon and embedded model."""

from __future__ import annotations

import ast

# Cursors that end a comment, where the server asks for a short completion that must keep the file
# parsing. (Places where only good code parses belong to dg-tiny's quality tests, bench/humaneval_infill.py.)
# Today's dg-tiny often judges that a comment ends where it stands, and nothing is shown; several
# comments make it all but certain that one gets a completion.
COMMENTS = ["# Add up the", "# Return the", "# This function", "# Count the", "# Compute the", "# Add"]


def document(comment: str) -> tuple[str, int, int]:
    text = f"def mean(values):\n    {comment}\n    total = sum(values)\n    return total / len(values)\n"
    return text, 1, len(f"    {comment}")


async def first_answered(lsp):
    """The first comment cursor that gets a completion: (uri, text, line, character, items, cursors tried)."""
    for tried, comment in enumerate(COMMENTS, start=1):
        uri, (text, line, character) = f"file:///work/example/stats{tried}.py", document(comment)
        lsp.open(uri, text)
        items = await lsp.complete(uri, line, character)
        if items:
            return uri, text, line, character, items, tried
    raise AssertionError(f"no completion at the end of any of {COMMENTS}")


async def test_lsp_completion_makes_the_file_parse(lsp, accept):
    await lsp.wait_ready()
    _uri, text, line, character, items, tried = await first_answered(lsp)
    for item in items:
        assert (item.range.start.line, item.range.start.character) == (line, character)
        ast.parse(accept(text, item))  # raises SyntaxError if the completion broke the file
    st = await lsp.status()
    assert st["sources"] == {"model": tried}
    assert st["model_calls"] == tried and st["latency_ms"]["count"] == tried


async def test_lsp_same_context_again_is_served_from_the_cache(lsp):
    await lsp.wait_ready()
    uri, _text, line, character, first, tried = await first_answered(lsp)
    # Type a character and delete it: the context is the same as before, so is the answer.
    lsp.edit(uri, (line, character), (line, character), "(")
    lsp.edit(uri, (line, character), (line, character + 1), "")
    again = await lsp.complete(uri, line, character)
    assert [i.insert_text for i in again] == [i.insert_text for i in first]
    st = await lsp.status()
    assert st["sources"].get("cache") == 1
    assert st["model_calls"] == tried
