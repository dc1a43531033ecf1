"""Checks on a model directory that need no torch (the CLI reports them before loading anything)."""

from __future__ import annotations

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
