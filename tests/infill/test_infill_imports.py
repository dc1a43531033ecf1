"""The walls the design depends on, checked by walking the folders rather than a list of names."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "pygls", "lsprotocol")


def modules(folder: str) -> list[str]:
    names = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_nothing_under_infill_imports_torch_transformers_or_pygls():
    found = modules("infill")
    assert "infill.filters.python_syntax" in found and "infill.judge" in found
    code = ("import importlib, sys\n"
            f"for name in {found!r}: importlib.import_module(name)\n"
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
