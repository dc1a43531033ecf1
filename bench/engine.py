"""Engine speed: ms per denoising step, steps and tokens per forward, infill latency p50/p95.

Gaps of 16 tokens asked for one line (as the server asks at a line), and of 32 and 128 tokens
ended where the model ends them, with a cold and a warm prefix KV cache, one request at a time and
4 concurrent (micro-batched into shared forward passes). The engine runs the model's default order
(dg.json); tok/fwd is the tokens it fixed per forward pass. In the same run, as many tokens as the
diffusion rows produced on average, decoded autoregressively by a causal transformers model of the
same size (hidden size, layers, heads, vocabulary; random weights) with its KV cache, and the ratio.

    python -m bench.engine                 # the embedded dg-tiny on this machine
    python -m bench.engine --model DIR --runs 30
    python -m bench.engine --eager         # without torch.compile (what serves while it compiles)
    python -m bench.engine --order left_to_right   # another order than the model's own
    python -m bench.engine --real-shaped --eager --gaps 16,128 --concurrent 1 --runs 2
                                           # a random checkpoint of the released shape, 262,144-token
                                           # vocabulary (bench/real_shaped.py), at canvases 64 and 256
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import statistics
import sysconfig
import tempfile
import time
from pathlib import Path

import torch

from engine import DEFAULT_MODEL_DIR
from engine import protocol as p
from engine.serve.engine import Engine, Job
from engine.serve.kvcache import PrefixCache
from engine.spec import DRAFT, LAYOUTS, ORDERS

GAPS = (16, 32, 128)
ONE_LINE = 16  # the gap asked for one line


def contexts(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Cursor positions at line starts inside real standard-library modules."""
    rng = random.Random(seed)
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    out = []
    while len(out) < n:
        lines = rng.choice(files).read_text(errors="replace").splitlines(keepends=True)
        if len(lines) < 100:
            continue
        i = rng.randrange(60, len(lines) - 30)
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        out.append(("".join(lines[i - 60 : i]) + indent, "".join(lines[i + 1 : i + 30])))
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_diffusion(engine: Engine, gap: int, warm: bool, concurrent: int, runs: int) -> dict:
    ctx = contexts(runs * concurrent, seed=gap)
    latencies, steps, tpf, tokens = [], [], [], []
    step_ms, canvases = [], []
    for r in range(runs):
        batch = ctx[r * concurrent : (r + 1) * concurrent]
        jobs = [Job(p.InfillRequest(id=str(i), prefix=a, suffix=b, max_tokens=gap,
                                    max_lines=1 if gap == ONE_LINE else None)) for i, (a, b) in enumerate(batch)]
        canvases += [engine.layouts(job.request, job.request.prefix)[0].canvas_length for job in jobs]
        if warm:
            engine.run(jobs, record=False)  # the contexts are now cached; time the repeat
        else:
            engine.store = PrefixCache(engine.store.max_bytes)
        for job in jobs:
            job.received = time.perf_counter()
        before = (engine.stats.step_seconds, engine.stats.batch_steps)
        t0 = time.perf_counter()
        results = engine.run(jobs)
        elapsed = 1000 * (time.perf_counter() - t0)
        latencies += [elapsed] * len(jobs)
        steps += [res.steps for res in results]
        tpf += [res.tokens_per_forward for res in results]
        tokens += [res.tokens_per_forward * res.steps for res in results]
        d_s, d_n = engine.stats.step_seconds - before[0], engine.stats.batch_steps - before[1]
        step_ms.append(1000 * d_s / max(1, d_n))
    return dict(p50=pct(latencies, 0.5), p95=pct(latencies, 0.95), steps=statistics.mean(steps),
                tpf=statistics.mean(tpf), tokens=statistics.mean(tokens), ms_step=statistics.median(step_ms), canvas=statistics.median(canvases))


