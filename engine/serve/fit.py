"""Whether a model's weights fit where they are to be loaded, asked before anything loads.

The bytes come from the safetensors headers (engine/modeldir.py: the text tensors, at the dtype they
will be loaded in); the free memory from the device: CUDA's free memory on a GPU, MemAvailable plus
free swap on the CPU. A model that does not fit is refused within seconds, in one line that says
where it would fit, instead of swapping or dying of an out-of-memory error minutes into a load.
"""

from __future__ import annotations

from pathlib import Path

import torch

from engine.modeldir import ModelDirError, available_memory, text_weight_bytes

# What a refusal suggests, most preferred first: the half-size dtype before float32.
SUGGESTED_DTYPES = (torch.bfloat16, torch.float32)


def free_bytes(device: torch.device) -> int | None:
    """Memory free on `device` for weights; None where the device does not say (MPS)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        return available_memory()
    return None


def where(device: torch.device) -> str:
    if device.type == "cuda" and device.index is None:
        return f"cuda:{torch.cuda.current_device()}"
    return str(device)


def check_fits(path: Path, device: torch.device, dtype: torch.dtype) -> None:
    """ModelDirError, in one line, for a directory that cannot work (engine/modeldir.py's checks, made
    while reading the headers), or when the weights in `path` loaded in `dtype` need more memory than
    `device` has free; it names a device and dtype of this machine that would hold them."""
    need, free = text_weight_bytes(path, dtype.itemsize), free_bytes(device)
    if free is None or need <= free:
        return
    raise ModelDirError(f"the weights in {path} need {size(need)} in {_name(dtype)} and {where(device)} has "
                        f"{size(free)} of memory free; {_what_fits(path, device, dtype)}")


def _what_fits(path: Path, device: torch.device, dtype: torch.dtype) -> str:
    others = [(device, d) for d in SUGGESTED_DTYPES if d.itemsize < dtype.itemsize]
    if device.type != "cpu":
        others += [(torch.device("cpu"), d) for d in SUGGESTED_DTYPES]
    for dev, d in others:
        free = free_bytes(dev)
        if free is not None and text_weight_bytes(path, d.itemsize) <= free:
            flags = (f"--device {dev} " if dev != device else "") + f"--dtype {_name(d)}"
            return f"they fit in {_name(d)} on {where(dev)} (dg-engine serve {flags})"
    return ("nothing on this machine holds them: use a quantized build (FP8, NVFP4) of the model or a machine "
            "with more memory")


def size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
