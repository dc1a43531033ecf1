"""Score an infill model on HumanEval-infilling by executing the tests (pass@1).

For each task the engine fills the gap between `prompt` and `suffix`; the program
`prompt + completion + suffix + test + check(entry_point)` runs in a subprocess with a time
limit. Printed per split: pass@1, exact match, the empty-completion floor, mean steps, tokens per
forward pass and ms per task. `--split heldout` instead draws line gaps from the corpus's held-out
split and reports the confidence gate: exact match among shown completions against the share
shown, for a range of mean-confidence thresholds. `--served` scores what the language server would
show instead of the model's raw text: infill builds the request (context windows, gap mode, line
limit) from the task's text with the cursor at the gap, and post-processes the answer; a completion
it drops leaves the gap as it is. It adds the share shown and pass@1 among shown completions.

    python -m bench.humaneval_infill --split single --sample 200
    python -m bench.humaneval_infill --model path/to/model --split single,multi,span
    python -m bench.humaneval_infill --model path/to/diffusiongemma --layout sep   # or chat: compare layouts
    python -m bench.humaneval_infill --split heldout --sample 500
    python -m bench.humaneval_infill --split heldout --max-steps 8 --entropy-bound 1.0   # sampler trials
    python -m bench.humaneval_infill --split single --sample 200 --served
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import gzip
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine import DEFAULT_MODEL_DIR
from engine import protocol as p
from engine.spec import LAYOUTS, ORDERS
from infill import Completion, Document, build_request, postprocess
from infill.settings import Settings

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "human-eval-infilling"
SPLITS = {
    "single": ("HumanEval-SingleLineInfilling.jsonl.gz", 24),
    "multi": ("HumanEval-MultiLineInfilling.jsonl.gz", 96),
    "span": ("HumanEval-RandomSpanInfilling.jsonl.gz", 96),
    "span-light": ("HumanEval-RandomSpanInfillingLight.jsonl.gz", 96),
}
# Splits whose gap is one line: the engine is told so, as the server tells it for a line gap.
LINE_SPLITS = ("single", "heldout")
TIME_LIMIT_S = 10.0


def load_split(name: str, eval_dir: Path) -> list[dict]:
    with gzip.open(eval_dir / SPLITS[name][0], "rt") as fh:
        return [json.loads(line) for line in fh]


def heldout_tasks(corpus: Path, n: int, seed: int) -> list[dict]:
    """Single-line gaps from held-out files, shaped like HumanEval tasks (no tests)."""
    rng = random.Random(seed)
    texts = [json.loads(line)["text"] for line in (corpus / "val.jsonl").read_text().splitlines()]
    tasks = []
    while len(tasks) < n:
        lines = rng.choice(texts).splitlines(keepends=True)
        i = rng.randrange(len(lines))
        if len(lines[i].strip()) < 4:
            continue
        tasks.append(dict(task_id=f"heldout/{len(tasks)}", prompt="".join(lines[max(0, i - 60) : i]),
                          canonical_solution=lines[i], suffix="".join(lines[i + 1 : i + 30])))
    return tasks


def select_tasks(split: str, args: argparse.Namespace) -> tuple[list[dict], int]:
    """The split's tasks as `--sample`, `--limit` and `--seed` pick them, and the gap size to ask for."""
    if split == "heldout":
        return heldout_tasks(args.corpus, args.sample or args.limit or 500, args.seed), 24
    tasks = load_split(split, args.eval_dir)
    if args.sample:
        tasks = random.Random(args.seed).sample(tasks, min(args.sample, len(tasks)))
    elif args.limit:
        tasks = tasks[: args.limit]
    return tasks, SPLITS[split][1]


def add_task_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--limit", type=int, help="first N tasks of each split")
    ap.add_argument("--sample", type=int, help="N random tasks of each split (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus"))


def run_program(source: str) -> bool:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    try:
        proc = subprocess.run([sys.executable, fh.name], capture_output=True, timeout=TIME_LIMIT_S,
                              cwd=tempfile.gettempdir())
        return proc.returncode == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        Path(fh.name).unlink(missing_ok=True)


def with_tests(task: dict, source: str) -> str:
    """`source` followed by the task's tests and the call that runs them."""
    return source + "\n" + task["test"] + "\n" + f"check({task['entry_point']})\n"


def program(task: dict, completion: str) -> str:
    return with_tests(task, task["prompt"] + completion + task["suffix"])


