"""From the model's raw text to the file's new text: the editor's post-processing, the parse check,
the confidence gate, the file's encoding and newline style. The raw texts stand in for answers."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_cli.holes import at, find_markers
from batch_cli.plan import compose, plan
from batch_cli.textfile import read


@pytest.fixture
def fill(tmp_path):
    def run(data: bytes, answers: dict[int, str], *, holes=None, confidence=0.9, min_confidence=0.0,
            allow_parse_errors=False):
        path = tmp_path / "file.py" if b"function" not in data else tmp_path / "file.js"
        path.write_bytes(data)
        file = read(path, max_bytes=1 << 20)
        found = holes(file.text) if holes else find_markers(file.text, "<FILL>")
        file_plan = plan(path.name, file, found, max_lines=8)
        for outcome in file_plan.outcomes:
            outcome.confidence = confidence
        compose(file_plan, answers, min_confidence=min_confidence, allow_parse_errors=allow_parse_errors)
        statuses = [(o.status, o.text) for o in file_plan.outcomes]
        return statuses, file.encode(file_plan.new_text)

    return run


def test_each_hole_gets_its_answer(fill):
    statuses, data = fill(b"x = <FILL>\ny = <FILL>\n", {0: "1", 1: "2"})
    assert statuses == [("filled", "1"), ("filled", "2")]
    assert data == b"x = 1\ny = 2\n"


def test_a_completion_that_breaks_the_parse_is_left_unless_allowed(fill):
    source = b"def f(a):\n    return <FILL>\n"
    statuses, data = fill(source, {0: "a +"})
    assert statuses == [("parse_error", "a +")]
    assert data == source
    statuses, data = fill(source, {0: "a +"}, allow_parse_errors=True)
    assert statuses == [("filled", "a +")]
    assert data == b"def f(a):\n    return a +\n"


def test_holes_of_one_file_are_filled_together(fill):
    source = b"def f(a):\n    return <FILL>\n\ndef g(b):\n    return <FILL>\n"
    statuses, data = fill(source, {0: "(a)", 1: "b * 2"})
    assert statuses == [("filled", "(a)"), ("filled", "b * 2")]
    assert data == b"def f(a):\n    return (a)\n\ndef g(b):\n    return b * 2\n"


def test_low_confidence_leaves_the_marker(fill):
    statuses, data = fill(b"x = <FILL>\n", {0: "1"}, confidence=0.2, min_confidence=0.5)
    assert statuses == [("low_confidence", None)]
    assert data == b"x = <FILL>\n"


def test_text_the_file_encoding_cannot_hold_is_left(fill):
    source = "s = 'caf\xe9' + <FILL>\n".encode("latin-1")
    statuses, data = fill(source, {0: "'\u2192'"})
    assert statuses == [("unencodable", "'\u2192'")]
    assert data == source
    statuses, data = fill(source, {0: "'cr\xe8me'"})
    assert data == "s = 'caf\xe9' + 'cr\xe8me'\n".encode("latin-1")


@pytest.mark.parametrize("source, answer, expected", [
    (b"def f(a):\r\n    <FILL>\r\n\r\nprint(f(1))\r\n", "b = a * 2\n    return b",
     b"def f(a):\r\n    b = a * 2\r\n    return b\r\n\r\nprint(f(1))\r\n"),
    (b"function f(a) {\r\n  <FILL>\r\n}\r\n", "const b = a;\n  return b;\n",
     b"function f(a) {\r\n  const b = a;\r\n  return b;\r\n}\r\n"),
])
def test_inserted_lines_take_the_file_newline_style(fill, source, answer, expected):
    statuses, data = fill(source, {0: answer})
    assert statuses[0][0] == "filled"
    assert data == expected


def test_no_answer_for_a_place_inside_a_word(fill):
    statuses, data = fill(b"value = 1\n", {}, holes=lambda text: [at(text, 1, 3)])
    assert statuses == [("no_gap", None)]
    assert data == b"value = 1\n"


def test_an_empty_answer_leaves_the_marker(fill):
    statuses, data = fill(b"x = <FILL>\n", {0: "   \n"})
    assert statuses == [("empty", None)]
    assert data == b"x = <FILL>\n"


# Whatever the model says, nothing outside the holes changes: random files (CRLF, latin-1, Python
# or plain text) with random holes and random answers.
_piece = st.lists(st.sampled_from(list("ab =():\t 'é") + ["\n", "\r\n", "    "]), max_size=12).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_piece, min_size=2, max_size=5), st.data(), st.sampled_from(["a.py", "a.txt"]),
       st.sampled_from(["utf-8", "latin-1"]), st.booleans())
def test_nothing_outside_the_holes_changes_whatever_the_answers(tmp_path, pieces, data, name, encoding, allow):
    original = "<FILL>".join(pieces).encode(encoding)
    path = tmp_path / name
    path.write_bytes(original)
    file = read(path, max_bytes=1 << 20)
    holes = find_markers(file.text, "<FILL>")
    file_plan = plan(name, file, holes, max_lines=4)
    answers = {i: data.draw(st.text(st.sampled_from(list("xy1 ()=:\n\t'→")), max_size=30))
               for i, request in enumerate(file_plan.requests) if request is not None}
    compose(file_plan, answers, min_confidence=0.0, allow_parse_errors=allow)
    new = file.encode(file_plan.new_text)
    marker = b"<FILL>"
    parts = original.split(marker)
    pattern = re.escape(parts[0])
    for part in parts[1:]:
        rest = part.lstrip(b" \t")
        # A fill may take the place of the blanks that follow its hole on the line.
        pattern += b"(.*?)(?:" + re.escape(part[:len(part) - len(rest)]) + b")?" + re.escape(rest)
    assert re.fullmatch(pattern, new, re.DOTALL), (original, new)
    filled = [o for o in file_plan.outcomes if o.status == "filled"]
    assert new.count(marker) == original.count(marker) - len(filled)
