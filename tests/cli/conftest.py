"""Fixtures for driving the real `dg-infill` against a real engine daemon on a private socket."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import DEFAULT_MODEL_DIR

ENGINE_START_S = 300


class Cli:
    """The installed `dg-infill` console script (or the module, where it is not installed)."""

    def __init__(self) -> None:
        script = shutil.which("dg-infill", path=str(Path(sys.executable).parent))
        self.command = [script] if script else [sys.executable, "-m", "batch_cli"]

    @staticmethod
    def env() -> dict[str, str]:
        env = dict(os.environ)
        env["COLUMNS"] = "200"  # one message a line, whatever the terminal the tests run in
        return env

    def run(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, *args], check=False, cwd=cwd, capture_output=True, timeout=timeout,
                              env=self.env(), stdin=subprocess.DEVNULL)

    def popen(self, *args: str, cwd: Path, **options) -> subprocess.Popen:
        options.setdefault("stdout", subprocess.PIPE)
        options.setdefault("stderr", subprocess.PIPE)
        options.setdefault("env", self.env())
        return subprocess.Popen([*self.command, *args], cwd=cwd, **options)


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def engine_socket(tmp_path_factory):
    """A `dg-engine serve` of the embedded model on a socket of its own; shut down at the end."""
    if not (DEFAULT_MODEL_DIR / "model.safetensors").exists():
        pytest.skip(f"the embedded model's weights are not in {DEFAULT_MODEL_DIR}")
    from engine.client import EngineClient
    from engine.protocol import EngineError

    directory = tmp_path_factory.mktemp("engine")
    directory.chmod(0o700)
    sock = directory / "engine.sock"
    log = directory / "engine.log"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", str(DEFAULT_MODEL_DIR),
                             "--socket", str(sock), "--log-file", str(log)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = EngineClient(sock, autostart=False, timeout=60)
    try:
        client.wait_ready(timeout=ENGINE_START_S)
    except EngineError:
        proc.kill()
        pytest.fail(f"the engine did not start:\n{log.read_text() if log.exists() else ''}")
    try:
        yield str(sock)
    finally:
        try:
            client.shutdown()
            proc.wait(timeout=30)
        except (EngineError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
