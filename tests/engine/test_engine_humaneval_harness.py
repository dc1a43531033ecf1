import json

import pytest

from bench import humaneval_infill as harness
from engine import DEFAULT_MODEL_DIR
from engine.spec import ModelSpec
from infill.settings import Settings

SPEC = ModelSpec.read(DEFAULT_MODEL_DIR)
SERVER_DEFAULTS = Settings().for_model(SPEC.min_confidence, SPEC.max_lines)

needs_data = pytest.mark.skipif(not harness.EVAL_DIR.exists(),
                                reason=f"no HumanEval-infilling data at {harness.EVAL_DIR}")


@needs_data
@pytest.mark.parametrize("split", ["single", "multi", "span"])
def test_canonical_middles_pass_and_wrong_ones_fail(split):
    tasks = harness.load_split(split, harness.EVAL_DIR)[:3]
    for task in tasks:
        assert harness.run_program(harness.program(task, task["canonical_solution"]))
        assert not harness.run_program(harness.program(task, "    raise SystemExit(1)\n"))


def test_a_hanging_program_fails_within_the_time_limit(monkeypatch):
    monkeypatch.setattr(harness, "TIME_LIMIT_S", 1.0)
    assert not harness.run_program("while True:\n    pass\n")


def test_gate_table_counts_only_shown_non_empty_completions():
    from engine.protocol import InfillResult

    def result(text, mean):
        return InfillResult(text=text, steps=1, tokens_per_forward=1.0, mean_confidence=mean, min_confidence=mean)

    rows = [(result("x = 1", 0.9), True), (result("y", 0.35), False), (result("  ", 0.99), False), (None, False)]
    by_mean = {g["threshold"]: g for g in harness.gate_table(rows) if g["by"] == "mean"}
    assert by_mean[0.0]["shown"] == 0.5 and by_mean[0.0]["precision"] == 0.5
    assert by_mean[0.5]["shown"] == 0.25 and by_mean[0.5]["precision"] == 1.0
    assert by_mean[0.95]["precision"] is None


@needs_data
def test_canonical_single_line_middles_survive_the_servers_post_processing():
    for task in harness.load_split("single", harness.EVAL_DIR)[:: 1033 // 25]:
        served = harness.Served(task, SERVER_DEFAULTS)
        shown = served.shown(task["canonical_solution"])
        assert shown is not None and shown.strip() == task["canonical_solution"].strip(), task["task_id"]
        assert harness.run_program(served.program(shown)), task["task_id"]


@needs_data
def test_what_the_server_drops_leaves_the_gap_as_it_was():
    task = harness.load_split("single", harness.EVAL_DIR)[0]
    served = harness.Served(task, SERVER_DEFAULTS)
    assert served.shown("))) ((( ::") is None
    assert served.program(None) == harness.program(task, "")


@needs_data
def test_the_served_report_runs_the_real_model_end_to_end(tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    monkeypatch.setattr("sys.argv", ["humaneval_infill", "--split", "single", "--limit", "4", "--served",
                                     "--json", str(out)])
    harness.main()
    row = json.loads(out.read_text())["single (served)"]
    assert row["tasks"] == 4 and row["mean_steps"] > 0
    assert (row["pass@1_among_shown"] is None) == (row["shown"] == 0)
    assert 0 <= row["pass@1"] <= 1 and 0 <= row["shown"] <= 1
