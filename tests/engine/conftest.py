import os
import subprocess
import sys

import pytest

from engine import DEFAULT_MODEL_DIR
from engine.client import EngineClient
from engine.protocol import EngineError

from tests.http_daemon import unused_port


@pytest.fixture(scope="session")
def engine():
    """The real embedded model, in this process."""
    from engine.serve.engine import Engine

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
    except EngineError:
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


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (just now)."""
    return unused_port()


TCP_TOKEN = "a-test-token-of-32-bytes-or-so.."


@pytest.fixture(scope="module")
def tcp_daemon(tmp_path_factory):
    """A real `dg-engine serve --tcp` on loopback, its token in the environment; yields (port, token)."""
    port, log_path = unused_port(), tmp_path_factory.mktemp("tcp") / "engine.log"
    env = {**os.environ, "DG_ENGINE_TOKEN": TCP_TOKEN}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--tcp", f"127.0.0.1:{port}"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        EngineClient(f"tcp://127.0.0.1:{port}", autostart=False, token=TCP_TOKEN, timeout=5).wait_ready(timeout=120)
    except EngineError:
        proc.kill()
        pytest.fail(log_path.read_text())
    yield port, TCP_TOKEN
    proc.terminate()
    assert proc.wait(timeout=120) == 0, log_path.read_text()
