"""The ways the word at the cursor may end, from the words the document already spells.

Most keystrokes land inside a word (typing held-out Python, 75-80% of them), and a small model finishes
an identifier badly: dg-tiny's own answers had a right first part at about 2% of keystrokes, while the
document's most frequent word that extends the typed part was the right one at 40-48% (`bench.typing`'s
held-out files; the model card has the figures). So the engine is told these endings and keeps its
middle to one of them (engine/protocol.py, `word_ends`): the model chooses among them and writes on
from there.
"""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WORD_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_ENDS = 32  # the wire's limit (engine/protocol.py, MAX_WORD_ENDS)
# The words around the cursor that are counted: enough for a module's names, and a bounded cost per
# keystroke in a large file.
BEFORE_CHARS, AFTER_CHARS = 48_000, 16_000


def word_ends(text: str, offset: int) -> tuple[str, ...]:
    """The ends of the words in `text` (the word at `offset` left out) that extend the word the cursor
    ends, most frequent first; () when the cursor ends no word, is inside one, or no other word
    extends it. An end "" says the word as typed is itself one the text spells."""
    match = WORD_START.search(text, max(0, offset - 128), offset)
    if match is None or (offset < len(text) and (text[offset].isalnum() or text[offset] == "_")):
        return ()
    start, typed = match.start(), match.group()
    if start and text[start - 1].isdigit():
        return ()  # a number's digits and letters (0x1f, 1e10), not a word
    counts = Counter(w for w in WORD.findall(text, max(0, start - BEFORE_CHARS), start) if w.startswith(typed))
    counts.update(w for w in WORD.findall(text, offset, offset + AFTER_CHARS) if w.startswith(typed))
    return tuple(w[len(typed):] for w, _ in counts.most_common(MAX_ENDS))