def causal_twin(engine: Engine):
    """A Llama-style causal LM with dg's sizes: the autoregressive baseline."""
    from transformers import LlamaConfig, LlamaForCausalLM

    t = engine.lm.model.config.text_config
    # Head sizes are per layer where full-attention layers have their own (the released shape): the
    # twin takes the first layer's, a sliding layer's, as most layers are.
    attention = engine.lm.model.model.decoder.layers[0].self_attn
    active_ffn = t.intermediate_size + (t.top_k_experts or 0) * (t.moe_intermediate_size or 0)
    cfg = LlamaConfig(vocab_size=t.vocab_size, hidden_size=t.hidden_size, intermediate_size=active_ffn,
                      num_hidden_layers=t.num_hidden_layers, num_attention_heads=t.num_attention_heads,
                      num_key_value_heads=attention.k_proj.out_features // attention.head_dim,
                      head_dim=attention.head_dim, max_position_embeddings=t.max_position_embeddings,
                      tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval().to(engine.lm.device, engine.lm.dtype)


@torch.inference_mode()
def bench_autoregressive(model, context_tokens: int, gap: int, concurrent: int, runs: int) -> dict:
    latencies = []
    for _ in range(runs + 1):
        ids = torch.randint(4, model.config.vocab_size, (concurrent, context_tokens), device=model.device)
        t0 = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=gap, min_new_tokens=gap,
                       do_sample=False, pad_token_id=0)
        latencies.append(1000 * (time.perf_counter() - t0))
    latencies = latencies[1:]
    return dict(p50=pct(latencies, 0.5), p95=pct(latencies, 0.95))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--device")
    ap.add_argument("--eager", action="store_true",
                    help="measure the eager model, which serves until the daemon's compiled copy takes over")
    ap.add_argument("--order", choices=ORDERS, help="override the model's denoising order")
    ap.add_argument("--verify", type=int, help="override the draft order's verification rows")
    ap.add_argument("--layout", choices=LAYOUTS, help="serve with this layout instead of the model's own")
    ap.add_argument("--gaps", default=",".join(map(str, GAPS)), help="gap sizes in tokens, comma-separated")
    ap.add_argument("--concurrent", default="1,4", help="requests at once, comma-separated")
    ap.add_argument("--real-shaped", action="store_true",
                    help="instead of --model, a random checkpoint of the released DiffusionGemma's shape at a "
                         "small width (bench/real_shaped.py), run at canvases 64 and 256")
    args = ap.parse_args()

    if args.real_shaped:
        from bench import real_shaped

        scratch = tempfile.TemporaryDirectory(prefix="dg-real-shaped-")  # removed when the run ends
        args.model = real_shaped.build(Path(scratch.name) / "diffusiongemma-mini")
        (args.model / "dg.json").write_text('{"canvases": [64, 256]}')
    engine = Engine(args.model, device=args.device, layout=args.layout)
    overrides = {"order": args.order, "verify": args.verify}
    engine.sampler = dataclasses.replace(engine.sampler, **{k: v for k, v in overrides.items() if v is not None})
    engine.warm_up()
    compiling = time.perf_counter()
    if not args.eager and engine.lm.device.type == "cpu" and not engine.compile_in_background().wait():
        raise SystemExit("the compiled model did not take over; see the log above, or measure with --eager")
    compile_s = time.perf_counter() - compiling
    budget = engine.lm.spec.budget
    context_tokens = budget.encoder_prefix + budget.encoder_suffix + 1
    twin = causal_twin(engine)
    gpu = torch.cuda.get_device_name() if engine.lm.device.type == "cuda" else "no GPU"
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, {gpu}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    how = f"compiled layers (compiled and warmed in {compile_s:.0f} s)" if engine.compiled else "eager"
    print(f"model: {engine.lm.spec.name} on {engine.lm.device} ({engine.lm.dtype}, {how}), {engine.lm.layout.name} "
          f"layout, vocabulary {engine.lm.model.config.text_config.vocab_size:,}; order {engine.sampler.order}"
          f"{f' ({engine.sampler.verify} verification rows)' if engine.sampler.order == DRAFT else ''}; context up to {context_tokens} "
          f"tokens; baseline: Llama causal LM of the same size, random weights, KV cache, greedy\n")
    head = (f"{'gap':>4} {'cache':>5} {'req':>3} {'canvas':>6} | {'p50 ms':>7} {'p95 ms':>7} {'steps':>5} "
            f"{'tok/fwd':>7} {'tokens':>6} "
            f"{'ms/step':>7} | {'AR p50':>7} {'AR p95':>7} | {'AR/diff p50':>11}")
    print(head)
    print("-" * len(head))
    for gap in map(int, args.gaps.split(",")):
        for concurrent in map(int, args.concurrent.split(",")):
            for warm in (False, True):
                d = bench_diffusion(engine, gap, warm, concurrent, args.runs)
                ar = bench_autoregressive(twin, context_tokens, max(1, round(d["tokens"])), concurrent,
                                          max(3, args.runs // 3))
                print(f"{gap:>4} {'warm' if warm else 'cold':>5} {concurrent:>3} {d['canvas']:>6.0f} | "
                      f"{d['p50']:>7.1f} {d['p95']:>7.1f} "
                      f"{d['steps']:>5.1f} {d['tpf']:>7.2f} {d['tokens']:>6.1f} {d['ms_step']:>7.1f} | "
                      f"{ar['p50']:>7.1f} {ar['p95']:>7.1f} "
                      f"| {ar['p50'] / d['p50']:>10.2f}x", flush=True)
    status = engine.status()
    print(f"\noverall: {status.ms_per_step} ms/step, {status.steps_per_infill} steps/infill, "
          f"cache hit rate {status.cache_hit_rate}")


if __name__ == "__main__":
    main()
