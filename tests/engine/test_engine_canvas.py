from hypothesis import given
from hypothesis import strategies as st

from engine.canvas import Budget, build_layout, gap_target, middle_from_gap

SEP = 3


def chars(text: str) -> list[int]:
    """A stand-in tokenizer: one token per character, ids offset past the specials."""
    return [ord(c) + 10 for c in text]


def test_layout_puts_far_suffix_first_and_the_cursor_line_in_the_left_flank():
    prefix = "import os\ndef f(x):\n    ret"
    suffix = "urn x\n\nprint(f(1))\n"
    lay = build_layout(chars, SEP, prefix, suffix, 64, Budget(encoder_suffix=8, encoder_prefix=100,
                                                              left_flank=16, right_flank=4))
    assert lay.left_flank == chars("    ret")
    assert lay.right_flank == chars("urn ")
    assert lay.encoder_ids == chars("x\n\nprint") + [SEP] + chars("import os\ndef f(x):\n")
    assert lay.canvas_length == 64
    assert lay.gap_stop - lay.gap_start == lay.gap_length == 64 - 7 - 4


def test_a_long_cursor_line_moves_its_head_to_the_encoder():
    prefix = "x = 1\n" + "y" * 30
    lay = build_layout(chars, SEP, prefix, "", 64, Budget(left_flank=8))
    assert lay.left_flank == chars("y" * 8)
    assert lay.encoder_ids == [SEP] + chars("x = 1\n" + "y" * 22)


def test_typing_within_a_line_leaves_the_encoder_input_unchanged():
    a = build_layout(chars, SEP, "def f():\n    re", "\n", 64, Budget())
    b = build_layout(chars, SEP, "def f():\n    ret", "\n", 64, Budget())
    assert a.encoder_ids == b.encoder_ids
    assert a.left_flank != b.left_flank


@given(st.text(max_size=300), st.text(max_size=300), st.integers(40, 200))
def test_layout_respects_every_budget(prefix, suffix, canvas):
    budget = Budget(encoder_suffix=20, encoder_prefix=50, left_flank=12, right_flank=10)
    lay = build_layout(chars, SEP, prefix, suffix, canvas, budget)
    assert len(lay.left_flank) <= 12 and len(lay.right_flank) <= 10
    assert len(lay.encoder_ids) <= 20 + 1 + 50
    assert lay.canvas_length == canvas
    assert chars(prefix)[len(chars(prefix)) - len(lay.left_flank):] == lay.left_flank
    assert chars(suffix)[: len(lay.right_flank)] == lay.right_flank


@given(st.lists(st.integers(4, 100), max_size=30), st.integers(31, 60))
def test_gap_target_round_trips(middle, gap):
    target = gap_target(middle, gap, eoi_id=1, pad_id=0)
    assert len(target) == gap
    assert middle_from_gap(target, eoi_id=1, pad_id=0) == (middle, True)


def test_a_gap_without_end_marker_reports_it():
    assert middle_from_gap([5, 6, 0, 7], eoi_id=1, pad_id=0) == ([5, 6, 7], False)


def _words(text):
    return [ord(c) for c in text]  # one token per character keeps the arithmetic visible


def test_a_short_middle_gets_the_small_canvas_with_proportional_flanks():
    from engine.canvas import layout_for

    budget = Budget(encoder_suffix=48, encoder_prefix=192, left_flank=16, right_flank=16)
    prefix, suffix = "x" * 100 + "\n" + "abcdefghijkl", "mnopqrstuvwxyz" + "y" * 100
    layout = layout_for(_words, 0, prefix, suffix, 16, (32, 64), budget)
    assert layout.canvas_length == 32
    assert layout.left_flank == _words("fghijkl") and layout.right_flank == _words("mnopqrst")
    # What left the flanks is still context: the encoder holds it.
    assert layout.encoder_ids[-5:] == _words("abcde") and layout.encoder_ids[:6] == _words("uvwxyz")
    assert layout.gap_length >= 17


def test_a_long_gap_gets_the_largest_canvas_or_a_grown_one():
    from engine.canvas import layout_for

    budget = Budget(encoder_suffix=48, encoder_prefix=192, left_flank=16, right_flank=16)
    prefix, suffix = "x" * 100 + "\n" + "a" * 20, "b" * 100
    assert layout_for(_words, 0, prefix, suffix, 24, (32, 64), budget).canvas_length == 64
    grown = layout_for(_words, 0, prefix, suffix, 100, (32, 64), budget)
    assert grown.canvas_length == 160 and len(grown.left_flank) == 16 and grown.gap_length >= 101
    assert layout_for(_words, 0, prefix, suffix, 16, (64,), budget).canvas_length == 64


def test_first_lines_cuts_after_the_limits_newline_and_keeps_shorter_text():
    from engine.protocol import first_lines

    assert first_lines("a = 1\n    b = 2\n", 1) == "a = 1\n"
    assert first_lines("a = 1\n    b = 2\n    c", 2) == "a = 1\n    b = 2\n"
    assert first_lines("a = 1\n    ", 1) == "a = 1\n"  # a newline token's indentation belongs to the next line
    assert first_lines("a = 1", 1) == "a = 1"
    assert first_lines("a\nb\nc", None) == "a\nb\nc"
