"""Checks on a model directory that need no torch (the CLI reports them before loading anything).

Each failure is one line that says what to fix. Weights are checked from their safetensors headers
alone: a file that is not safetensors, one cut short, or integer weights are refused in milliseconds
instead of failing minutes into a load. The same headers say how many bytes the text weights take in
a given dtype, which the loader checks against the memory free where it loads them
(engine/serve/fit.py).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
# Tensors a text-only load skips (engine/serve/textonly.py): the vision tower and its projection.
VISION_KEYS = (r"vision_tower\.", r"embed_vision\.")
_VISION = re.compile("|".join(VISION_KEYS))


class ModelDirError(Exception):
    """The model directory is missing, incomplete or unreadable."""


def check_dir(path: Path) -> None:
    weight_headers(path)


def weight_headers(path: Path) -> dict[str, dict]:
    """Every tensor's header entry (dtype, shape, data_offsets) across the directory's safetensors files,
    after checking the directory: ModelDirError, in one line, for one that cannot work."""
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist")
    missing = [f for f in ("config.json", "tokenizer.json") if not (path / f).is_file()]
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        missing.append("*.safetensors weights")
    if missing:
        raise ModelDirError(f"model directory {path} lacks {', '.join(missing)}")
    quantized = "quantization_config" in read_config(path)
    return {name: entry for file in weights for name, entry in check_weights(file, quantized).items()}


def read_config(path: Path) -> dict:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{path / 'config.json'} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ModelDirError(f"{path / 'config.json'} is not a JSON object")
    return config


def check_weights(file: Path, quantized: bool) -> dict[str, dict]:
    """Validate one safetensors file's header against its size; return its tensors' entries."""
    size = file.stat().st_size
    try:
        with file.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or not 2 <= n <= min(MAX_HEADER_BYTES, size - 8):
                raise ValueError("no safetensors header")
            header = json.loads(fh.read(n))
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        end = max((int(v["data_offsets"][1]) for v in tensors.values()), default=0)
        dtypes = {v["dtype"] for v in tensors.values()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        raise ModelDirError(f"{file} is not a safetensors file (corrupt or another format)") from None
    if 8 + n + end > size:
        raise ModelDirError(f"{file} is cut short: its tensors need {8 + n + end} bytes and it has {size} "
                            f"(copy or download it again)")
    if not quantized and not dtypes <= FLOAT_DTYPES:
        raise ModelDirError(f"{file} holds {', '.join(sorted(dtypes - FLOAT_DTYPES))} tensors; an unquantized "
                            f"model's weights are floating point ({', '.join(sorted(FLOAT_DTYPES))})")
    return tensors


def text_weight_bytes(path: Path, itemsize: int) -> int:
    """Bytes the model's text weights take loaded with `itemsize` bytes per element (the vision tower is
    skipped). A quantized checkpoint's tensors keep the size they are stored in."""
    headers = weight_headers(path)  # first: it checks the directory, config.json included
    quantized = "quantization_config" in read_config(path)
    total = 0
    for name, entry in headers.items():
        if _VISION.search(name):
            continue
        start, end = entry["data_offsets"]
        total += int(end) - int(start) if quantized else math.prod(entry["shape"]) * itemsize
    return total


def available_memory() -> int | None:
    """Bytes of memory free for a new process (MemAvailable plus free swap); None where unknown."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        kib = int(fields["MemAvailable"].split()[0]) + int(fields.get("SwapFree", "0 kB").split()[0])
    except (OSError, KeyError, ValueError):
        return None
    return kib * 1024
