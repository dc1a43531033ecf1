"""Settings end to end: initializationOptions, didChangeConfiguration (push and pull), bad values."""

from __future__ import annotations

import asyncio

from lsprotocol import types

URI = "file:///work/example/greet.py"
TEXT = 'def greet(name):\n    message = \n    return message\n'
LINE, CHARACTER = 1, len("    message = ")


async def _settled(lsp, key: str, value) -> dict:
    """dg.status once the server has applied a setting (notifications have no reply to wait for)."""
    for _ in range(100):
        st = await lsp.status()
        if st["settings"][key] == value:
            return st
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} never became {value!r}: {st['settings']}")


async def test_lsp_initialization_options_are_applied(lsp, engine_socket):
    st = await lsp.status()
    assert st["settings"]["engineSocket"] == engine_socket
    assert st["engine"]["address"] == engine_socket


async def test_lsp_disabled_and_other_languages_ask_no_model(lsp):
    await lsp.wait_ready()
    lsp.open(URI, TEXT)
    lsp.configure({"enabled": False})
    await _settled(lsp, "enabled", False)
    assert await lsp.complete(URI, LINE, CHARACTER) == []
    lsp.configure({"enabled": True, "enabledLanguages": ["rust", "go"]})
    await _settled(lsp, "enabledLanguages", ["rust", "go"])
    assert await lsp.complete(URI, LINE, CHARACTER) == []
    assert (await lsp.status())["model_calls"] == 0
    lsp.configure({"enabledLanguages": ["python"]})
    await _settled(lsp, "enabledLanguages", ["python"])
    await lsp.complete(URI, LINE, CHARACTER)
    assert (await lsp.status())["model_calls"] == 1


async def test_lsp_pulled_configuration(lsp):
    lsp.client.set_configuration({"maxLines": 2, "debounceMs": 20}, section="dg")
    lsp.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    st = await _settled(lsp, "maxLines", 2)
    assert st["settings"]["debounceMs"] == 20


async def test_lsp_bad_setting_is_reported_once_and_the_previous_stay(lsp):
    lsp.configure({"maxLines": 3})
    await _settled(lsp, "maxLines", 3)
    for _ in range(2):
        lsp.configure({"maxLines": "lots", "debounceMs": 40})
        await asyncio.sleep(0.1)
    st = await lsp.status()
    assert st["settings"]["maxLines"] == 3 and st["settings"]["debounceMs"] == 0
    shown = [m for m in lsp.client.messages if "dg.maxLines" in m.message]
    assert len(shown) == 1 and shown[0].type == types.MessageType.Error
    # A good update after a bad one applies.
    lsp.configure({"maxLines": 4})
    await _settled(lsp, "maxLines", 4)


async def test_lsp_engine_socket_change_reconnects(lsp, engine_socket):
    await lsp.wait_ready()
    # No daemon listens there, and the server does not start TCP daemons: it says what to do.
    lsp.configure({"engineSocket": "tcp://127.0.0.1:9"})
    for _ in range(100):
        st = await lsp.status()
        if st["state"] == "failed":
            break
        await asyncio.sleep(0.05)
    assert st["state"] == "failed" and st["engine"]["address"] == "tcp://127.0.0.1:9"
    assert any("dg-engine serve" in m.message for m in lsp.client.messages)
    lsp.open(URI, TEXT)
    assert await lsp.complete(URI, LINE, CHARACTER) == []
    lsp.configure({"engineSocket": engine_socket})
    await lsp.wait_ready(timeout=60)
