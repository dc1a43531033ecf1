"""A huge document costs the tokenizer what the layout keeps: split_context tokenizes a tail of the
prefix and a head of the suffix, and gets exactly the tokens the whole text would give."""

from __future__ import annotations

import random
import sysconfig
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from engine import DEFAULT_MODEL_DIR
from engine.canvas import Budget, head_ids, split_context, tail_ids

TOKENIZER = Tokenizer.from_file(str(DEFAULT_MODEL_DIR / "tokenizer.json"))
SOURCES = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))[:40]


def encode(text: str) -> list[int]:
    return TOKENIZER.encode(text, add_special_tokens=False).ids


@pytest.mark.parametrize("path", SOURCES[::4], ids=lambda p: p.name)
def test_tail_and_head_match_the_whole_texts_tokens(path):
    text = path.read_text(errors="replace")
    rng = random.Random(path.name)
    whole = encode(text)
    for _ in range(20):
        keep = rng.choice([1, 16, 48, 160, 600])
        end = rng.randrange(len(text) + 1)
        assert tail_ids(encode, text[:end], keep) == encode(text[:end])[-keep:], (end, keep)
        start = rng.randrange(len(text) + 1)
        assert head_ids(encode, text[start:], keep) == encode(text[start:])[:keep], (start, keep)
    assert tail_ids(encode, text, 10**6) == whole


def test_one_huge_line_matches_too():
    line = "".join(f"v{i}=f({i},'x'*{i%7});" for i in range(20000))
    assert tail_ids(encode, line, 100) == encode(line)[-100:]
    assert head_ids(encode, line, 100) == encode(line)[:100]


def test_a_huge_prefix_is_tokenized_only_as_far_as_the_layout_keeps():
    seen = []

    def counting(text: str) -> list[int]:
        seen.append(len(text))
        return encode(text)

    prefix = "x = compute(1, 2)\n" * 200_000 + "    return "  # 3.6 MB
    suffix = "\n" + "y = other(3)\n" * 200_000
    budget = Budget()
    layout = split_context(counting, 3, prefix, suffix, budget)
    # What the whole texts' tokens give (the cursor's line is short: it is all left flank).
    whole_prefix, whole_suffix = encode(prefix[: -len("    return ")]), encode(suffix)
    assert layout.left_flank == encode("    return ")
    assert layout.encoder_ids == [*whole_suffix[budget.right_flank : budget.right_flank + budget.encoder_suffix], 3,
                                  *whole_prefix[-budget.encoder_prefix :]]
    assert layout.right_flank == whole_suffix[: budget.right_flank]
    assert sum(seen) < 50_000, f"tokenized {sum(seen)} characters of {len(prefix) + len(suffix)}"
