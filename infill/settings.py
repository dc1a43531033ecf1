"""The user settings of dg-lsp and dg-infill: one frozen dataclass, read from the editors' "dg" section.

Editors send the section in camelCase (VS Code: `dg.maxLines`; Neovim: `settings = { maxLines = 4 }`)
through initializationOptions, workspace/didChangeConfiguration and workspace/configuration. The
section also holds keys only the editor uses (serverPath, enable, ...): unknown keys are ignored.
A key that is missing keeps its current value and a JSON null resets it to the default, so a partial
update never silently changes an unrelated setting. A bad value raises SettingsError naming the key,
and nothing is applied.

Pure Python: the LSP server and the batch CLI share it without importing pygls or tree-sitter.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping
from urllib.parse import urlsplit

SECTION = "dg"

# The gate (infill/judge.py: a completion is shown as far as the joint probability of its tokens
# reaches it) and the longest completion depend on the model: each model's spec carries the values calibrated
# on it (dg.json; dg-tiny's calibration is in its model card), and a setting overrides them only when
# the user sets it. These apply to a model that carries none.
GENERIC_MIN_CONFIDENCE = 0.5
GENERIC_MAX_LINES = 1
# No wait by default: typing-through and the completion cache answer most keystrokes at once, and the
# daemon drops a superseded request between denoising steps, so waiting would only add latency.
DEFAULT_DEBOUNCE_MS = 0
MAX_LINES_LIMIT = 64
MAX_DEBOUNCE_MS = 5000


class SettingsError(ValueError):
    """A setting has a value of the wrong type or out of range; the message names the key."""


@dataclass(frozen=True)
class Settings:
    model_dir: str | None = None  # None: the embedded dg-tiny
    engine_socket: str | None = None  # None: the per-model default socket; else a path or tcp://HOST:PORT
    # An OpenAI-compatible server (vLLM, or dg-engine serve --http) to use instead of the daemon:
    # http(s)://HOST:PORT/v1. Its token comes from this file, else $DG_ENGINE_TOKEN; never from the
    # settings themselves, which editors keep in plain files and sync.
    engine_url: str | None = None
    engine_token_file: str | None = None
    enabled_languages: tuple[str, ...] = ()  # empty: every language
    max_lines: int | None = None  # None: the model's own (see GENERIC_MAX_LINES)
    debounce_ms: int = DEFAULT_DEBOUNCE_MS
    min_confidence: float | None = None  # None: the model's own (see GENERIC_MIN_CONFIDENCE)
    enabled: bool = True

    @classmethod
    def from_dict(cls, section: Mapping[str, Any] | None, base: Settings | None = None) -> Settings:
        """Settings from a "dg" section over `base` (defaults when None); raises SettingsError."""
        base = base or cls()
        if section is None:
            return base
        if not isinstance(section, Mapping):
            raise SettingsError(f"the {SECTION!r} settings must be an object, not {_show(section)}")
        changes = {}
        for f in fields(cls):
            key = _camel(f.name)
            if key not in section:
                continue
            value = section[key]
            changes[f.name] = getattr(cls, f.name) if value is None else _PARSERS[f.name](key, value)
        return replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The camelCase section, as editors send it (dg.status reports it this way)."""
        out = {_camel(f.name): getattr(self, f.name) for f in fields(self)}
        out["enabledLanguages"] = list(self.enabled_languages)
        return out

    def for_model(self, min_confidence: float | None, max_lines: int | None) -> Settings:
        """These settings with what the user left unset filled from a model's own defaults (None: it has
        none, and the generic ones apply)."""
        return replace(self, min_confidence=_first(self.min_confidence, min_confidence, GENERIC_MIN_CONFIDENCE),
                       max_lines=_first(self.max_lines, max_lines, GENERIC_MAX_LINES))

    def language_enabled(self, *names: str | None) -> bool:
        """Whether any of a document's names (LSP language id, resolved language) is enabled."""
        if not self.enabled_languages:
            return True
        wanted = {name.lower() for name in self.enabled_languages}
        return any(name is not None and name.lower() in wanted for name in names)


def _first(*values):
    return next(value for value in values if value is not None)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(key: str, value: Any) -> str | None:
    if not isinstance(value, str):
        raise SettingsError(f"{SECTION}.{key} must be a path (a string) or null, not {_show(value)}")
    value = value.strip()
    # VS Code keeps a cleared text setting as "": that means the default, like null.
    return os.path.expanduser(value) if value else None


def _socket(key: str, value: Any) -> str | None:
    address = _path(key, value)
    if address is None:
        return None
    if address.startswith("tcp://"):
        host, sep, port = address[len("tcp://"):].rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"{SECTION}.{key} must be tcp://HOST:PORT with a port from 1 to 65535, "
                                f"not {_show(value)}")
        return address
    if not os.path.isabs(address):
        raise SettingsError(f"{SECTION}.{key} must be an absolute Unix socket path or tcp://HOST:PORT, "
                            f"not {_show(value)}")
    return address


def _url(key: str, value: Any) -> str | None:
    if not isinstance(value, str):
        raise SettingsError(f"{SECTION}.{key} must be a URL (a string) or null, not {_show(value)}")
    url = value.strip().rstrip("/")
    if not url:
        return None
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or parts.query or parts.fragment:
        raise SettingsError(f"{SECTION}.{key} must be http(s)://HOST:PORT/v1, not {_show(value)}")
    return url


def _languages(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError(f"{SECTION}.{key} must be a list of language ids such as [\"python\"], "
                            f"not {_show(value)}")
    return tuple(v.strip() for v in value)


def _int(low: int, high: int):
    def parse(key: str, value: Any) -> int:
        # bool is an int in Python; true as a line count is a mistake, not 1.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsError(f"{SECTION}.{key} must be an integer from {low} to {high}, not {_show(value)}")
        return value
    return parse


def _confidence(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise SettingsError(f"{SECTION}.{key} must be a number from 0 to 1, not {_show(value)}")
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{SECTION}.{key} must be true or false, not {_show(value)}")
    return value


_PARSERS = {
    "model_dir": _path,
    "engine_socket": _socket,
    "engine_url": _url,
    "engine_token_file": _path,
    "enabled_languages": _languages,
    "max_lines": _int(1, MAX_LINES_LIMIT),
    "debounce_ms": _int(0, MAX_DEBOUNCE_MS),
    "min_confidence": _confidence,
    "enabled": _bool,
}
