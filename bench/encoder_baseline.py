"""The diffusion decoder against its own encoder's causal head, on one-line gaps.

dg-tiny's encoder and decoder are one stack of weights, and training also gives the encoder a
next-token loss. Reading that head greedily, left to right, to the end of the line is the
autoregressive baseline the decoder should beat: the same weights and the same context as the
engine's layout (the encoder's input, then the left flank). It sees less: only the suffix the
encoder holds, not the right flank. Each split is scored both ways in one run: pass@1 (HumanEval
splits), exact match, edit similarity and ms per task, and the decoder's figure over the
encoder's.

    python -m bench.encoder_baseline --split single,heldout --sample 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from transformers.cache_utils import DynamicCache

from bench.batch import machine
from bench.humaneval_infill import (LINE_SPLITS, add_task_options, complete, program, run_program, select_tasks,
                                    text_scores)
from engine import DEFAULT_MODEL_DIR
from engine import protocol as p
from engine.canvas import layout_for
from engine.serve.denoise import softcapped_logits
from engine.protocol import first_lines
from engine.serve.engine import Engine
from engine.serve.model import LoadedModel


@torch.inference_mode()
def greedy_line(lm: LoadedModel, prefix: str, suffix: str, max_tokens: int) -> str:
    """The encoder head's greedy continuation of the engine's context, through the first newline."""
    layout = layout_for(lm.encode, lm.sep_id, prefix, suffix, max_tokens, lm.spec.canvases, lm.spec.budget)
    ids = layout.encoder_ids + layout.left_flank
    encoder = lm.model.model.encoder
    cache = DynamicCache(config=lm.model.config.text_config)
    hidden = encoder(input_ids=torch.tensor([ids], device=lm.device), cache=cache).last_hidden_state
    out: list[int] = []
    while len(out) < max_tokens:
        token = int(softcapped_logits(lm.model, hidden[:, -1:])[0, -1].argmax())
        out.append(token)
        if lm.newline_mask[token]:
            break
        position = torch.tensor([[len(ids) + len(out) - 1]], device=lm.device)
        hidden = encoder(input_ids=torch.tensor([[token]], device=lm.device), cache=cache,
                         position_ids=position).last_hidden_state
    return first_lines(lm.decode(out), 1)


def score(tasks: list[dict], texts: list[str], seconds: float, run_tests: bool) -> dict:
    row = dict(text_scores(tasks, texts), ms_per_task=round(1000 * seconds / len(tasks), 4))
    if run_tests:
        with ThreadPoolExecutor(max_workers=2) as pool:
            passed = sum(pool.map(run_program, [program(task, t) for task, t in zip(tasks, texts)]))
        row["pass@1"] = round(passed / len(tasks), 4)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--split", default="single", help=f"comma list of {', '.join(LINE_SPLITS)}")
    add_task_options(ap)
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args()
    if unknown := set(args.split.split(",")) - set(LINE_SPLITS):
        ap.error(f"line splits only ({', '.join(LINE_SPLITS)}), not {', '.join(sorted(unknown))}")

    engine = Engine(args.model)
    engine.warm_up()
    lm = engine.lm
    print(f"model {args.model} ({lm.dtype}); machine: {machine()}", file=sys.stderr)
    report = {}
    for split in args.split.split(","):
        tasks, max_tokens = select_tasks(split, args)
        t0 = time.perf_counter()
        results = complete(engine, [p.InfillRequest(id=t["task_id"], prefix=t["prompt"], suffix=t["suffix"],
                                                    max_tokens=max_tokens, max_lines=1) for t in tasks], batch=8)
        t1 = time.perf_counter()
        drafts = [greedy_line(lm, t["prompt"], t["suffix"], max_tokens) for t in tasks]
        t2 = time.perf_counter()
        tests = split != "heldout"
        decoder = score(tasks, [r.text if r else "" for r in results], t1 - t0, tests)
        encoder = score(tasks, drafts, t2 - t1, tests)
        ratio = {k: round(decoder[k] / encoder[k], 3) if encoder[k] else None for k in decoder}
        report[split] = dict(tasks=len(tasks), decoder=decoder, encoder_greedy=encoder, decoder_over_encoder=ratio)
        print(json.dumps({split: report[split]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
