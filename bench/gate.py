"""Calibrate the confidence gate on held-out typing: shown and right by threshold, in one model pass.

The positions are the keystrokes of `bench.typing` (the same held-out files and stretches, each
character typed, Enter with the next line's indentation). At each, infill builds the request as the
server does and the engine answers once. Then, for every threshold, bench.typing's typist is
replayed over those answers: Tab when the item is exactly what comes next (an item is right when
applying it as VS Code does gives the file as it goes on; the typist goes on from where it leads,
which is another keystroke's position), and an item typed through is shown on, as dg-lsp shows it.
Counting every position instead, without accepting, counts a right suggestion again at each
keystroke typed through it, and overstated both shares (session 9: 6.7% shown and 57.5% right
where the typist saw 4.8% and 26%). `bench.typing` then confirms the chosen default over LSP. Last, it times the engine stopping
each answer at the model's gate (the `gate` of an infill request) against answering it whole.

    python -m bench.gate                      # 8 held-out files x 3 stretches
    python -m bench.gate --model runs/dg-tiny/export --files 4
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from pathlib import Path

from bench.typing import CORPUS, Tally, heldout_files, keystroke, stretches
from engine import DEFAULT_MODEL_DIR
from engine import protocol as p
from engine.spec import ORDERS
from infill import Completion, CompletionRequest, Document, build_request
from infill.judge import judge
from infill.settings import Settings
from lsp_server.memory import Shown

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def positions(text: str, count: int, keystrokes: int):
    """(document text, cursor, target text, stretch start, stretch end) after every keystroke of the
    file's stretches, each stretch typed with the later ones still cut out."""
    cuts = sorted(stretches(text, count, keystrokes, seed=len(text)))
    for k, (start, end) in enumerate(cuts):
        target = text
        for a, b in reversed(cuts[k + 1 :]):
            target = target[:a] + target[b:]
        pos = start
        while pos < end:
            pos = keystroke(target, pos, end)
            yield target[:pos] + target[end:], pos, target, start, end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--stretches", type=int, default=3)
    ap.add_argument("--keystrokes", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--order", choices=ORDERS, help="override the model's denoising order")
    ap.add_argument("--verify", type=int, help="override the draft order's verification rows")
    ap.add_argument("--timed", type=int, default=200,
                    help="requests asked one at a time, as an editor asks, with and without the gate (0: none)")
    args = ap.parse_args()

    from engine.serve.engine import Engine, Job

    engine = Engine(args.model)
    spec = engine.lm.spec
    settings = Settings().for_model(spec.min_confidence, spec.max_lines)  # what the server would use
    overrides = {"order": args.order, "verify": args.verify}
    engine.sampler = dataclasses.replace(engine.sampler, **{k: v for k, v in overrides.items() if v is not None})
    places = []
    for f, (_name, text) in enumerate(heldout_files(args.corpus, args.files, args.seed)):
        for doc_text, pos, target, start, end in positions(text, args.stretches, args.keystrokes):
            doc = Document(doc_text, "python")
            request = build_request(doc, pos, max_lines=settings.max_lines)
            places.append(Place(f, doc, pos, target, start, end, request))
    asked = [(i, place.request) for i, place in enumerate(places) if place.request is not None]
    answers: dict[int, p.InfillResult | None] = {}
    for start in range(0, len(asked), 8):
        chunk = asked[start : start + 8]
        jobs = [Job(p.infill_request(str(i), r.prefix, r.suffix, max_tokens=r.max_tokens, max_lines=r.max_lines,
                                     word_ends=r.word_ends))
                for i, r in chunk]
        answers.update({i: a for (i, _), a in zip(chunk, engine.run(jobs))})
    print(f"machine: {platform.machine()} {os.cpu_count()} cores; model {args.model} ({engine.sampler.order}); "
          f"{len(places)} keystrokes in {args.files} held-out files, {len(asked)} asked")
    print(f"{'gate':>5} | {'shown':>6} {'right':>6} {'chars by Tab':>12}")
    for threshold in THRESHOLDS:
        t = replay(places, answers, threshold)
        print(f"{threshold:>5} | {t.shown / t.keystrokes:>6.1%} {t.right / max(1, t.shown):>6.1%} "
              f"{t.accepted_chars / t.typed_chars:>12.1%}")
    if args.timed:
        timed_gate(engine, Job, places, asked[: args.timed], settings.min_confidence)


@dataclasses.dataclass(frozen=True)
class Place:
    file: int
    doc: Document
    pos: int
    target: str
    start: int  # the stretch being typed
    end: int
    request: CompletionRequest | None


def replay(places: list[Place], answers: dict, threshold: float) -> Tally:
    """bench.typing's typist over the engine's answers at `places`, with the judge at `threshold`."""
    at = {(place.file, place.end, place.pos): i for i, place in enumerate(places)}
    tally = Tally()
    for place in {(place.file, place.end): place for place in places}.values():
        target, end, pos, shown = place.target, place.end, place.start, None
        while pos < end:
            stop = keystroke(target, pos, end)
            tally.keystrokes += 1
            tally.typed_chars += stop - pos
            pos = stop
            while True:
                text = target[:pos] + target[end:]
                rest = shown and shown.rest_after(text, pos)
                if rest:
                    item = Completion(rest[0], pos, rest[1])  # typed through: dg-lsp shows the rest
                else:
                    i = at.get((place.file, end, pos))
                    answer = answers.get(i)
                    item = answer and judge(places[i].request, answer.text, answer.token_confidences,
                                            answer.token_ends, places[i].doc, threshold)
                    if not isinstance(item, Completion):
                        shown = None
                        break
                    shown = Shown(text, item.start, item.end, item.text)
                tally.shown += 1
                applied = text[: item.start] + item.text + text[item.end :]
                gained = len(applied) - len(text)
                if not (0 < gained <= end - pos and applied == target[: pos + gained] + target[end:]):
                    break
                tally.right += 1  # Tab
                tally.keystrokes += 1
                tally.accepted_chars += gained
                pos, shown = pos + gained, None
                if pos >= end:
                    break
    return tally


def timed_gate(engine, Job, places, asked, gate: float) -> None:
    """The engine stopping each answer where its joint probability falls below the gate, against answering it whole,
    one request at a time as an editor asks: the steps and time saved, and whether the judge shows
    the same items."""
    runs = {}
    for name, stop in (("whole", None), ("gated", gate)):
        ms, steps, items = [], [], []
        for i, r in asked:
            started = time.perf_counter()
            answer = engine.run([Job(p.infill_request(str(i), r.prefix, r.suffix, max_tokens=r.max_tokens,
                                                      max_lines=r.max_lines, word_ends=r.word_ends,
                                                      gate=stop))])[0]
            ms.append((time.perf_counter() - started) * 1000)
            steps.append(answer.steps)
            doc = places[i].doc
            item = judge(r, answer.text, answer.token_confidences, answer.token_ends, doc, gate)
            items.append(item if isinstance(item, Completion) else None)
        runs[name] = (statistics.median(ms), statistics.fmean(ms), statistics.fmean(steps), items)
        print(f"{name:>6}: {len(asked)} requests one at a time: p50 {runs[name][0]:.1f} ms, mean "
              f"{runs[name][1]:.1f} ms, {runs[name][2]:.2f} steps per request")
    same = sum(a == b for a, b in zip(runs["whole"][3], runs["gated"][3]))
    print(f"gate {gate}: gated/whole time p50 {runs['gated'][0] / runs['whole'][0]:.2f}x, mean "
          f"{runs['gated'][1] / runs['whole'][1]:.2f}x, steps {runs['gated'][2] / runs['whole'][2]:.2f}x; "
          f"the same item shown at {same} of {len(asked)}")


if __name__ == "__main__":
    main()
