import os
import subprocess
import sys

import pytest

from engine import DEFAULT_MODEL_DIR
from engine.client import EngineClient, EngineUnavailable


@pytest.fixture(scope="session")
def engine():
    """The real embedded model, in this process."""
    from engine.engine import Engine

    eng = Engine(DEFAULT_MODEL_DIR)
    eng.warm_up()
    return eng


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """A real `dg-engine serve` on a private socket; yields the socket path."""
    sock = tmp_path_factory.mktemp("run") / "engine.sock"
    log = (sock.parent / "engine.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--socket", str(sock)], stdout=log,
                            stderr=subprocess.STDOUT)
    client = EngineClient(sock, autostart=False, timeout=5)
    try:
        client.wait_ready(timeout=120)
    except EngineUnavailable:
        proc.kill()
        pytest.fail((sock.parent / "engine.log").read_text())
    client.close()
    yield sock
    proc.terminate()
    assert proc.wait(timeout=120) == 0, (sock.parent / "engine.log").read_text()


@pytest.fixture
def env_no_token(monkeypatch):
    monkeypatch.delenv("DG_ENGINE_TOKEN", raising=False)
    return os.environ
