"""infill.settings: the "dg" section as editors send it."""

from __future__ import annotations

import pytest

from infill.settings import GENERIC_MAX_LINES, GENERIC_MIN_CONFIDENCE, Settings, SettingsError


def test_lsp_settings_defaults():
    s = Settings()
    assert (s.model_dir, s.engine_socket, s.enabled_languages) == (None, None, ())
    assert (s.max_lines, s.debounce_ms, s.min_confidence, s.enabled) == (None, 0, None, True)


def test_what_the_user_leaves_unset_is_the_models_own():
    assert Settings().for_model(0.7, 3) == Settings(min_confidence=0.7, max_lines=3)
    assert Settings(min_confidence=0.2).for_model(0.7, None) == Settings(min_confidence=0.2,
                                                                         max_lines=GENERIC_MAX_LINES)
    assert Settings().for_model(None, None).min_confidence == GENERIC_MIN_CONFIDENCE


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
    assert (s.max_lines, s.engine_socket, s.debounce_ms) == (None, "tcp://127.0.0.1:7411", 10)
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


def test_editors_and_readmes_leave_every_default_to_the_server():
    """One home for each default: the VS Code extension and the Neovim plugin send only what the user
    set, package.json shows no default of its own, and the READMEs say where each default lives: the
    model's spec for the ones calibrated per model, infill/settings.py for the rest."""
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
    neovim = (root / "editors/nvim/lua/dg/init.lua").read_text()
    assert re.search(r"^M\.defaults = \{.*?^  settings = \{\},$", neovim, re.M | re.S)
    per_model = {"maxLines", "minConfidence"}
    assert {key for key in keys if Settings.__dataclass_fields__[re.sub(r"([A-Z])", r"_\1", key).lower()].default
            is None and key not in ("modelDir", "engineSocket", "engineUrl", "engineTokenFile")} == per_model
    for readme in ("README.md", "editors/README.md"):
        rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", (root / readme).read_text(), re.M)}
        for key in per_model:
            assert "the model's own" in rows[key], (readme, rows[key])
        assert "infill/settings.py" in rows["debounceMs"], (readme, rows["debounceMs"])
