"""The bad-model matrix at the engine: each broken model directory ends `dg-engine serve` with one
line that says what to fix, and no daemon stays behind. The editor's side is in
tests/lsp/test_lsp_bad_model.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.bad_models import CASES


@pytest.mark.parametrize("make, says", CASES.items(), ids=[f.__name__ for f in CASES])
def test_a_bad_model_ends_the_daemon_with_one_line(make, says, tmp_path):
    """DESIGN.md, Contracts: "Bad input gets a clear error and nothing else breaks"."""
    model = tmp_path / "model"
    make(model)
    out = subprocess.run([sys.executable, "-m", "engine", "serve", "--model", str(model), "--socket",
                          str(tmp_path / "e.sock")], capture_output=True, text=True, timeout=300)
    last = out.stderr.strip().splitlines()[-1]
    assert out.returncode == 2, out.stderr
    assert last.startswith("dg-engine: ") and says in last, out.stderr
    assert not (tmp_path / "e.sock").exists()
