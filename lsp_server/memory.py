"""What the server remembers between keystrokes, so most of them need no model call.

- Typing through: the suggestion last shown in a document. While the user types characters that
  match its start, the rest of it is still right where the cursor now is.
- A small LRU of model answers keyed by the context sent to the model (prefix and suffix windows and
  gap size): deleting what was just typed, or asking again at the same place, costs no model call.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

CACHE_SIZE = 64


@dataclass(frozen=True)
class Shown:
    """A suggestion as shown: `insert` replaces text[offset:end] of the document text `text`."""

    text: str
    offset: int
    end: int
    insert: str

    def rest_after(self, text: str, cursor: int) -> tuple[str, int] | None:
        """(the rest of the suggestion, the end of the range it replaces) if the only change since
        it was shown is typing its first characters at its offset, with the cursor after them."""
        typed = cursor - self.offset
        if not 0 <= typed < len(self.insert) or len(text) != len(self.text) + typed:
            return None
        if not text.startswith(self.insert[:typed], self.offset):
            return None
        # Compare the untouched text around the typed characters: str comparison is a memcmp.
        if text[:self.offset] != self.text[:self.offset] or text[cursor:] != self.text[self.offset:]:
            return None
        return self.insert[typed:], self.end + typed


@dataclass(frozen=True)
class Answer:
    """A model answer before post-processing, which depends on the document it is applied to."""

    text: str
    token_confidences: list[float]
    token_ends: list[int]


class AnswerCache:
    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[tuple, Answer] = OrderedDict()

    def get(self, key: tuple) -> Answer | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer

    def put(self, key: tuple, answer: Answer) -> None:
        self._items[key] = answer
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
