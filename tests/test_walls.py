"""The walls the design depends on, checked by walking the folders rather than a list of names:
only `engine/serve/` (the daemon's side) and `training/` may import torch or transformers, and
only `lsp_server/` may import pygls."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TORCH = ("torch", "transformers")
LSP = ("pygls", "lsprotocol")


def modules(folder: str, *, outside: str | None = None) -> list[str]:
    names = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if outside and path.is_relative_to(ROOT / outside):
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def heavy_imports(names: list[str]) -> list[str]:
    """The heavy packages that importing every module of `names`, in a fresh interpreter, loads."""
    code = ("import importlib, sys\n"
            f"for name in {names!r}: importlib.import_module(name)\n"
            f"print(' '.join(m for m in {TORCH + LSP!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.parametrize(("folder", "outside", "allowed"), [
    ("infill", None, ()),
    ("engine", "engine/serve", ()),
    ("batch_cli", None, ()),
    ("lsp_server", None, LSP),
])
def test_a_folder_imports_only_what_its_wall_allows(folder, outside, allowed):
    found = modules(folder, outside=outside)
    assert len(found) > 3, found  # the walk found the folder's modules
    assert [m for m in heavy_imports(found) if m not in allowed] == []


def test_the_serving_side_is_where_torch_is():
    assert "torch" in heavy_imports(["engine.serve.engine"])
