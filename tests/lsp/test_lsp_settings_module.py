"""infill.settings: the "dg" section as editors send it."""

from __future__ import annotations

import pytest

from infill.settings import DEFAULT_MIN_CONFIDENCE, Settings, SettingsError


def test_lsp_settings_defaults():
    s = Settings()
    assert (s.model_dir, s.engine_socket, s.enabled_languages) == (None, None, ())
    assert (s.max_lines, s.debounce_ms, s.min_confidence, s.enabled) == (1, 0, DEFAULT_MIN_CONFIDENCE, True)


def test_lsp_settings_from_the_vscode_section():
    # What editors/vscode sends, plus keys only the editor uses.
    s = Settings.from_dict({"modelDir": None, "engineSocket": "/run/dg.sock", "enabledLanguages": ["python"],
                            "maxLines": 3, "debounceMs": 75, "minConfidence": 0.5, "enable": True,
                            "serverPath": "dg-lsp"})
    assert s == Settings(engine_socket="/run/dg.sock", enabled_languages=("python",), max_lines=3,
                         debounce_ms=75, min_confidence=0.5)
    assert Settings.from_dict(s.to_dict()) == s


def test_lsp_settings_partial_update_keeps_the_rest_and_null_resets():
    base = Settings(max_lines=3, engine_socket="tcp://127.0.0.1:7411")
    s = Settings.from_dict({"debounceMs": 10, "maxLines": None}, base)
    assert (s.max_lines, s.engine_socket, s.debounce_ms) == (1, "tcp://127.0.0.1:7411", 10)
    assert Settings.from_dict({"modelDir": "  "}).model_dir is None


@pytest.mark.parametrize("section, key", [
    ({"maxLines": "8"}, "dg.maxLines"),
    ({"maxLines": 0}, "dg.maxLines"),
    ({"maxLines": True}, "dg.maxLines"),
    ({"debounceMs": -1}, "dg.debounceMs"),
    ({"minConfidence": 1.5}, "dg.minConfidence"),
    ({"enabled": "yes"}, "dg.enabled"),
    ({"enabledLanguages": "python"}, "dg.enabledLanguages"),
    ({"engineSocket": "relative.sock"}, "dg.engineSocket"),
    ({"engineSocket": "tcp://localhost"}, "dg.engineSocket"),
    ({"modelDir": 3}, "dg.modelDir"),
])
def test_lsp_settings_reject_bad_values_by_name(section, key):
    with pytest.raises(SettingsError, match=key.replace(".", r"\.")):
        Settings.from_dict(section)


def test_lsp_settings_language_filter():
    assert Settings().language_enabled("markdown")
    s = Settings(enabled_languages=("Python", "rust"))
    assert s.language_enabled("python") and s.language_enabled(None, "rust")
    assert not s.language_enabled("javascript", "javascript")


def test_editors_and_readmes_leave_every_default_to_the_settings_module():
    """One home for each default: the VS Code extension sends only what the user set (null otherwise),
    package.json shows no default of its own, and the READMEs point at infill/settings.py."""
    import json
    import re
    from dataclasses import fields
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    keys = [re.sub(r"_(\w)", lambda m: m.group(1).upper(), f.name) for f in fields(Settings) if f.name != "enabled"]
    extension = (root / "editors/vscode/src/extension.ts").read_text()
    sent = re.search(r"const SERVER_KEYS = \[([^\]]*)\]", extension).group(1)
    assert re.findall(r"'(\w+)'", sent) == keys
    properties = json.loads((root / "editors/vscode/package.json").read_text())["contributes"]["configuration"][
        "properties"]
    for key in keys:
        assert properties[f"dg.{key}"]["default"] in (None, []), key
    for readme in ("README.md", "editors/README.md"):
        rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", (root / readme).read_text(), re.M)}
        for key in ("maxLines", "debounceMs", "minConfidence"):
            assert "infill/settings.py" in rows[key], (readme, rows[key])
