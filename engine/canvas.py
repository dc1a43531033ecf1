"""The infill canvas layout: the one place that decides which context tokens go where.

    encoder (causal, KV-cached):    [far suffix] <sep> [far prefix]
    decoder canvas (bidirectional): [left flank][gap: middle <eoi> <pad>...][right flank]

The engine and the training recipe both build examples through `build_layout`, so the model
is trained on exactly the layout it is served with. Pure Python: no torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

PAD, EOI, BOS, SEP = "<pad>", "<eoi>", "<bos>", "<sep>"
# Order fixes the ids (0..3) in dg-tiny's tokenizer; config pad/eos/bos ids follow it.
SPECIAL_TOKENS = (PAD, EOI, BOS, SEP)


@dataclass(frozen=True)
class Budget:
    """Token budgets of the layout. Measured choices (see MODEL_CARD.md), stored with each model."""

    encoder_suffix: int = 48
    encoder_prefix: int = 160
    left_flank: int = 16
    right_flank: int = 16

    @classmethod
    def from_dict(cls, d: dict) -> Budget:
        return cls(**{k: int(v) for k, v in d.items() if k in cls.__dataclass_fields__})

    def for_canvas(self, canvas_length: int, largest: int) -> Budget:
        """The largest canvas gets the full flank budget. A smaller one keeps more than half of itself
        for the gap, its flanks split in the same proportion; context a flank gives up goes to the encoder."""
        flanks = self.left_flank + self.right_flank
        if canvas_length >= largest or flanks == 0:
            return self
        total = min(flanks, (canvas_length - 1) // 2)
        left = total * self.left_flank // flanks
        return replace(self, left_flank=left, right_flank=total - left)


@dataclass(frozen=True)
class Layout:
    encoder_ids: list[int]
    left_flank: list[int]
    gap_length: int
    right_flank: list[int]

    @property
    def canvas_length(self) -> int:
        return len(self.left_flank) + self.gap_length + len(self.right_flank)

    @property
    def gap_start(self) -> int:
        return len(self.left_flank)

    @property
    def gap_stop(self) -> int:
        return len(self.left_flank) + self.gap_length

    def canvas(self, gap_ids: Sequence[int]) -> list[int]:
        assert len(gap_ids) == self.gap_length
        return [*self.left_flank, *gap_ids, *self.right_flank]


# A 3.5 MB prefix took 12 s and 300 MB of the daemon's memory to tokenize, for a layout that keeps a
# few hundred of its tokens. So only a tail of the prefix (a head of the suffix) is tokenized: cut at a
# line start, and wide enough that every token kept lies past the cut's first line, the one place where
# the tokens can differ from the whole text's (a pre-tokenizer chunk such as a newline with the next
# line's indentation may straddle the cut).
_SPACE = re.compile(r"\s")
CHARS_PER_TOKEN = 8  # a first guess at the span to cut; the span grows until it holds enough tokens
MARGIN_TOKENS = 16


def _cut(text: str, at: int) -> int:
    """A line start at or after `at` (else a whitespace, else `at` itself): where a tail may begin."""
    newline = text.find("\n", at)
    if newline >= 0:
        return newline + 1
    space = _SPACE.search(text, at)
    return space.end() if space else at


def tail_ids(encode: Callable[[str], list[int]], text: str, keep: int) -> list[int]:
    """The last `keep` tokens of `encode(text)`, tokenizing only as much of `text` as they need."""
    if keep <= 0:
        return []
    span = CHARS_PER_TOKEN * (keep + MARGIN_TOKENS)
    while span < len(text):
        cut = _cut(text, len(text) - span)
        first_line = _cut(text, cut) if cut < len(text) else len(text)
        ids = encode(text[cut:])
        if len(ids) - len(encode(text[cut:first_line])) >= keep + MARGIN_TOKENS:
            return ids[len(ids) - keep :]
        span *= 4
    ids = encode(text)
    return ids[max(0, len(ids) - keep) :]


def head_ids(encode: Callable[[str], list[int]], text: str, keep: int) -> list[int]:
    """The first `keep` tokens of `encode(text)`, tokenizing only as much of `text` as they need."""
    if keep <= 0:
        return []
    span = CHARS_PER_TOKEN * (keep + MARGIN_TOKENS)
    while span < len(text):
        # The tokens of the last line before the cut may differ from the whole text's, as in tail_ids.
        cut = text.rfind("\n", 0, span) + 1
        if cut > 0:
            last_line = text.rfind("\n", 0, cut - 1) + 1
            ids = encode(text[:cut])
            if len(ids) - len(encode(text[last_line:cut])) >= keep + MARGIN_TOKENS:
                return ids[:keep]
        span *= 4
    return encode(text)[:keep]


def split_context(
    encode: Callable[[str], list[int]],
    sep_id: int,
    prefix: str,
    suffix: str,
    budget: Budget,
) -> Layout:
    """Split prefix/suffix text into encoder context and flanks (the gap is sized by `fit`).

    The left flank is the cursor's line (its last tokens if long), so typing within a line
    changes only the canvas and leaves the encoder input, and its KV cache, untouched.
    """
    line_start = prefix.rfind("\n") + 1
    line_ids = tail_ids(encode, prefix[line_start:], budget.left_flank + budget.encoder_prefix)
    keep = min(budget.left_flank, len(line_ids))
    left_flank = line_ids[len(line_ids) - keep :]
    far_prefix = (tail_ids(encode, prefix[:line_start], budget.encoder_prefix)
                  + line_ids[: len(line_ids) - keep])[-budget.encoder_prefix :]

    suffix_ids = head_ids(encode, suffix, budget.right_flank + budget.encoder_suffix)
    right_flank = suffix_ids[: budget.right_flank]
    far_suffix = suffix_ids[budget.right_flank : budget.right_flank + budget.encoder_suffix]
    return Layout(encoder_ids=[*far_suffix, sep_id, *far_prefix], left_flank=left_flank, gap_length=0,
                  right_flank=right_flank)


def fit(layout: Layout, canvas_length: int) -> Layout:
    """The layout with a gap that fills a canvas of `canvas_length` tokens."""
    gap_length = canvas_length - len(layout.left_flank) - len(layout.right_flank)
    if gap_length < 1:
        raise ValueError(f"canvas of {canvas_length} tokens leaves no room for a gap")
    return replace(layout, gap_length=gap_length)


def build_layout(
    encode: Callable[[str], list[int]],
    sep_id: int,
    prefix: str,
    suffix: str,
    canvas_length: int,
    budget: Budget,
) -> Layout:
    return fit(split_context(encode, sep_id, prefix, suffix, budget), canvas_length)


def layout_for(encode: Callable[[str], list[int]], sep_id: int, prefix: str, suffix: str, gap_tokens: int,
               canvases: Sequence[int], budget: Budget) -> Layout:
    """The smallest trained canvas whose gap holds `gap_tokens` plus <eoi>; past the largest, the
    canvas grows in steps of 32 tokens with the largest's flanks."""
    return sized(lambda b: split_context(encode, sep_id, prefix, suffix, b), gap_tokens, canvases, budget)


