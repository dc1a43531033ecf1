"""Finding holes, opening them for the model and closing them with fills or their original text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_cli.holes import Fill, HoleError, at, close_holes, find_markers, open_holes, position, span

MARKER = "<FILL>"
chunks = st.text(st.characters(blacklist_categories=("Cs",)), max_size=15).filter(lambda s: "<" not in s)


def test_markers_are_found_with_their_line_and_column():
    text = "def f():\n    return <FILL>\n\nx = <FILL> + <FILL>\n"
    holes = find_markers(text, MARKER)
    assert [(h.line, h.col) for h in holes] == [(2, 12), (4, 5), (4, 14)]
    assert all(text[h.start:h.end] == MARKER for h in holes)


def test_position_counts_characters_not_bytes():
    text = "é = 1\r\nλ = <FILL>"
    assert position(text, text.index(MARKER)) == (2, 5)


@given(st.lists(chunks, min_size=1, max_size=6))
def test_unfilled_holes_close_to_the_original_text(pieces):
    text = MARKER.join(pieces)
    holes = find_markers(text, MARKER)
    opened, offsets = open_holes(text, holes)
    assert MARKER not in opened
    assert close_holes(opened, holes, offsets, {}, text) == text


@given(st.lists(chunks, min_size=2, max_size=6), st.data())
def test_fills_change_only_their_holes(pieces, data):
    text = MARKER.join(pieces)
    holes = find_markers(text, MARKER)
    opened, offsets = open_holes(text, holes)
    chosen = data.draw(st.sets(st.sampled_from(range(len(holes)))))
    fills = {i: Fill(offsets[i], offsets[i], f"[{i}]") for i in chosen}
    closed = close_holes(opened, holes, offsets, fills, text)
    expected = pieces[0]
    for i, piece in enumerate(pieces[1:]):
        expected += (f"[{i}]" if i in chosen else MARKER) + piece
    assert closed == expected


def test_a_fill_may_replace_the_blanks_after_its_hole():
    text = "x = <FILL>   \ny = 2\n"
    holes = find_markers(text, MARKER)
    opened, offsets = open_holes(text, holes)
    assert opened == "x =    \ny = 2\n"
    closed = close_holes(opened, holes, offsets, {0: Fill(offsets[0], offsets[0] + 3, "1")}, text)
    assert closed == "x = 1\ny = 2\n"


def test_at_is_an_empty_hole_and_checks_its_position():
    text = "a = 1\r\nb = \r\n"
    hole = at(text, 2, 5)
    assert (hole.start, hole.end) == (text.index("b = ") + 4,) * 2
    with pytest.raises(HoleError, match="line 4 is outside the file"):
        at(text, 4, 1)
    with pytest.raises(HoleError, match="column 6 is outside line 2"):
        at(text, 2, 6)


def test_span_keeps_first_indentation_and_last_line_ending():
    text = "def f(x):\n    y = x\n    return y\n\nprint(f(1))\n"
    hole = span(text, 2, 3)
    assert hole.original(text) == "y = x\n    return y"
    assert (hole.line, hole.col) == (2, 5)
    with pytest.raises(HoleError, match="ends before it starts"):
        span(text, 3, 2)


def test_span_of_crlf_lines_leaves_the_line_ending_out():
    text = "a\r\n  b\r\n  c\r\nd\r\n"
    assert span(text, 2, 3).original(text) == "b\r\n  c"
