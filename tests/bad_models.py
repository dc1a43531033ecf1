"""Broken model directories, one maker per way a model can be broken, and what the refusal says.

Shared by the engine's test (tests/engine/test_engine_bad_model.py) and the editor's
(tests/lsp/test_lsp_bad_model.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from engine import DEFAULT_MODEL_DIR


def copy_model(dst: Path, weights: bool = True) -> Path:
    dst.mkdir(parents=True)
    for f in DEFAULT_MODEL_DIR.iterdir():
        if f.suffix != ".safetensors" or weights:
            shutil.copy(f, dst / f.name)
    return dst


def config_edit(d: Path, **text_config) -> None:
    config = json.loads((d / "config.json").read_text())
    config["text_config"].update(text_config)
    (d / "config.json").write_text(json.dumps(config))


def safetensors_header(tensors: dict) -> bytes:
    header = json.dumps(tensors).encode()
    return len(header).to_bytes(8, "little") + header


def missing(d: Path) -> None:
    pass


def empty(d: Path) -> None:
    d.mkdir()


def corrupt(d: Path) -> None:
    copy_model(d, weights=False)
    (d / "model.safetensors").write_bytes(os.urandom(4096))


def truncated(d: Path) -> None:
    copy_model(d)
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])


def wrong_dtype(d: Path) -> None:
    copy_model(d, weights=False)
    shape = [8, 8]
    (d / "model.safetensors").write_bytes(safetensors_header(
        {"lm_head.weight": {"dtype": "I32", "shape": shape, "data_offsets": [0, 256]}}) + bytes(256))


def wrong_config_shapes(d: Path) -> None:
    copy_model(d)
    config_edit(d, hidden_size=512)


def wrong_config_layers(d: Path) -> None:
    copy_model(d)
    config_edit(d, num_hidden_layers=6, layer_types=["sliding_attention"] * 5 + ["full_attention"])


def config_not_json(d: Path) -> None:
    copy_model(d)
    (d / "config.json").write_text("{not json")


def too_large(d: Path) -> None:
    copy_model(d, weights=False)
    size = 1 << 42  # 4 TiB, a sparse file: nothing is written
    with open(d / "model.safetensors", "wb") as fh:
        header = safetensors_header({"lm_head.weight": {"dtype": "F32", "shape": [1 << 20, 1 << 20],
                                                        "data_offsets": [0, size]}})
        fh.write(header)
        fh.truncate(len(header) + size)


CASES = {
    missing: "does not exist",
    empty: "lacks config.json, tokenizer.json, *.safetensors weights",
    corrupt: "is not a safetensors file",
    truncated: "is cut short",
    wrong_dtype: "holds I32 tensors",
    wrong_config_shapes: "do not match its config.json",
    wrong_config_layers: "the config does not match the weights",
    config_not_json: "config.json is not valid JSON",
    too_large: "of memory free",
}
