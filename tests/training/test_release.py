"""The model card written at release, from the packaged config and evaluation reports."""

import json

from training import release
from training.train import PACKAGED

ROW = dict(tasks=200, exact_match=0.0, mean_steps=3.0, tokens_per_forward=8.5, ms_per_task=40.0, ended=0.9,
           edit_similarity=0.2, **{"pass@1": 0.03, "empty_floor_pass@1": 0.025}, gate=[])
STATE = dict(step=100, tokens=1000, supervised=900, seconds=3600.0)
LOG = [dict(step=s, tokens=10 * s, val={"infill@1.0": {"diff": 5.0, "enc": 3.0}, "window@0.5": {"diff": 4.0}})
       for s in (50, 100)]


def test_the_card_lists_raw_and_served_scores_and_the_curve():
    config = json.loads((PACKAGED / "config.json").read_text())
    served = dict(ROW, shown=0.07, **{"pass@1_among_shown": 0.5})
    report = {"single": ROW, "single (served)": served}
    text = release.card(STATE, {"cpython-stdlib": "PSF-2.0"}, report, None, config, 8_000_000, LOG, "left_to_right")
    assert "The engine denoises left to right: each step fixes the leftmost open gap slot" in text
    assert "| single | 200 | 3.00% | 2.50% |" in text
    assert "| single (served) | 200 | 3.00% |" in text
    assert "single (served): the server showed a completion for 7.0% of the tasks; 50.0% of those passed." in text
    assert "| cpython-stdlib | PSF-2.0 |" in text
    assert "| 100 | 1,000 | 3.0 | 5.0 | 4.0 |" in text
    other = release.card(STATE, {}, report, None, config, 8_000_000, LOG, "entropy_bound")
    assert "The engine denoises by DiffusionGemma's entropy-bound rules (`order` in dg.json)." in other


def test_a_release_keeps_the_curve_of_earlier_sessions_and_shows_the_typing_runs():
    config = json.loads((PACKAGED / "config.json").read_text())
    report = {"single": ROW}
    before = release.card(STATE, {}, report, None, config, 8_000_000, LOG, "left_to_right")
    later = [dict(step=s, tokens=10 * s, val={"infill@1.0": {"diff": 4.0, "enc": 2.0}, "window@0.5": {"diff": 3.0}})
             for s in (150, 200)]
    log = release.earlier_rows(before, later[0]["step"]) + later
    assert [r["step"] for r in log] == [50, 100, 150, 200]
    typing = [dict(min_confidence=g, keystrokes=900, files=8, shown_share=s, right_share=r, accepted_char_share=c,
                   latency_ms={"p50": 40.0, "p95": 120.0}) for g, s, r, c in ((0.8, 0.05, 0.7, 0.06),
                                                                             (0.5, 0.12, 0.55, 0.08))]
    text = release.card(STATE, {}, report, None, config, 8_000_000, log, "draft", typing)
    assert "The engine denoises in drafts: it writes the tokens left to right would" in text
    assert "| 50 | 500 | 3.0 | 5.0 | 4.0 |" in text and "| 200 | 2,000 | 2.0 | 4.0 | 3.0 |" in text
    assert text.index("| 0.5 | 12.0% | 55.0% | 8.0% | 40.0 | 120.0 |") < text.index("| 0.8 | 5.0% |")