def complete(engine, requests: list[p.InfillRequest | None], batch: int) -> list[p.InfillResult | None]:
    """The engine's answers in order; None where there was no request."""
    from engine.serve.engine import Job

    asked = [r for r in requests if r is not None]
    answers = []
    for start in range(0, len(asked), batch):
        answers += engine.run([Job(r) for r in asked[start : start + batch]])
        print(f"\r  {len(answers)}/{len(asked)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    it = iter(answers)
    return [next(it) if r is not None else None for r in requests]


class Served:
    """A task as the language server meets it: the file without the middle, the cursor at the gap."""

    def __init__(self, task: dict, settings: Settings):
        self.task = task
        self.doc = Document(task["prompt"] + task["suffix"], "python")
        self.request = build_request(self.doc, len(task["prompt"]), max_lines=settings.max_lines)

    def engine_request(self) -> p.InfillRequest | None:
        r = self.request
        return r and p.infill_request(self.task["task_id"], r.prefix, r.suffix, max_tokens=r.max_tokens,
                                      max_lines=r.max_lines, word_ends=r.word_ends)

    def shown(self, raw_text: str) -> str | None:
        """The completion the server would show for the model's text, or None."""
        completion = self.request and postprocess(self.request, raw_text, self.doc)
        return completion.text if isinstance(completion, Completion) else None

    def program(self, shown: str | None) -> str:
        """The task's program after accepting `shown` (the file as it is when nothing was shown)."""
        text, r = self.doc.text, self.request
        return with_tests(self.task, text if shown is None else text[: r.offset] + shown + text[r.replace_end :])


def exact(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def edit_similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.strip(), b.strip()).ratio()


def text_scores(tasks: list[dict], texts: list[str]) -> dict:
    """Exact match and edit similarity of the texts against the tasks' canonical middles."""
    n = len(tasks)
    return dict(exact_match=round(sum(exact(t, task["canonical_solution"]) for t, task in zip(texts, tasks)) / n, 4),
                edit_similarity=round(sum(edit_similarity(t, task["canonical_solution"])
                                          for t, task in zip(texts, tasks)) / n, 4))


def gate_table(rows: list[tuple[p.InfillResult | None, bool]]) -> list[dict]:
    """Share shown and correctness among shown, gating on the mean or on the minimum token confidence."""
    out = []
    for by in ("mean", "min"):
        for threshold in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
            shown = [ok for r, ok in rows if r and getattr(r, f"{by}_confidence") >= threshold and r.text.strip()]
            out.append(dict(by=by, threshold=threshold, shown=round(len(shown) / len(rows), 3),
                            precision=round(sum(shown) / len(shown), 3) if shown else None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--split", default="single", help="comma list of single, multi, span, span-light, heldout")
    add_task_options(ap)
    ap.add_argument("--batch", type=int, default=8, help="tasks per engine batch")
    ap.add_argument("--json", type=Path, help="also write the report here")
    ap.add_argument("--max-steps", type=int, help="override the model's denoising step cap")
    ap.add_argument("--entropy-bound", type=float, help="override the model's entropy bound")
    ap.add_argument("--order", choices=ORDERS, help="override the model's denoising order")
    ap.add_argument("--verify", type=int, help="override the draft order's verification rows")
    ap.add_argument("--layout", choices=LAYOUTS, help="serve with this layout instead of the model's own")
    ap.add_argument("--served", action="store_true", help="score what the language server would show")
    args = ap.parse_args()

    from engine.serve.engine import Engine

    t0 = time.time()
    engine = Engine(args.model, layout=args.layout)
    overrides = {"max_steps": args.max_steps, "entropy_bound": args.entropy_bound, "order": args.order,
                 "verify": args.verify}
    engine.sampler = dataclasses.replace(engine.sampler, **{k: v for k, v in overrides.items() if v is not None})
    engine.warm_up()
    settings = Settings().for_model(engine.lm.spec.min_confidence, engine.lm.spec.max_lines)  # the server's
    print(f"model {args.model} on {engine.lm.device} ({engine.lm.dtype}), loaded in {time.time() - t0:.1f}s; "
          f"{engine.lm.layout.name} layout; sampler {engine.sampler}; "
          f"machine: {platform.machine()} {platform.processor() or ''} {__import__('os').cpu_count()} cores",
          file=sys.stderr)
    report = {}
    for split in args.split.split(","):
        tasks, max_tokens = select_tasks(split, args)
        served = [Served(task, settings) for task in tasks] if args.served and split != "heldout" else None
        requests = ([s.engine_request() for s in served] if served else
                    [p.InfillRequest(id=t["task_id"], prefix=t["prompt"], suffix=t["suffix"], max_tokens=max_tokens,
                                     max_lines=1 if split in LINE_SPLITS else None) for t in tasks])
        t_split = time.time()
        results = complete(engine, requests, args.batch)
        engine_s = time.time() - t_split
        texts = [r.text if r else "" for r in results]
        if served:
            shown = [s.shown(t) for s, t in zip(served, texts)]
            texts = [t or "" for t in shown]
        row = dict(
            tasks=len(tasks),
            layout=engine.lm.layout.name,
            **text_scores(tasks, texts),
            mean_steps=round(sum(r.steps for r in results if r) / len(tasks), 2),
            tokens_per_forward=round(sum(r.tokens_per_forward for r in results if r) / len(tasks), 3),
            ms_per_task=round(1000 * engine_s / len(tasks), 1),
            ended=round(sum(bool(r and r.ended) for r in results) / len(tasks), 3),
        )
        if split == "heldout":
            row["gate"] = gate_table([(r, exact(t, task["canonical_solution"]))
                                      for r, t, task in zip(results, texts, tasks)])
        else:
            programs = ([s.program(t) for s, t in zip(served, shown)] if served else
                        [program(task, t) for task, t in zip(tasks, texts)])
            with ThreadPoolExecutor(max_workers=2) as pool:
                passed = list(pool.map(run_program, programs))
                floor = list(pool.map(run_program, [program(task, "") for task in tasks]))
            row["pass@1"] = round(sum(passed) / len(tasks), 4)
            row["empty_floor_pass@1"] = round(sum(floor) / len(tasks), 4)
            if served:
                seen = [ok for t, ok in zip(shown, passed) if t and t.strip()]
                row["shown"] = round(len(seen) / len(tasks), 4)
                row["pass@1_among_shown"] = round(sum(seen) / len(seen), 4) if seen else None
            # The gate reads the engine's confidences; in --served mode only over completions shown.
            row["gate"] = gate_table([(r if t.strip() else None, ok) for r, t, ok in zip(results, texts, passed)])
        name = f"{split} (served)" if served else split
        report[name] = row
        print(json.dumps({name: row}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
