import json

import pytest

from bench import encoder_baseline as baseline
from bench import humaneval_infill as harness


def test_the_encoder_head_continues_a_repeated_line(engine):
    prefix = "def count(x):\n" + "    x = x + 1\n" * 20
    assert baseline.greedy_line(engine.lm, prefix, "", 24) == "    x = x + 1\n"


def test_a_greedy_line_ends_at_its_first_newline_or_its_token_budget(engine):
    prefix = "def count(x):\n" + "    x = x + 1\n" * 20
    assert baseline.greedy_line(engine.lm, prefix, "", 2) == "    x"
    prompt = 'def largest(xs):\n    """The largest of xs."""\n    best = xs[0]\n    for x in xs:\n'
    line = baseline.greedy_line(engine.lm, prompt, "    return best\n", 24)
    assert line and "\n" not in line[:-1]


@pytest.mark.skipif(not harness.EVAL_DIR.exists(), reason=f"no HumanEval-infilling data at {harness.EVAL_DIR}")
def test_the_report_scores_decoder_and_encoder_on_the_same_tasks(tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    monkeypatch.setattr("sys.argv", ["encoder_baseline", "--split", "single", "--limit", "3", "--json", str(out)])
    baseline.main()
    row = json.loads(out.read_text())["single"]
    assert row["tasks"] == 3
    for side in ("decoder", "encoder_greedy"):
        assert 0 <= row[side]["pass@1"] <= 1 and row[side]["ms_per_task"] > 0


def test_only_line_splits_are_accepted(monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["encoder_baseline", "--split", "single,multi"])
    with pytest.raises(SystemExit):
        baseline.main()
    assert "line splits only" in capsys.readouterr().err
