"""Pick dg-tiny's shape by measurement: held-out loss per CPU-minute and inference ms per step.

Trains each candidate shape from scratch for the same wall time, then reports supervised tokens
per second, the held-out infill loss reached, and the time of one decoder forward over a 64-token
canvas with a 512-token cache (the engine's budget is 25 ms per denoising step on this CPU).

    python -m training.sweep --minutes 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers.cache_utils import DynamicCache

from engine.serve.textonly import TextOnlyDiffusionGemma
from training.train import PACKAGED, SHAPES, model_config


@torch.inference_mode()
def step_ms(shape: str, tokenizer: Tokenizer) -> float:
    """Wall time of one decoder forward (64-token canvas, 512 cached tokens, bf16, self-conditioning)."""
    config = model_config(tokenizer, shape)
    config.text_config._experts_implementation = "dense"
    model = TextOnlyDiffusionGemma(config).eval().to(torch.bfloat16)
    cache = DynamicCache(config=config.text_config)
    model.model.encoder(input_ids=torch.randint(4, 8000, (1, 512)), cache=cache)
    canvas = torch.randint(4, 8000, (1, 64))
    positions = torch.arange(512, 576).unsqueeze(0)
    logits = model(decoder_input_ids=canvas, cache=cache, decoder_position_ids=positions).logits
    t0 = time.perf_counter()
    for _ in range(10):
        model(decoder_input_ids=canvas, cache=cache, decoder_position_ids=positions,
              self_conditioning_logits=logits)
    return 100 * (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="training time per shape")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--out", type=Path, default=Path("runs/sweep"))
    args = ap.parse_args()
    tokenizer = Tokenizer.from_file(str(PACKAGED / "tokenizer.json"))
    rows = []
    for shape in args.shapes.split(","):
        out = args.out / shape
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "training.train", "--out", str(out), "--shape", shape, "--scratch",
                        "--minutes", str(args.minutes), "--eval-every", "100", "--save-every", "1e9"], check=True)
        evals = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        last = evals[-1]
        rows.append(dict(shape=shape, minutes=last["minutes"], supervised_per_s=round(last["supervised"] /
                         (60 * last["minutes"])), infill_loss=last["val"]["infill@1.0"]["diff"],
                         window_loss=last["val"]["window@0.5"]["diff"], step_ms=round(step_ms(shape, tokenizer), 1)))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'shape':<12} {'min':>5} {'sup tok/s':>9} {'infill loss':>11} {'window loss':>11} {'ms/step':>7}")
    for r in sorted(rows, key=lambda r: r["infill_loss"]):
        print(f"{r['shape']:<12} {r['minutes']:>5} {r['supervised_per_s']:>9} {r['infill_loss']:>11} "
              f"{r['window_loss']:>11} {r['step_ms']:>7}")


if __name__ == "__main__":
    main()
