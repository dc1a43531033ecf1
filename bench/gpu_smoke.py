"""A first try on a GPU: the engine on random weights of the released DiffusionGemma's shape, against
the memory-bandwidth roofline and an autoregressive model of the same active size.

The weights are built on the device (nothing is downloaded or written; 26B-A4B needs about 50 GB of
GPU memory in bfloat16). For canvases of 64 and 256 tokens, one request and several batched into
each step, it prints ms/step, the canvas's tokens/s, and beside them the roofline: the bytes one
step must read divided by the memory bandwidth measured here. A mixture of experts' step does not
read the 3.8B "active" parameters: N canvas tokens, each routed to k of E experts, touch about
1 - (1 - k/E)^N of every layer's experts (87% at N = 32 for 8 of 128), so a step reads nearly all
the weights, while an autoregressive token reads the active ones. The last columns time that
autoregressive decoding (a Llama of the active size, KV cache, greedy) for as many tokens as the
gap holds, and the ratio of the two latencies. First it checks the loader's path on the device: a
real-shaped checkpoint (bench/real_shaped.py) written to disk and read back by the engine's own load(),
each tensor straight into the serving dtype on the device.

    python -m bench.gpu_smoke                                   # on a GPU machine, under 10 minutes
    python -m bench.gpu_smoke --shape tiny --device cpu --steps 2   # the same code, small, on a CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from bench import real_shaped
from bench.engine import bench_autoregressive, causal_twin
from engine import protocol as p
from engine.serve.engine import Engine, Job
from engine.modeldir import text_weight_bytes
from engine.serve.model import cpu_dtype, load, serving
from engine.serve.textonly import TextOnlyDiffusionGemma
from engine.spec import CHAT_BUDGET, CHAT_LAYOUT, ModelSpec

CANVASES = (64, 256)
GAPS = {64: 48, 256: 192}  # a request whose gap needs this canvas (the chat layout pins no flank)
PREFIX = 'def mean(xs):\n    """Average of xs."""\n    total = sum(xs)\n' * 40
SUFFIX = "\n\nprint(mean([1, 2, 3]))\n" * 10


def build(shape: str, device: torch.device) -> Engine:
    """An engine over random weights of `shape`, built on `device` in the dtype the engine serves in."""
    dtype = torch.bfloat16 if device.type != "cpu" else cpu_dtype()
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = TextOnlyDiffusionGemma(real_shaped.config(shape)).eval()
    finally:
        torch.set_default_dtype(default)
    model.generation_config = real_shaped.generation_config()
    spec = ModelSpec(name=f"random {shape}", budget=CHAT_BUDGET, canvases=CANVASES, layout=CHAT_LAYOUT,
                     chat_template=real_shaped.CHAT_TEMPLATE)
    return Engine.around(serving(model, real_shaped.tokenizer(), spec, Path("(built in memory)"), device))


def load_check(device: torch.device, steps: int) -> str:
    """A real-shaped checkpoint read from disk by load() onto `device`, and one request served from it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = real_shaped.build(Path(tmp) / "real-shaped")
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        lm = load(path, device=str(device))
        seconds = time.perf_counter() - t0
        placed = sorted({f"{t.device} in {str(t.dtype).removeprefix('torch.')}" for t in lm.model.parameters()})
        peak = (f", {torch.cuda.max_memory_allocated(device) / 1e6:.0f} MB of GPU memory at most for "
                f"{text_weight_bytes(path, lm.dtype.itemsize) / 1e6:.0f} MB of text weights"
                if device.type == "cuda" else "")
        engine = Engine.around(lm, dataclasses.replace(lm.sampler, max_steps=steps))
        (result,) = engine.run([Job(p.infill_request("load", PREFIX, SUFFIX, max_tokens=8))])
    return (f"load(): a real-shaped checkpoint read onto {'; '.join(placed)} in {seconds:.1f} s{peak}; "
            f"a request served in {result.steps} steps")


