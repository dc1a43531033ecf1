"""The dg-lsp command line, and what the server process imports."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

DG_LSP = [sys.executable, "-m", "lsp_server"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DG_LSP, *args], capture_output=True, text=True, timeout=60)


def test_lsp_cli_version_matches_the_package():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"dg-lsp {importlib.metadata.version('dg-lsp')}"


def test_lsp_cli_help_names_every_option():
    out = run("--help")
    assert out.returncode == 0
    for option in ("--stdio", "--tcp", "--log-file", "--version"):
        assert option in out.stdout


def test_lsp_cli_rejects_a_bad_tcp_address():
    out = run("--tcp", "localhost")
    assert out.returncode == 2 and "HOST:PORT" in out.stderr


def test_lsp_server_never_imports_torch():
    code = ("import sys, lsp_server.server as s; s.server.core; "
            "import lsp_server.__main__; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_lsp_startup_path_leaves_the_core_for_later():
    """What `initialize` waits for: pygls, lsprotocol and the edge, not tree-sitter or the engine client."""
    code = "import sys, lsp_server.__main__, lsp_server.server; print(sorted(m for m in sys.modules " \
           "if m.split('.')[0] in ('infill', 'engine', 'tree_sitter')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


async def test_lsp_tcp_transport():
    import asyncio
    import socket

    from lsprotocol import types
    from pygls.lsp.client import LanguageClient

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([*DG_LSP, "--tcp", f"127.0.0.1:{port}"], stderr=subprocess.PIPE)
    client = LanguageClient("tcp-test", "1")
    try:
        for _ in range(200):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except ConnectionRefusedError:
                await asyncio.sleep(0.05)
        result = await asyncio.wait_for(client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), initialization_options={"enabled": False})), 30)
        assert result.capabilities.inline_completion_provider is not None
        await client.shutdown_async(None)
        client.exit(None)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await client.stop()


def test_lsp_cli_refuses_a_non_loopback_address_without_the_flag():
    out = run("--tcp", "0.0.0.0:2087")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    line, = out.stderr.strip().splitlines()
    assert "not a loopback address" in line and "--allow-remote-plaintext" in line


def test_lsp_cli_a_port_in_use_is_one_line():
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        out = run("--tcp", f"127.0.0.1:{holder.getsockname()[1]}")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].endswith("Address already in use")
