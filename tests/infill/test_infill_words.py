"""The word at the cursor's possible ends, as infill tells the engine (infill/words.py)."""

import re

from hypothesis import given
from hypothesis import strategies as st

from infill import Document, build_request
from infill.words import MAX_ENDS, word_ends

WORDISH = st.text(alphabet="ab_1 .(\n", max_size=60)


def test_the_words_the_document_spells_finish_the_typed_one_most_frequent_first():
    text = "def get_param(self):\n    self.get_path()\n    self.get_param()\n    return self.get_pa"
    assert word_ends(text, len(text)) == ("ram", "th")


def test_a_typed_word_the_document_spells_as_it_stands_may_end_where_it_is():
    text = "self.run()\nrun_all()\nself.run"
    assert set(word_ends(text, len(text))) == {"", "_all"}


def test_no_ends_outside_a_word_inside_one_or_in_a_number():
    assert word_ends("x = foo(1)\nfoo_bar = ", 11) == ()  # after "= "
    text = "foo_bar = 1\nfo = 2\n"
    assert word_ends(text, 2) == ()  # "fo|o_bar": inside a word
    assert word_ends("x = 0x1f\nx1f = 2\n", 8) == ()  # 0x1f is a number


def test_the_word_being_typed_is_not_its_own_evidence():
    text = "values = 1\nvalu"
    assert word_ends(text, len(text)) == ("es",)  # not "": "valu" is spelled only where it is typed


def test_the_request_carries_them():
    text = "import os\n\ndef f(path):\n    return os.path.join(pa"
    request = build_request(Document(text, "python"), len(text))
    assert request is not None and request.word_ends == ("th",)


@given(WORDISH, st.data())
def test_every_end_completes_a_word_spelled_elsewhere_in_the_text(text, data):
    offset = data.draw(st.integers(0, len(text)))
    ends = word_ends(text, offset)
    assert len(ends) <= MAX_ENDS and len(set(ends)) == len(ends)
    if not ends:
        return
    typed = re.search(r"[A-Za-z_][A-Za-z0-9_]*\Z", text[:offset]).group()
    rest = text[: offset - len(typed)] + " " + text[offset:]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rest))
    assert all(typed + end in words for end in ends)
    assert offset == len(text) or not re.match(r"\w", text[offset])
