"""Checks on a model directory that need no torch (the CLI reports them before loading anything)."""

from __future__ import annotations

import json
from pathlib import Path


class ModelDirError(Exception):
    """The model directory is missing, incomplete or unreadable."""


def check_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist")
    missing = [f for f in ("config.json", "tokenizer.json") if not (path / f).is_file()]
    if not any(path.glob("*.safetensors")):
        missing.append("*.safetensors weights")
    if missing:
        raise ModelDirError(f"model directory {path} lacks {', '.join(missing)}")


def declared_languages(path: Path) -> tuple[str, ...]:
    """The languages dg.json says the model was trained on; empty when it does not say (it claims any)."""
    try:
        return tuple(json.loads((path / "dg.json").read_text()).get("languages", ()))
    except (OSError, ValueError, AttributeError):
        return ()
