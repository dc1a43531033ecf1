"""Well-formed items at the places people type, on code the model never saw.

At least 500 cursor positions are cut from held-out Python files (the corpus's held-out split: files
whose content hash puts them out of dg-tiny's training data, `training.corpus.held_out`): indented
blank lines, line starts, mid-identifier, after `(` and `=`, inside strings and comments. At each,
the rest of the line is the hole. The embedded model answers, the judge picks what the editor shows
(with the default gate and with none), and the item is applied as VS Code applies an inline
completion: its range replaced by its insertText. Every applied item must leave the file accepted
by Python's own parser whenever the file with the hole filled by its original text is, must not
repeat indentation or a word fragment already before the cursor, and must start at the cursor. An
item that only finishes the word the cursor is in fills the rest of that word, not of the line: its
hole is the rest of the original word (`schema = s|elf.backend(` may get `elf`, which leaves the
file as broken as the line's missing rest does, and no more).
"""

from __future__ import annotations

import ast
import random
import re
import sysconfig
import warnings
from pathlib import Path

import pytest

from engine import protocol as p
from engine.serve.engine import Job
from infill import Completion, Document, build_request
from infill.judge import judge
from infill.settings import Settings
from training.corpus import held_out

POSITIONS = 504
KINDS = ("blank_line", "line_start", "mid_identifier", "after_paren", "after_equals", "in_string", "in_comment")


def parses(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def cursors(text: str, rng: random.Random) -> dict[str, list[int]]:
    """Candidate cursor offsets of each kind in one file."""
    out: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for m in re.finditer(r"\n([ \t]+)(?=\S)", text):
        out["blank_line"].append(m.end())
    for m in re.finditer(r"\n(?=[A-Za-z_@])", text):
        out["line_start"].append(m.end())
    for m in re.finditer(r"(?<=[ (.\[])[A-Za-z_][A-Za-z_0-9]{3,}", text):
        out["mid_identifier"].append(m.start() + rng.randint(1, len(m.group()) - 1))
    for m in re.finditer(r"\w\((?=\S)", text):
        out["after_paren"].append(m.end())
    for m in re.finditer(r"[^=!<>]= (?=\S)", text):
        out["after_equals"].append(m.end())
    for m in re.finditer(r"(?<![\"'])([\"'])([A-Za-z ]{6,})\1", text):
        out["in_string"].append(m.start(2) + rng.randint(1, len(m.group(2)) - 1))
    for m in re.finditer(r"# [A-Za-z][^\n]{8,}", text):
        out["in_comment"].append(m.start() + rng.randint(3, len(m.group()) - 1))
    return out


@pytest.fixture(scope="module")
def positions() -> list[tuple[str, int, int]]:
    """(file text, cursor, end of the hole): POSITIONS places, the kinds in equal shares."""
    site = Path(sysconfig.get_paths()["purelib"])
    files = [t for t in held_out([site]) if 40 <= t.count("\n") <= 1500 and t.isascii() and parses(t)]
    assert len(files) >= 20, f"only {len(files)} held-out files under {site}"
    rng = random.Random(0)
    rng.shuffle(files)
    per_kind = POSITIONS // len(KINDS)
    picked: dict[str, list[tuple[str, int, int]]] = {kind: [] for kind in KINDS}
    for text in files:
        for kind, offsets in cursors(text, rng).items():
            for at in rng.sample(offsets, min(2, len(offsets))):
                if len(picked[kind]) < per_kind:
                    end = text.find("\n", at)
                    picked[kind].append((text, at, len(text) if end < 0 else end))
        if all(len(v) == per_kind for v in picked.values()):
            break
    out = [place for kind in KINDS for place in picked[kind]]
    assert len(out) == POSITIONS, {k: len(v) for k, v in picked.items()}
    return out


def test_applied_items_are_well_formed_at_500_held_out_places(engine, positions):
    spec = engine.lm.spec
    settings = Settings().for_model(spec.min_confidence, spec.max_lines)  # the server's defaults for the model
    places, requests = [], []
    for text, at, end in positions:
        doc = Document(text[:at] + text[end:], "python")
        request = build_request(doc, at, max_lines=settings.max_lines)
        if request is not None:
            places.append((text, at, end, doc, request))
            requests.append(p.infill_request(str(len(requests)), request.prefix, request.suffix,
                                             max_tokens=request.max_tokens, max_lines=request.max_lines,
                                             word_ends=request.word_ends))
    answers = []
    for start in range(0, len(requests), 8):
        answers += engine.run([Job(r) for r in requests[start : start + 8]])
    shown, malformed = 0, []
    for (text, at, end, doc, request), answer in zip(places, answers):
        for gate in (settings.min_confidence, 0.0):
            item = answer and judge(request, answer.text, answer.token_confidences, answer.token_ends, doc, gate)
            if not isinstance(item, Completion):
                continue
            shown += 1
            applied = doc.text[: item.start] + item.text + doc.text[item.end :]
            line = doc.text[doc.text.rfind("\n", 0, at) + 1 : at]
            fragment = re.search(r"[A-Za-z_]\w+$", line)
            word = re.fullmatch(r"\w+", item.text) and re.search(r"\w$", line)
            hole = re.match(r"\w*", text[at:end]).group() if word else text[at:end]
            whole = doc.text[:at] + hole + doc.text[at:]
            problems = [
                item.start != at and "does not start at the cursor",
                not parses(applied) and parses(whole) and "Python's parser rejects the file",
                line and not line.strip() and item.text[:1] in (" ", "\t") and "indentation repeated",
                fragment and item.text.startswith(fragment.group()) and "word before the cursor repeated",
            ]
            problems = [x for x in problems if x]
            if problems:
                malformed.append((problems, line + "|" + item.text, text[at:end]))
    assert len(places) >= 500 - 4  # build_request declines only the rare place no completion fits
    assert shown >= 100, f"only {shown} items shown: the harness checks too little"
    assert malformed == [], f"{len(malformed)} malformed of {shown}: {malformed[:5]}"
