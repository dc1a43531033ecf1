"""Typing through a shown suggestion, and the answer cache."""

from __future__ import annotations

from lsp_server.memory import Answer, AnswerCache, Shown

TEXT = "def f(x):\n    return \n"
AT = TEXT.index("return ") + len("return ")
SHOWN = Shown(TEXT, AT, AT, "x + 1")


def typed(chars: str) -> str:
    return TEXT[:AT] + chars + TEXT[AT:]


def test_lsp_typing_through_matching_characters():
    assert SHOWN.rest_after(typed("x "), AT + 2) == ("+ 1", AT + 2)
    assert SHOWN.rest_after(TEXT, AT) == ("x + 1", AT)


def test_lsp_typing_through_stops_on_a_mismatch_or_the_end():
    assert SHOWN.rest_after(typed("y"), AT + 1) is None
    assert SHOWN.rest_after(typed("x + 1"), AT + 5) is None  # all of it typed: ask anew
    assert SHOWN.rest_after(typed("x"), AT) is None  # cursor not after the typed text
    other = "# edit\n" + typed("x")
    assert SHOWN.rest_after(other, other.index("x", 10) + 1) is None  # text elsewhere changed


def test_lsp_typing_through_keeps_the_overwritten_range():
    shown = Shown("a = \t\n", 4, 5, "1")  # replaces the trailing tab
    assert shown.rest_after("a = \t\n", 4) == ("1", 5)
    assert Shown("a = \t\n", 4, 5, "12").rest_after("a = 1\t\n", 5) == ("2", 6)


def test_lsp_answer_cache_evicts_the_least_recent():
    cache = AnswerCache(size=2)
    cache.put(("a",), Answer("1", [0.9], [1]))
    cache.put(("b",), Answer("2", [0.9], [1]))
    assert cache.get(("a",)).text == "1"
    cache.put(("c",), Answer("3", [0.9], [1]))
    assert cache.get(("b",)) is None and cache.get(("a",)) is not None
