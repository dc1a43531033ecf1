"""Token counts estimated from characters: the daemon owns the tokenizer, this side only budgets."""

from __future__ import annotations

# Code averages about 3.5 characters per token under BPE vocabularies of Gemma's size.
CHARS_PER_TOKEN = 3.5


def chars_for(tokens: int) -> int:
    return int(tokens * CHARS_PER_TOKEN)

