"""The filters must not damage a right answer: HumanEval-infilling's canonical middles, given as
the model's text, come back as the same program (whitespace aside)."""

import gzip
import json
from pathlib import Path

import pytest

from infill import Completion, Document, build_request, postprocess

EVAL_DIR = Path(__file__).resolve().parents[3] / "shared" / "eval" / "human-eval-infilling"


def tasks(name: str) -> list[dict]:
    path = EVAL_DIR / f"HumanEval-{name}Infilling.jsonl.gz"
    if not path.exists():
        pytest.skip(f"{path} is not here")
    with gzip.open(path, "rt") as fh:
        return [json.loads(line) for line in fh]


def kept(task: dict) -> bool:
    prompt, middle, suffix = task["prompt"], task["canonical_solution"], task["suffix"]
    doc = Document(prompt + suffix, "python")
    request = build_request(doc, len(prompt), max_lines=max(8, middle.count("\n") + 1))
    completion = request and postprocess(request, middle, doc)
    if not isinstance(completion, Completion):
        return False
    filled = doc.text[:completion.start] + completion.text + doc.text[completion.end:]
    return filled.split() == (prompt + middle + suffix).split()


def test_every_single_line_answer_survives():
    assert all(kept(task) for task in tasks("SingleLine"))


def test_most_multi_line_answers_survive():
    # A gap on a line of its own mid-block is one line, and the rest is cut by design.
    sample = tasks("MultiLine")[::5]
    assert sum(kept(task) for task in sample) / len(sample) >= 0.94
