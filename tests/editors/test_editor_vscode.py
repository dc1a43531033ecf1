"""VS Code (code-server in headless Chromium) with the editors/vscode extension and the real dg-lsp.

The extension is built into a .vsix (npm ci + vsce), installed into a code-server from npm, and
driven by vscode_inline.mjs through playwright-core: it types into a Python file, waits for the ghost
text (`.ghost-text-decoration`) of dg-lsp's inline completion, presses Tab, saves, and clicks the
dg status bar item, which opens dg.status. This test then checks the saved file against the ghost
text that was shown. Screenshots are left in the test's tmp_path.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import HERE, tail

# The cursor ends a comment line: any text the model writes there keeps the file parsing, so the
# server's filters pass more of dg-tiny's answers than in code.
SAMPLE = (
    "def mean(values):\n"
    "    # Add up the\n"
    "    total = sum(values)\n"
    "    return total / len(values)\n"
    "\n"
    "\n"
    "def main():\n"
    "    print(mean([1.0, 2.0, 3.0]))\n"
    "# dg-lsp editor test"  # no newline: while no suggestion shows, the driver appends "." here for a new context
)
NUDGE_LINE = "# dg-lsp editor test"
SAMPLE_LINE = 2  # "    # Add up the": the test types at its end
TYPED = " "
TIMEOUT_S = 300

SETTINGS = {
    # The suggest widget would hide the ghost text.
    "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
    "editor.wordBasedSuggestions": "off",
    "editor.suggestOnTriggerCharacters": False,
    "editor.inlineSuggest.enabled": True,
    "workbench.startupEditor": "none",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "chat.disableAIFeatures": True,
    "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "dg.maxLines": 4,
    "dg.minConfidence": 0,  # the test follows a ghost text through the editor, whatever its confidence
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"code-server exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"code-server did not answer at {url}:\n{tail(log)}")


def test_editor_vscode_ghost_text_accept(chromium, code_server, vscode_build, dg_lsp, engine_env, tmp_path):
    home = tmp_path / "home"
    user_data = tmp_path / "user-data"
    extensions = tmp_path / "extensions"
    workspace = tmp_path / "workspace"
    out = tmp_path / "out"
    for d in (home, extensions, workspace, out):
        d.mkdir(parents=True)
    src = workspace / "sample.py"
    src.write_text(SAMPLE)
    settings = json.dumps({**SETTINGS, "dg.serverPath": dg_lsp}, indent=1)
    # code-server is a remote window: machine-scoped settings (dg.serverPath) come from Machine/.
    for scope in ("User", "Machine"):
        (user_data / scope).mkdir(parents=True, exist_ok=True)
        (user_data / scope / "settings.json").write_text(settings)

    env = dict(engine_env)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        PATH=os.pathsep.join([code_server["node_bin"], env["PATH"]]),
    )
    dirs = ["--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    log = tmp_path / "code-server.log"
    inst = subprocess.run([code_server["bin"], *dirs, "--install-extension", vscode_build["vsix"]],
                          env=env, capture_output=True, text=True, timeout=120)
    assert inst.returncode == 0 and "successfully installed" in inst.stdout, inst.stdout + inst.stderr
    assert any(p.name.startswith("dg-lsp.dg-lsp-") for p in extensions.iterdir())

    port = free_port()
    with open(log, "wb") as logf:
        server = subprocess.Popen(
            [code_server["bin"], "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
             "--disable-update-check", "--disable-workspace-trust", *dirs, str(workspace)],
            env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server, log)
        driver_env = dict(env)
        driver_env.update(
            PATH=os.environ.get("PATH", ""),  # the driver runs on the system node
            DG_URL=f"http://127.0.0.1:{port}/?folder={workspace}",
            DG_FILE=src.name,
            DG_LINE=str(SAMPLE_LINE),
            DG_TYPE=TYPED,
            DG_TIMEOUT_MS=str((TIMEOUT_S - 90) * 1000),
            DG_CHROMIUM=chromium,
            DG_PLAYWRIGHT=vscode_build["playwright"],
            DG_OUT=str(out),
        )
        drv = subprocess.run(["node", str(HERE / "vscode_inline.mjs")], env=driver_env, capture_output=True,
                             text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    result_path = out / "result.json"
    assert result_path.exists(), f"the driver wrote no result (rc {drv.returncode}):\n{drv.stdout[-3000:]}\n{drv.stderr[-3000:]}"
    result = json.loads(result_path.read_text())
    report = json.dumps({k: result.get(k) for k in ("error", "steps", "ghost", "status_text")}, indent=1)
    assert result["ok"], f"VS Code test failed (screenshots in {out}): {report}\n{drv.stderr[-2000:]}\ncode-server log:\n{tail(log)}"
    assert drv.returncode == 0, report
    assert (out / "ghost.png").stat().st_size > 0

    ghost = result["ghost"]
    assert ghost["first"].strip() or any(line.strip() for line in ghost["more"]), report
    # The saved file: the original, with the typed text and then the ghost text at the end of the line.
    original = SAMPLE.splitlines()
    expected = original[: SAMPLE_LINE - 1]
    expected.append(original[SAMPLE_LINE - 1] + TYPED + ghost["first"])
    expected.extend(ghost["more"])
    expected.extend(original[SAMPLE_LINE:-1])
    saved = src.read_text().splitlines()
    assert saved[:-1] == expected, f"saved file differs from the ghost text shown:\n{src.read_text()}\n{report}"
    assert saved[-1] == NUDGE_LINE + "." * ghost["nudges"], report

    # The status bar item names the server, and its click showed dg.status from dg-lsp.
    assert "dg" in result["status_text"], report
    assert '"model"' in result["status_json_text"], result["status_json_text"]
    # dg-lsp: Toggle Inline Completions turned them off.
    assert " off" in result["status_after_toggle"], report
