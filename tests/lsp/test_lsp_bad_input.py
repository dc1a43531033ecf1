"""Bad input gets an empty list, never a crash: positions outside the document, unknown languages,
documents never opened, binary and huge documents. Each case has a control that does reach the
model, so an empty list means the server refused, not that the engine was not ready."""

from __future__ import annotations

import asyncio

import pytest

URI = "file:///work/example/area.py"
TEXT = "def area(r):\n    pi = \n    return pi * r * r\n"
LINE, CHARACTER = 1, len("    pi = ")


async def _calls(lsp) -> int:
    return (await lsp.status())["model_calls"]


async def test_lsp_invalid_positions(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    for line, character in [(1, 40), (3, 1), (99, 0), (2**31 - 1, 2**31 - 1)]:
        assert await lsp.complete(URI, line, character) == []
    assert await _calls(lsp) == 0
    await lsp.complete(URI, LINE, CHARACTER)
    assert await _calls(lsp) == 1


async def test_lsp_unknown_language_and_unopened_document(lsp):
    await lsp.wait_ready()
    lsp.open("file:///work/example/notes.xyz", TEXT, language_id="xyz")
    assert await lsp.complete("file:///work/example/notes.xyz", LINE, CHARACTER) == []
    assert await lsp.complete("file:///work/example/never-opened.py", LINE, CHARACTER) == []
    assert await _calls(lsp) == 0
    # A language without a grammar is enabled by name, but still not asked of a model that declares
    # other languages (dg-tiny: python); the user is told instead.
    lsp.configure({"enabledLanguages": ["xyz"]})
    for _ in range(50):
        if (await lsp.status())["settings"]["enabledLanguages"] == ["xyz"]:
            break
        await asyncio.sleep(0.02)
    await lsp.complete("file:///work/example/notes.xyz", LINE, CHARACTER)
    assert await _calls(lsp) == 0
    assert (await lsp.status())["languagesNotCovered"] == ["xyz"]


async def test_lsp_binary_and_huge_documents(lsp):
    await lsp.wait_ready()
    lsp.open("file:///work/example/blob.py", TEXT.replace("area", "ar\0ea"))
    assert await lsp.complete("file:///work/example/blob.py", LINE, CHARACTER) == []
    huge = TEXT + "x = 1\n" * 700_000  # 4.2 MB
    lsp.open("file:///work/example/huge.py", huge)
    assert await lsp.complete("file:///work/example/huge.py", LINE, CHARACTER) == []
    assert await _calls(lsp) == 0
    # Editing the huge document still works, and the small one still gets completions.
    lsp.edit("file:///work/example/huge.py", (0, 0), (0, 0), "# edited\n")
    lsp.open(URI, TEXT)
    await lsp.complete(URI, LINE, CHARACTER)
    assert await _calls(lsp) == 1


@pytest.mark.parametrize("client, codec", [(None, "utf-16-le"), (["utf-8"], "utf-8")], indirect=["client"])
async def test_lsp_positions_in_the_negotiated_encoding(lsp, codec):
    """Columns count code units of the negotiated encoding: the completion lands after multi-byte text."""
    await lsp.wait_ready()
    text = "def greet():\n    s = 'héllo 😋' + \n    return s\n"
    uri = "file:///work/example/greet.py"
    lsp.open(uri, text)
    unit = 2 if codec == "utf-16-le" else 1
    character = len("    s = 'héllo 😋' + ".encode(codec)) // unit
    inside_emoji = len("    s = 'héllo ".encode(codec)) // unit + 1
    assert await lsp.complete(uri, 1, inside_emoji) == []
    assert await _calls(lsp) == 0
    items = await lsp.complete(uri, 1, character)
    assert await _calls(lsp) == 1
    for item in items:
        assert (item.range.start.line, item.range.start.character) == (1, character)
