"""The bad-model matrix at the engine: each broken model directory ends `dg-engine serve` with one
line that says what to fix, and no daemon stays behind. The editor's side is in
tests/lsp/test_lsp_bad_model.py."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine import exit_status
from engine.modeldir import ModelDirError, check_dir
from tests.bad_models import CASES


@pytest.mark.parametrize("make, says", CASES.items(), ids=[f.__name__ for f in CASES])
def test_a_bad_model_ends_the_daemon_with_one_line(make, says, tmp_path):
    """DESIGN.md, Contracts: "Bad input gets a clear error and nothing else breaks"."""
    model = tmp_path / "model"
    make(model)
    out = subprocess.run([sys.executable, "-m", "engine", "serve", "--model", str(model), "--socket",
                          str(tmp_path / "e.sock")], capture_output=True, text=True, timeout=300)
    last = out.stderr.strip().splitlines()[-1]
    try:
        check_dir(model)
        refused_from_the_files = False
    except ModelDirError:
        refused_from_the_files = True
    # What the files show is a usage error; what only loading shows, an engine error, as in dg-infill.
    assert out.returncode == (exit_status.USAGE if refused_from_the_files else exit_status.ENGINE), out.stderr
    assert last.startswith("dg-engine: ") and says in last, out.stderr
    assert not (tmp_path / "e.sock").exists()
