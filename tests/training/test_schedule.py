"""The learning-rate schedule and the choice of checkpoint a run continues from."""

import pytest
import torch

from training import train
from training.train import LR, WARMUP


def test_a_fresh_optimizer_warms_up_from_zero_then_holds_the_peak():
    rates = [train.learning_rate(s, 0.0, seconds_left=1e6, cooldown_seconds=100) for s in range(WARMUP + 50)]
    assert rates[0] == pytest.approx(LR / WARMUP)
    assert all(a < b for a, b in zip(rates[: WARMUP - 1], rates[1:WARMUP]))
    assert rates[WARMUP - 1 :] == [LR] * 51


def test_a_cooled_optimizer_warms_up_from_its_own_rate():
    assert train.learning_rate(0, 0.05 * LR, 1e6, 100) == pytest.approx(LR * (0.05 + 0.95 / WARMUP))
    assert train.learning_rate(WARMUP - 1, 0.05 * LR, 1e6, 100) == LR


def test_an_optimizer_at_the_peak_does_not_warm_up():
    assert train.learning_rate(0, LR, 1e6, 100) == LR


def test_the_cooldown_decays_linearly_to_five_percent():
    assert train.learning_rate(10_000, LR, seconds_left=50, cooldown_seconds=100) == pytest.approx(LR / 2)
    assert train.learning_rate(10_000, LR, seconds_left=1, cooldown_seconds=100) == pytest.approx(0.05 * LR)


def save(path, step, lr):
    torch.save(dict(opt={"param_groups": [{"lr": lr}]}, state={"step": step}), path)


@pytest.mark.parametrize(
    ("ckpt", "stable", "resumed"),
    [
        (None, None, None),
        ((900, LR), None, 900),  # a run stopped at the peak rate
        ((900, LR), (700, LR), 900),  # a crash before this run's cooldown: the older branch is behind it
        ((900, 0.05 * LR), None, 900),  # cooled, and no branch left: warm up from the cooled weights
        ((900, 0.05 * LR), (700, LR), 700),  # cooled: continue the branch that stayed at the peak
        ((900, 0.05 * LR), (950, LR), 900),  # a branch newer than the checkpoint belongs to no run of it
    ],
)
def test_a_run_continues_from_the_branch_at_the_peak_rate(tmp_path, ckpt, stable, resumed):
    paths = tmp_path / "ckpt.pt", tmp_path / "stable.pt"
    for path, saved in zip(paths, (ckpt, stable)):
        if saved:
            save(path, *saved)
    got = train.resume_point(*paths, "cpu")
    assert (got and got["state"]["step"]) == resumed


def test_a_lower_peak_caps_the_schedule_even_for_an_optimizer_left_at_a_higher_rate():
    peak = LR / 3
    rates = [train.learning_rate(s, 0.0, 1e6, 100, peak) for s in range(WARMUP + 10)]
    assert max(rates) == pytest.approx(peak) and rates[0] < peak
    assert train.learning_rate(0, LR, 1e6, 100, peak) == pytest.approx(peak)
