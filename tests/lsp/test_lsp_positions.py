"""LSP positions <-> str offsets in each encoding, line breaks as the LSP counts them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lsp_server.positions import UTF8, UTF16, UTF32, LineIndex

ENCODINGS = (UTF8, UTF16, UTF32)
# ASCII, two-byte, three-byte, astral (two UTF-16 units), and every LSP line break plus lookalikes.
_CHARS = st.sampled_from(list("ab \t") + ["é", "€", "😋", "\n", "\r", "\r\n", "\x0c", "\u2028"])
texts = st.lists(_CHARS, max_size=40).map("".join)


@given(texts, st.sampled_from(ENCODINGS), st.data())
def test_lsp_position_round_trip(text, encoding, data):
    index = LineIndex(text)
    offset = data.draw(st.integers(0, len(text)))
    if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
        offset -= 1  # between "\r" and "\n" is no position
    pos = index.position(offset, encoding)
    assert index.offset(pos.line, pos.character, encoding) == offset


def test_lsp_lines_break_only_at_lsp_line_breaks():
    index = LineIndex("a\x0cb\u2028c\r\nd\re\nf")
    assert index.starts == [0, 7, 9, 11]
    assert index.offset(1, 0, UTF16) == 7
    assert index.offset(3, 1, UTF16) == 12


def test_lsp_code_units_per_encoding():
    text = "x = '😋é'\n"
    index = LineIndex(text)
    end_quote = text.index("'", 5)
    assert index.offset(0, 11, UTF8) == end_quote  # "x = '" is 5 units, "😋" 4 bytes, "é" 2
    assert index.offset(0, 8, UTF16) == end_quote
    assert index.offset(0, 7, UTF32) == end_quote
    assert index.position(end_quote, UTF16).character == 8


def test_lsp_invalid_positions_are_none_unless_clamped():
    index = LineIndex("ab\ncd")
    assert index.offset(0, 3, UTF16) is None
    assert index.offset(2, 0, UTF16) is None
    assert index.offset(-1, 0, UTF16) is None
    assert index.offset(0, 3, UTF16, clamp=True) == 2
    assert index.offset(9, 9, UTF16, clamp=True) == 5
    # Inside a surrogate pair: no such position.
    assert LineIndex("😋").offset(0, 1, UTF16) is None
