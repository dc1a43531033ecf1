"""The judge: the completion to show, or the reason there is none (the CLI's statuses key off it)."""

from infill import Completion, Document, Rejection, build_request
from infill.completion import EMPTY, LOW_CONFIDENCE, PARSE_ERROR, UNSUPPORTED_LANGUAGE
from infill.judge import judge, uncovered


def at_cursor(source: str):
    doc = Document(source.replace("█", ""), "python")
    return doc, build_request(doc, source.index("█"))


def tokens(*pieces: str) -> tuple[str, list[int]]:
    """The text of `pieces` and where each piece ends, as the engine reports token ends."""
    ends, text = [], ""
    for piece in pieces:
        text += piece
        ends.append(len(text))
    return text, ends


def test_a_confident_answer_is_shown_whole():
    doc, request = at_cursor("total = █\n")
    text, ends = tokens("sum", "(values", ")")
    assert judge(request, text, [0.9, 0.8, 0.9], ends, doc, 0.5) == Completion("sum(values)", 8, 8)


def test_the_answer_is_cut_before_its_first_unsure_token_where_the_cut_is_whole():
    doc, request = at_cursor("items = []\nitems.app█\n")
    text, ends = tokens("end", "(", "item", ")")
    verdict = judge(request, text, [0.9, 0.9, 0.2, 0.9], ends, doc, 0.5)
    # "end(" would need a closer the model did not write with confidence: the shorter cut is shown.
    assert verdict == Completion("end", request.offset, request.replace_end)


def test_an_unsure_first_token_is_low_confidence_with_the_figures():
    doc, request = at_cursor("total = █\n")
    text, ends = tokens("sum", "(values)")
    assert judge(request, text, [0.31, 0.9], ends, doc, 0.5) == Rejection(LOW_CONFIDENCE, "0.31 < 0.50")


def test_a_completion_that_breaks_the_parse_is_a_parse_error_unless_allowed():
    """(An answer of several tokens would be cut back to a part that parses.)"""
    doc, request = at_cursor("x = █\n")
    text, ends = tokens("1 +")
    assert judge(request, text, [0.9], ends, doc, 0.5) == Rejection(PARSE_ERROR, text="1 +")
    allowed = judge(request, text, [0.9], ends, doc, 0.5, allow_parse_errors=True)
    assert allowed == Completion("1 +", request.offset, request.replace_end)


def test_confident_blanks_are_empty_not_low_confidence():
    doc, request = at_cursor("def f():\n    █\n")
    text, ends = tokens("\n", "\n")
    assert judge(request, text, [0.9, 0.9], ends, doc, 0.5) == Rejection(EMPTY)


def test_a_language_the_model_does_not_declare_is_refused_before_asking():
    assert uncovered(["javascript", "JavaScript"], ["python"]) == Rejection(UNSUPPORTED_LANGUAGE, "it covers python")
    assert uncovered(["Python"], ["python"]) is None
    assert uncovered(["go"], []) is None  # a model that declares nothing claims any language


def test_the_gate_judges_the_joint_probability_of_the_cut():
    """Each token at 0.8 passes a 0.6 gate alone; three in a row are right together at 0.8³ ≈ 0.51."""
    doc, request = at_cursor("total = █\n")
    text, ends = tokens("sum", "(values", ")")
    assert judge(request, text, [0.8, 0.8, 0.8], ends, doc, 0.5) == Completion("sum(values)", 8, 8)
    assert judge(request, text, [0.8, 0.8, 0.8], ends, doc, 0.6) == Completion("sum", 8, 8)


def test_a_cut_that_only_opens_a_comment_is_not_shown():
    doc, request = at_cursor("def f(x):\n    █\n    return x\n")
    text, ends = tokens("#", " double", " it")
    assert judge(request, text, [0.9, 0.3, 0.5], ends, doc, 0.5) == Rejection(EMPTY)
    assert judge(request, text, [0.9, 0.9, 0.9], ends, doc, 0.5) == Completion("# double it", request.offset,
                                                                                request.replace_end)