def sized(context: Callable[[Budget], Layout], gap_tokens: int, canvases: Sequence[int], budget: Budget) -> Layout:
    """`layout_for`'s choice of canvas for any layout: `context(budget)` gives the layout's context with
    the flanks that budget allows."""
    largest = max(canvases)
    for canvas in sorted(canvases):
        layout = context(budget.for_canvas(canvas, largest))
        if len(layout.left_flank) + len(layout.right_flank) + gap_tokens + 1 <= canvas:
            return fit(layout, canvas)
    need = len(layout.left_flank) + len(layout.right_flank) + gap_tokens + 1
    return fit(layout, 32 * -(-need // 32))


def gap_target(middle_ids: Sequence[int], gap_length: int, eoi_id: int, pad_id: int) -> list[int]:
    """What a gap should denoise to: the middle, then <eoi>, then <pad> filler."""
    if len(middle_ids) >= gap_length:
        raise ValueError("middle does not fit in the gap")
    return [*middle_ids, eoi_id, *[pad_id] * (gap_length - len(middle_ids) - 1)]


def middle_from_gap(gap_ids: Sequence[int], eoi_id: int | Collection[int], pad_id: int) -> tuple[list[int], bool]:
    """The middle a denoised gap holds, and whether the model marked its end (at its first end token:
    `eoi_id`, or any of several, as DiffusionGemma's eos ids)."""
    ends = {eoi_id} if isinstance(eoi_id, int) else set(eoi_id)
    ids = list(gap_ids)
    for k, t in enumerate(ids):
        if t in ends:
            return ids[:k], True
    return [t for t in ids if t != pad_id], False