def bandwidth(device: torch.device, gib: float) -> float:
    """Bytes per second a copy moves on `device` (each byte read once and written once)."""
    x = torch.empty(int(gib * 2**30), dtype=torch.uint8, device=device)
    y = torch.empty_like(x)
    y.copy_(x)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(5):
        y.copy_(x)
    sync(device)
    return 2 * 5 * x.numel() / (time.perf_counter() - t0)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_bytes(model, tokens: int) -> float:
    """Bytes a decoder pass over `tokens` canvas tokens reads: every weight but the experts, the fraction
    of experts the tokens' routing touches, and the tied output head once more."""
    text = model.config.text_config
    experts = other = 0
    for name, param in model.model.decoder.named_parameters():
        size = param.numel() * param.element_size()
        if ".experts." in name:
            experts += size
        else:
            other += size
    touched = 1 - (1 - text.top_k_experts / text.num_experts) ** tokens
    head = model.lm_head.weight.numel() * model.lm_head.weight.element_size()
    return other + touched * experts + head


def measure(engine: Engine, canvas: int, rows: int, runs: int) -> dict:
    jobs = lambda run: [Job(p.infill_request(f"{run}-{i}", PREFIX + f"x_{run}_{i} = ", SUFFIX,  # noqa: E731
                                             max_tokens=GAPS[canvas])) for i in range(rows)]
    engine.run(jobs("warm"), record=False)
    engine.stats = type(engine.stats)()
    t0 = time.perf_counter()
    for run in range(runs):
        engine.run(jobs(run))
    sync(engine.lm.device)
    latency = (time.perf_counter() - t0) / runs
    return dict(ms_step=engine.stats.ms_per_step, latency_ms=1000 * latency,
                tokens_s=rows * (canvas - 1) / latency)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=real_shaped.SHAPES, default="26b-a4b")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--steps", type=int, default=48, help="denoising steps per request (the released 48)")
    ap.add_argument("--rows", default="1,4", help="requests batched into each step, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    device = torch.device(args.device)
    print(load_check(device, args.steps), flush=True)
    t0 = time.perf_counter()
    engine = build(args.shape, device)
    # Random weights are never confident: every request runs all its steps, as a hard one would.
    engine.sampler = dataclasses.replace(engine.sampler, max_steps=args.steps, confidence_threshold=0.0)
    model = engine.lm.model
    params = sum(t.numel() for t in model.parameters())
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    bw = bandwidth(device, 2.0 if device.type == "cuda" else 0.25)
    print(f"{gpu}: {bw / 1e9:.0f} GB/s measured; model {engine.lm.spec.name}: {params / 1e9:.2f}B parameters in "
          f"{engine.lm.dtype}, built in {time.perf_counter() - t0:.0f} s; {args.steps} steps per request\n")
    twin = causal_twin(engine)
    ar_token = step_bytes(model, 1)  # one token, k experts per layer: the active weights
    head = (f"{'canvas':>6} {'rows':>4} | {'ms/step':>8} {'roofline':>8} {'latency ms':>10} {'tok/s':>8} | "
            f"{'AR ms':>8} {'AR roofline':>11} | {'AR/diff':>7}")
    print(head)
    print("-" * len(head))
    for canvas in CANVASES:
        for rows in map(int, args.rows.split(",")):
            d = measure(engine, canvas, rows, args.runs)
            roof = 1000 * step_bytes(model, rows * canvas) / bw
            ar = bench_autoregressive(twin, 512, canvas - 1, rows, args.runs)
            ar_roof = 1000 * ar_token * (canvas - 1) / bw
            print(f"{canvas:>6} {rows:>4} | {d['ms_step']:>8.1f} {roof:>8.1f} {d['latency_ms']:>10.0f} "
                  f"{d['tokens_s']:>8.0f} | {ar['p50']:>8.0f} {ar_roof:>11.0f} | {ar['p50'] / d['latency_ms']:>6.2f}x",
                  flush=True)
    print(f"\nroofline: a step reads every non-expert weight, 1 - (1 - k/E)^N of the experts for N canvas tokens "
          f"and the output head ({step_bytes(model, 64) / 1e9:.1f} GB at N = 64, {step_bytes(model, 256) / 1e9:.1f} "
          f"GB at N = 256); an autoregressive token reads {ar_token / 1e9:.1f} GB. Diffusion wins where one step's "
          f"read is shared by many tokens (long gaps, many requests in a step, smaller weights) and loses for a "
          f"short line for one user, where {args.steps} steps read the weights {args.steps} times.")


if __name__ == "__main__":
    main()
