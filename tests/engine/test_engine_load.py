"""Loading a model straight into its dtype and device (engine/serve/model.py) after checking that its
weights fit there (engine/serve/fit.py): dg-tiny loads exactly as it always did, a stock checkpoint as
transformers loads it, host memory never holds the weights in float32, and a model that does not fit
is refused in one line that names what does."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench import real_shaped
from engine import DEFAULT_MODEL_DIR
from engine.modeldir import ModelDirError, text_weight_bytes

# Loads a model in a fresh process; prints its peak resident memory over the resident memory before.
PEAK_RSS = """
import resource, sys
import engine.serve.model as m
start = int(open("/proc/self/statm").read().split()[1]) * 4096
m.load(sys.argv[1], dtype="bfloat16")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start)
"""


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    return real_shaped.build(tmp_path_factory.mktemp("real") / "diffusiongemma-mini")


def test_dg_tiny_loads_as_it_always_did():
    """Its served numerics: the float32 checkpoint read whole, then every parameter and buffer cast."""
    from engine.serve.model import cpu_dtype, load
    from engine.serve.textonly import TextOnlyDiffusionGemma

    before = TextOnlyDiffusionGemma.from_pretrained(DEFAULT_MODEL_DIR, dtype=torch.float32).to(cpu_dtype())
    now = load(DEFAULT_MODEL_DIR).model
    tensors = [dict([*m.named_parameters(), *m.named_buffers()]) for m in (before, now)]
    assert tensors[0].keys() == tensors[1].keys()
    for name, t in tensors[0].items():
        assert t.dtype == tensors[1][name].dtype and torch.equal(t, tensors[1][name]), name


def test_a_stock_checkpoint_loads_as_transformers_loads_it(real_dir):
    """Weights in the target dtype, the rotary frequencies left in float32."""
    from engine.serve.model import load

    model = load(real_dir, dtype="bfloat16").model
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert {b.dtype for name, b in model.named_buffers() if "inv_freq" in name} == {torch.float32}


def test_loading_never_holds_the_weights_in_float32(real_dir, tmp_path):
    """The peak resident memory of a load grows with the weights' bfloat16 size, not their float32 one:
    two checkpoints that differ only in width, the wide one's weights mostly its 262,144-row embedding."""
    wide = real_shaped.build(tmp_path / "wide", hidden_size=256, max_shard_size="256MB")
    peak = {}
    for d in (real_dir, wide):
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(d)], capture_output=True, text=True, check=True)
        peak[d] = int(out.stdout.split()[-1])
    bf16, fp32 = ((text_weight_bytes(wide, n) - text_weight_bytes(real_dir, n)) for n in (2, 4))
    assert peak[wide] - peak[real_dir] < (bf16 + fp32) / 2, (peak, bf16, fp32)


@pytest.mark.parametrize("dtype, says", [
    ("float32", "they fit in bfloat16 on cpu (dg-engine serve --dtype bfloat16)"),
    ("bfloat16", "nothing on this machine holds them: use a quantized build"),
])
def test_weights_that_do_not_fit_are_refused_before_loading(real_dir, monkeypatch, dtype, says):
    from engine.serve import fit
    from engine.serve.model import load

    # Free memory between the text weights' bfloat16 and float32 sizes, or below both.
    between = (text_weight_bytes(real_dir, 2) + text_weight_bytes(real_dir, 4)) // 2
    free = between if dtype == "float32" else text_weight_bytes(real_dir, 2) - 1
    monkeypatch.setattr(fit, "available_memory", lambda: free)
    with pytest.raises(ModelDirError) as refused:
        load(real_dir, device="cpu", dtype=dtype)
    need = text_weight_bytes(real_dir, getattr(torch, dtype).itemsize)
    assert str(refused.value).startswith(f"the weights in {real_dir} need {fit.size(need)} in {dtype} and cpu has "
                                         f"{fit.size(free)} of memory free; {says}")


def test_the_estimate_counts_text_weights_only(real_dir):
    """The checkpoint is stored in bfloat16: the estimate in bfloat16 is its stored text tensors' bytes."""
    from safetensors import safe_open

    stored = {}
    for file in real_dir.glob("*.safetensors"):
        with safe_open(file, "pt") as f:
            stored |= {k: f.get_slice(k).get_shape() for k in f.keys()}
    text = sum(2 * torch.Size(shape).numel() for k, shape in stored.items() if "vision" not in k)
    assert any("vision_tower" in k for k in stored) and any("embed_vision" in k for k in stored)
    assert text_weight_bytes(real_dir, 2) == text and text_weight_bytes(real_dir, 4) == 2 * text


def test_a_quantized_checkpoint_is_counted_as_stored(tmp_path):
    from tests.bad_models import copy_model

    model = copy_model(tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(dict(config, quantization_config={"quant_method": "fp8"})))
    assert text_weight_bytes(Path(model), 2) == (model / "model.safetensors").stat().st_size - _header(model)


def _header(model: Path) -> int:
    with (model / "model.safetensors").open("rb") as fh:
        return 8 + int.from_bytes(fh.read(8), "little")
