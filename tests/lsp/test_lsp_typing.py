"""Typing through: characters that match the suggestion on screen are answered from memory."""

from __future__ import annotations

URI = "file:///work/example/shapes.py"
TEXT = '''class Rectangle:
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def area(self):
        return 
'''
LINE, CHARACTER = 6, len("        return ")


async def test_lsp_typing_through_needs_no_model_call(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    items = await lsp.complete(URI, LINE, CHARACTER)
    assert items, "no suggestion to type through"
    suggestion = items[0].insert_text
    end = items[0].range.end.character
    assert len(suggestion) >= 2
    calls = (await lsp.status())["model_calls"]

    # The user types the first characters of the suggestion, one keystroke at a time.
    for typed in range(1, min(4, len(suggestion))):
        lsp.edit(URI, (LINE, CHARACTER + typed - 1), (LINE, CHARACTER + typed - 1), suggestion[typed - 1])
        if suggestion[:typed].endswith("\n"):
            break  # the rest starts on another line: the editor's cursor moved there
        items = await lsp.complete(URI, LINE, CHARACTER + typed)
        assert [i.insert_text for i in items] == [suggestion[typed:]]
        assert (items[0].range.start.character, items[0].range.end.character) == (CHARACTER + typed, end + typed)

    st = await lsp.status()
    assert st["model_calls"] == calls, "a keystroke that matched the suggestion asked the model"
    assert st["sources"]["typing_through"] >= 1
    assert st["typing_through_share"] > 0


async def test_lsp_a_mismatching_keystroke_asks_the_model(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    items = await lsp.complete(URI, LINE, CHARACTER)
    assert items
    other = "#" if not items[0].insert_text.startswith("#") else "@"
    lsp.edit(URI, (LINE, CHARACTER), (LINE, CHARACTER), other)
    await lsp.complete(URI, LINE, CHARACTER + 1)
    st = await lsp.status()
    assert st["sources"].get("typing_through", 0) == 0
    assert st["model_calls"] == 2
