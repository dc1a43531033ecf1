"""What a middle must start with, as a constraint on the tokens the left-to-right orders fix.

Two sources:
- token healing: the prefix is backed up to its last token boundary (LoadedModel.heal), and the middle
  re-writes the text backed over;
- the word at the cursor: a request's `word_ends` are the ways the document's own words finish the
  word the cursor is in (infill/words.py). The middle writes one of them, then a character that cannot
  continue a word, so it finishes the word with one the file already spells rather than a misspelling.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

# The last character a string of text can hold: every string that starts with t sorts below t + TOP.
TOP = "\U0010ffff"


def continues_word(char: str) -> bool:
    """The wire's definition (engine/protocol.py, `word_ends`): letters, digits and "_" continue a word."""
    return char.isalnum() or char == "_"


@dataclass(frozen=True)
class Lead:
    texts: tuple[str, ...]  # the middle starts with one of these
    word: bool = False  # ... and then a character that cannot continue a word, or its end

    @classmethod
    def of(cls, healed: str, word_ends: Sequence[str]) -> Lead | None:
        if word_ends:
            return cls(tuple(dict.fromkeys(healed + end for end in word_ends)), word=True)
        return cls((healed,)) if healed else None

    def after(self, token: str) -> Lead | None:
        """What is still to be written once a token of text `token` that the lead allows is fixed; None
        when nothing is."""
        if any(token.startswith(t) and len(token) > len(t) for t in self.texts):
            return None  # it wrote past one of them, across the word's end
        rest = tuple(t[len(token):] for t in self.texts if t.startswith(token))
        if not self.word:
            rest = tuple(r for r in rest if r)
        return Lead(rest, self.word) if rest else None


# The masks remembered, in bytes: a mask is a byte per token of the vocabulary, so a count would not
# bound them (4,096 of DiffusionGemma's would take 1 GiB).
MASK_CACHE_BYTES = 32 * 2**20


class LeadMasks:
    """(vocab,) masks of the tokens a Lead allows, built from a sorted index of the tokens' texts, so that
    a mask costs the lengths of the lead's texts and the tokens that start with them, not a vocabulary
    scan (262,144 tokens for DiffusionGemma)."""

    def __init__(self, token_texts: list[str], end_ids: Sequence[int], device: torch.device | str):
        self.vocab, self.device = len(token_texts), device
        self.max_masks = max(1, MASK_CACHE_BYTES // self.vocab)
        self.ids_of: dict[str, list[int]] = {}
        for i, text in enumerate(token_texts):
            if text:
                self.ids_of.setdefault(text, []).append(i)
        self.sorted_texts = sorted(self.ids_of)
        # A word may end where the middle does: an end token takes no text.
        self.word_end = [i for text, ids in self.ids_of.items() if not continues_word(text[0]) for i in ids]
        self.word_end += list(end_ids)
        self._masks: dict[Lead, torch.Tensor] = {}

    def allowed(self, lead: Lead) -> torch.Tensor:
        """Remembered: leads repeat (indentation, common identifier starts) from keystroke to keystroke."""
        mask = self._masks.get(lead)
        if mask is None:
            if len(self._masks) >= self.max_masks:
                self._masks.clear()
            ids: list[int] = []
            for text in lead.texts:
                ids += self._ids(text, lead.word)
            mask = torch.zeros(self.vocab, dtype=torch.bool)
            mask[torch.tensor(ids, dtype=torch.long)] = True
            mask = self._masks[lead] = mask.to(self.device)
        return mask

    def _ids(self, text: str, word: bool) -> list[int]:
        if not text:
            return self.word_end if word else []
        # Tokens that are a first part of `text`, then those that cover all of it.
        ids = [i for j in range(1, len(text) + 1) for i in self.ids_of.get(text[:j], ())]
        lo = bisect.bisect_left(self.sorted_texts, text)
        hi = bisect.bisect_left(self.sorted_texts, text + TOP, lo)
        for longer in self.sorted_texts[lo:hi]:
            if len(longer) > len(text) and not (word and continues_word(longer[len(text)])):
                ids += self.ids_of[longer]
        return ids
