"""Neovim, headless, with editors/nvim and the real `dg-lsp --stdio`.

nvim_inline.lua opens a Python file, enters insert mode, waits for the ghost-text extmark that dg-lsp's
inline completion produces, dismisses it, gets it back, accepts it with <Tab> and checks that the
buffer holds exactly the text the ghost showed; then checks that <Tab> falls through when no
suggestion is shown. It runs twice on the same binary: through vim.lsp.inline_completion (Neovim
0.12) and through the plugin's own extmark ghost text (the path for 0.10 and 0.11).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from .conftest import EDITORS, HERE

# The cursor ends a comment line: any text the model writes there keeps the file parsing, so the
# server's filters pass more of dg-tiny's answers than in code.
SAMPLE = (
    "def mean(values):\n"
    "    # Add up the \n"
    "    total = sum(values)\n"
    "    return total / len(values)\n"
    "\n"
    "\n"
    "def main():\n"
    "    print(mean([1.0, 2.0, 3.0]))\n"
    "# dg-lsp editor test\n"
)
# While no suggestion shows, the test rewrites this last line ("# dg-lsp editor test 1", ...): the
# server caches answers, an empty one too, so a new context gives the model a new chance.
NUDGE_LINE = "# dg-lsp editor test"
SAMPLE_LINE = 2  # "    # Add up the ": the cursor goes to its end
TIMEOUT_S = 240


def nvim_version(nvim: str) -> tuple[int, int]:
    out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"NVIM v(\d+)\.(\d+)", out)
    assert m, f"cannot read the version of {nvim}: {out[:200]}"
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("mode", ["native", "extmark"])
def test_editor_nvim_ghost_text_accept(mode, nvim, dg_lsp, engine_env, tmp_path):
    if mode == "native" and nvim_version(nvim) < (0, 12):
        pytest.skip(f"{nvim} has no vim.lsp.inline_completion (needs Neovim 0.12)")
    src = tmp_path / "sample.py"
    src.write_text(SAMPLE)
    result_path = tmp_path / "result.json"
    env = dict(engine_env)
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_CACHE_HOME=str(home / ".cache"),
        DG_TEST_PLUGIN_DIR=str(EDITORS / "nvim"),
        DG_TEST_CMD=json.dumps([dg_lsp, "--stdio"]),
        DG_TEST_MODE=mode,
        DG_TEST_FILE=str(src),
        DG_TEST_LINE=str(SAMPLE_LINE),
        DG_TEST_NUDGE_LINE=NUDGE_LINE,
        DG_TEST_SETTINGS=json.dumps({"maxLines": 4, "minConfidence": 0}),
        DG_TEST_TIMEOUT_MS=str((TIMEOUT_S - 30) * 1000),
        DG_TEST_RESULT=str(result_path),
    )
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-S", str(HERE / "nvim_inline.lua")],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result_path.exists(), f"nvim wrote no result (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(result_path.read_text())
    report = json.dumps({k: result.get(k) for k in ("message", "steps", "lines", "expected", "status")}, indent=1)
    assert result["ok"], f"nvim {mode} test failed: {report}\nstderr: {proc.stderr[-2000:]}"
    assert proc.returncode == 0, report
    assert result["mode"] == mode
    ghost_steps = [s for s in result["steps"] if s["name"].startswith("ghost")]
    assert len(ghost_steps) == 2, report
    shown = "\n".join(ghost_steps[-1]["lines"])
    assert shown.strip(), report
    # Independently of the Lua checks: the buffer is the original text with the shown completion
    # inserted at the end of the line, then the line that <Tab> fell through on.
    original = SAMPLE.splitlines()
    inserted = ghost_steps[-1]["lines"]
    expected = original[: SAMPLE_LINE - 1]
    expected.append(original[SAMPLE_LINE - 1] + inserted[0])
    expected.extend(inserted[1:])
    expected.append("USERTAB" if mode == "extmark" else "\t")
    expected.extend(original[SAMPLE_LINE:-1])
    lines = result["lines"]
    assert lines[:-1] == expected, report
    assert lines[-1].startswith(NUDGE_LINE), report
