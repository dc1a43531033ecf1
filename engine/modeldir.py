"""Checks on a model directory that need no torch (the CLI reports them before loading anything).

Each failure is one line that says what to fix. Weights are checked from their safetensors headers
alone: a file that is not safetensors, one cut short, integer weights, or weights larger than the
memory this machine has free are refused in milliseconds instead of failing (or swapping) minutes
into a load.
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}


class ModelDirError(Exception):
    """The model directory is missing, incomplete or unreadable."""


def check_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelDirError(f"model directory {path} does not exist")
    missing = [f for f in ("config.json", "tokenizer.json") if not (path / f).is_file()]
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        missing.append("*.safetensors weights")
    if missing:
        raise ModelDirError(f"model directory {path} lacks {', '.join(missing)}")
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{path / 'config.json'} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ModelDirError(f"{path / 'config.json'} is not a JSON object")
    quantized = "quantization_config" in config
    total = sum(check_weights(file, quantized) for file in weights)
    free = available_memory()
    if free is not None and total > free:
        raise ModelDirError(f"the weights in {path} need {total / 2**30:.1f} GiB and this machine has "
                            f"{free / 2**30:.1f} GiB of memory free; use a smaller model or a larger machine")


def check_weights(file: Path, quantized: bool) -> int:
    """Validate one safetensors file's header against its size; return the bytes its tensors take."""
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
    return end


def available_memory() -> int | None:
    """Bytes of memory free for a new process (MemAvailable plus free swap); None where unknown."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        kib = int(fields["MemAvailable"].split()[0]) + int(fields.get("SwapFree", "0 kB").split()[0])
    except (OSError, KeyError, ValueError):
        return None
    return kib * 1024

