"""Typing through: characters that match the suggestion on screen are answered from memory."""

from __future__ import annotations

# Places to ask for a suggestion; the first that gets one is typed through. (dg-tiny does not answer
# everywhere: the tests are about the server, the model's quality has tests of its own.)
PLACES = [
    ("file:///work/example/shapes.py",
     "class Rectangle:\n    def __init__(self, width, height):\n        self.width = width\n"
     "        self.height = height\n\n    def area(self):\n        return \n", 6, len("        return ")),
    ("file:///work/example/words.py",
     "def count_words(text):\n    words = text.split()\n    return \n", 2, len("    return ")),
    ("file:///work/example/paths.py",
     "import os\n\n\ndef home_file(name):\n    path = \n    return path\n", 4, len("    path = ")),
    ("file:///work/example/sums.py",
     "def total(items):\n    result = 0\n    for item in items:\n        result += \n    return result\n",
     3, len("        result += ")),
    # Comments take any one-line text, so today's dg-tiny answers there most often.
    ("file:///work/example/notes.py",
     "def mean(values):\n    # Return the\n    return sum(values) / len(values)\n", 1, len("    # Return the")),
    ("file:///work/example/docs.py",
     "def mean(values):\n    # This function\n    return sum(values) / len(values)\n", 1, len("    # This function")),
]


async def first_suggestion(lsp):
    """The first suggestion at PLACES whose first three characters stay on the cursor's line."""
    await lsp.wait_ready()
    for uri, text, line, character in PLACES:
        lsp.open(uri, text)
        items = await lsp.complete(uri, line, character)
        if items and len(items[0].insert_text) > 3 and "\n" not in items[0].insert_text[:3]:
            return uri, line, character, items[0]
    raise AssertionError("no suggestion anywhere to type through")


async def test_lsp_typing_through_needs_no_model_call(lsp):
    uri, line, character, item = await first_suggestion(lsp)
    suggestion, end = item.insert_text, item.range.end.character
    calls = (await lsp.status())["model_calls"]

    # The user types the first three characters of the suggestion, one keystroke at a time.
    for typed in (1, 2, 3):
        lsp.edit(uri, (line, character + typed - 1), (line, character + typed - 1), suggestion[typed - 1])
        items = await lsp.complete(uri, line, character + typed)
        assert [i.insert_text for i in items] == [suggestion[typed:]]
        assert (items[0].range.start.character, items[0].range.end.character) == (character + typed, end + typed)

    st = await lsp.status()
    assert st["model_calls"] == calls, "a keystroke that matched the suggestion asked the model"
    assert st["sources"]["typing_through"] == 3
    assert st["typing_through_share"] > 0


async def test_lsp_a_mismatching_keystroke_asks_the_model(lsp):
    uri, line, character, item = await first_suggestion(lsp)
    calls = (await lsp.status())["model_calls"]
    other = "#" if not item.insert_text.startswith("#") else "@"
    lsp.edit(uri, (line, character), (line, character), other)
    await lsp.complete(uri, line, character + 1)
    st = await lsp.status()
    assert st["sources"].get("typing_through", 0) == 0
    assert st["model_calls"] == calls + 1
