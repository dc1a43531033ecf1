"""bench.gate's replay of bench.typing's typist over fixed answers (no model: the answers are given)."""

import re
import types

from bench.gate import Place, positions, replay
from infill import Document, build_request

TEXT = "import os\n\n\ndef main(path):\n    name = os.path.basename(path)\n    return name.upper()\n" * 3


def places() -> list[Place]:
    out = []
    for doc_text, pos, target, start, end in positions(TEXT, 2, 30):
        doc = Document(doc_text, "python")
        out.append(Place(0, doc, pos, target, start, end, build_request(doc, pos, max_lines=1)))
    return out


def stretched(where: list[Place]) -> int:
    return sum(p.end - p.start for p in {p.end: p for p in where}.values())


def answers(where: list[Place], write) -> dict:
    return {i: types.SimpleNamespace(text=write(p), token_confidences=[0.9], token_ends=[len(write(p))])
            for i, p in enumerate(where) if p.request is not None}


def test_right_answers_are_all_taken_with_tab():
    where = places()

    def nxt(p: Place) -> str:
        """The rest of the word the stretch goes on with: always exactly what comes next, and left as it is
        by post-processing (which would close a bracket, making "f(" wrong)."""
        return re.match(r"\w*", p.target[p.pos : p.end]).group()

    tally = replay(where, answers(where, nxt), 0.5)
    assert tally.shown == tally.right > 0 and tally.accepted_chars > 0
    assert tally.typed_chars + tally.accepted_chars == stretched(where)  # every character typed or taken once


def test_wrong_answers_are_shown_and_never_taken():
    where = places()
    tally = replay(where, answers(where, lambda p: "zz_unlikely"), 0.5)
    assert tally.right == 0 and tally.accepted_chars == 0
    assert tally.shown > 0 and tally.typed_chars == stretched(where)


def test_the_gate_hides_what_is_below_it():
    where = places()
    assert replay(where, answers(where, lambda p: "zz_unlikely"), 0.95).shown == 0
