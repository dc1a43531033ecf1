"""A request's `word_ends`: the middle finishes the word at the cursor with one of them (engine/serve/lead.py)."""

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine import protocol as p
from engine.serve.lead import Lead, LeadMasks, continues_word

PREFIX = "def mean(values):\n    total = sum(values)\n    count = len(values)\n    return total / co"


def test_the_wire_takes_a_short_list_of_word_ends_and_refuses_anything_else():
    assert p.infill_request("a", "x = fo", "", max_tokens=8, word_ends=["o", "obar"]).word_ends == ("o", "obar")
    assert "word_ends" not in p.infill_fields("x", "", max_tokens=8)  # only sent when there are some
    for bad in ("obar", [1], ["o-bar"], ["é"], ["a" * 129], ["a"] * 33):
        with pytest.raises(p.EngineError) as err:
            p.parse_infill({"id": "a", "prefix": "x = fo", "max_tokens": 8, "word_ends": bad})
        assert err.value.code == p.BAD_REQUEST


def test_a_lead_follows_the_tokens_written_until_the_word_has_ended():
    lead = Lead.of("co", ["unt", "unter"])
    assert lead == Lead(("count", "counter"), word=True)
    lead = lead.after("count")
    assert lead == Lead(("", "er"), word=True)  # it may end here, or go on to "counter"
    assert lead.after(")") is None
    assert Lead.of("co", []) == Lead(("co",)) and Lead(("co",)).after("co") is None
    assert Lead.of("", []) is None


@pytest.fixture(scope="module")
def masks(engine):
    return engine.lm.lead_masks


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="co_un t(\n", max_size=7), min_size=1, max_size=3), st.booleans())
def test_a_leads_mask_is_the_vocabulary_scan_it_replaces(engine, masks, texts, word):
    texts = [t for t in texts if t or word]  # a lead that is not a word's never holds "" (Lead.after)
    assume(texts)
    lead = Lead(tuple(dict.fromkeys(texts)), word)
    texts_of = engine.lm.token_texts
    ends = set(engine.lm.end_ids)

    def allowed(i: int) -> bool:
        t = texts_of[i]
        if not t:
            return word and "" in lead.texts and i in ends
        return any(x.startswith(t) or (t.startswith(x) and not (word and continues_word(t[len(x)])))
                   for x in lead.texts)

    mask = masks.allowed(lead)
    assert mask.nonzero().flatten().tolist() == [i for i in range(len(texts_of)) if allowed(i)]


def test_the_middle_finishes_the_word_with_one_of_its_ends(engine):
    from engine.serve.engine import Job

    for ends in (["unt"], ["lor", "mplex"]):
        (result,) = engine.run([Job(p.infill_request("w", PREFIX, "\n", max_tokens=16, max_lines=1,
                                                     word_ends=ends))])
        word = re.match(r"\w*", result.text).group()
        assert word in ends, (ends, result.text)


def test_without_word_ends_the_model_is_free(engine):
    from engine.serve.engine import Job

    (free,) = engine.run([Job(p.infill_request("w", PREFIX, "\n", max_tokens=16, max_lines=1))])
    (kept,) = engine.run([Job(p.infill_request("w", PREFIX, "\n", max_tokens=16, max_lines=1,
                                               word_ends=["mplex"]))])
    assert kept.text.startswith("mplex") and not free.text.startswith("mplex")


def test_a_masks_cache_is_bounded(engine):
    masks = LeadMasks(engine.lm.token_texts, engine.lm.end_ids, "cpu")
    for k in range(4100):
        masks.allowed(Lead((f"x{k}",), True))
    assert len(masks._masks) <= 4096
