"""The resident infill engine: a loaded model, its prefix KV cache, and batched infill.

Used by the daemon (one per process) and in-process by the batch CLI's `--in-process`.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from engine import protocol as p
from engine.canvas import Layout
from engine.layouts import trace
from engine.serve.compiled import compile_no_more, compiled_copy
from engine.serve.denoise import Row, SamplerSettings, denoise
from engine.serve.lead import Lead
from engine.spec import ENTROPY_BOUND
from engine.serve.kvcache import MAX_BYTES, PrefixCache, encode_contexts
from engine.serve.model import LoadedModel, load

WARM_UP_PREFIX = 'def greet(name):\n    """Say hello."""\n'
WARM_UP_SUFFIX = "\n\ngreet('world')\n"

log = logging.getLogger("dg-engine")


@dataclass
class Job:
    request: p.InfillRequest
    alive: Callable[[], bool] = lambda: True
    received: float = field(default_factory=time.perf_counter)
    grown: Callable[[str], None] | None = None  # a streamed answer: sees the middle's text as its tokens are fixed
    predict_ms: float | None = None  # llama.cpp's t_max_predict_ms: then the middle ends at its next newline


@dataclass
class Stats:
    requests: int = 0
    steps: int = 0  # summed over rows
    batch_steps: int = 0  # forward passes
    infills: int = 0
    step_seconds: float = 0.0

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.step_seconds / self.batch_steps if self.batch_steps else 0.0

    @property
    def steps_per_infill(self) -> float:
        return self.steps / self.infills if self.infills else 0.0


class BackgroundCompile:
    """A thread compiling the engine's model; `cancel()` before the process exits, which must not
    happen while the thread is inside PyTorch ("terminate called without an active exception")."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._work, name="dg-engine-compile", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        engine, t0 = self.engine, time.perf_counter()
        try:
            shadow = copy.copy(engine)
            shadow.lm = replace(engine.lm, model=compiled_copy(engine.lm.model))
            shadow.store, shadow.stats = PrefixCache(engine.store.max_bytes), Stats()
            shadow.warm_up_every_shape(alive=lambda: not self.stop.is_set())
        except Exception:  # noqa: BLE001 - the eager model keeps serving
            log.exception("torch.compile failed; the eager model keeps serving")
            return
        if not self.stop.is_set():
            compile_no_more()
            engine.lm, engine.compiled = shadow.lm, True
            log.info("compiled model serving (compiled and warmed in %.0f s)", time.perf_counter() - t0)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the compiled model to serve; False if it does not (failed, cancelled or timed out)."""
        self.thread.join(timeout)
        return self.engine.compiled

    def cancel(self) -> None:
        """Stop at the next denoising step of the warm-up and wait for the thread to end."""
        self.stop.set()
        self.thread.join()


class Engine:
    def __init__(self, model_dir, device: str | None = None, dtype: str | None = None,
                 sampler: SamplerSettings | None = None, cache_bytes: int = MAX_BYTES,
                 layout: str | None = None):
        self._serve(load(model_dir, device=device, dtype=dtype, layout=layout), sampler, cache_bytes)

    @classmethod
    def around(cls, lm: LoadedModel, sampler: SamplerSettings | None = None,
               cache_bytes: int = MAX_BYTES) -> Engine:
        """An engine for a model already in memory (bench/gpu_smoke.py builds one on the GPU)."""
        engine = cls.__new__(cls)
        engine._serve(lm, sampler, cache_bytes)
        return engine

    def _serve(self, lm: LoadedModel, sampler: SamplerSettings | None, cache_bytes: int) -> None:
        self.lm = lm
        self.sampler = sampler or self.lm.sampler
        self.store = PrefixCache(cache_bytes)
        self.stats = Stats()
        self.started = time.time()
        self.compiled = False

    def warm_up(self) -> None:
        """Pay one-time costs (allocations, first-call paths) at start, not on the first keystroke."""
        self.run([Job(p.InfillRequest(id="warm-up", prefix=WARM_UP_PREFIX, suffix=WARM_UP_SUFFIX, max_tokens=16))],
                 record=False)

    def warm_up_every_shape(self, alive: Callable[[], bool]) -> None:
        """Serve each shape class once: several rows and one, new contexts and an extended one (typing).
        Stops early, between denoising steps, once `alive()` is False."""
        def job(k: int, prefix: str, suffix: str) -> Job:
            return Job(p.InfillRequest(id=f"warm-up-{k}", prefix=prefix, suffix=suffix, max_tokens=16), alive)

        # Contexts long enough to fill the encoder's budget have one length, so they share a pass and
        # the decoder needs no attention mask; contexts of different lengths need one. Dynamo fixes the
        # batch size of each kind's first graph (2); a batch of 3 makes it recompile that graph for any.
        sizes = ((1, 2), (3, 4, 5))
        same = [[job(k, f"value_{k} = {k}\n" * 200, f"check(value_{k})\n" * 60) for k in ks] for ks in sizes]
        mixed = [[job(k, f"value_{k} = {k}\n" * (2 + k), "") for k in ks] for ks in sizes]
        typed = WARM_UP_PREFIX + "    name = name.strip()\n"
        rounds = same + mixed + [[job(6, typed, "")], [job(7, typed + "    print(name)\n", "")]]
        for jobs in rounds:
            if not alive():
                return
            self.run(jobs, record=False)

    def compile_in_background(self) -> BackgroundCompile:
        """Compile a copy of the model beside the serving one and swap it in once it is warm (see
        engine/serve/compiled.py). CPU only: the copy doubles the weights in memory."""
        return BackgroundCompile(self)

    def heals(self) -> bool:
        """Token healing (LoadedModel.heal) needs an order that writes the gap from its left end."""
        return self.sampler.order != ENTROPY_BOUND and bool(self.lm.end_ids)

    def layouts(self, req: p.InfillRequest, prefix: str) -> list[Layout]:
        """The model's layout of the request (several gap lengths to rank where the model does not mark
        the middle's end)."""
        return self.lm.layout.layouts(prefix, req.suffix, req.max_tokens)

    def run(self, jobs: list[Job], record: bool = True) -> list[p.InfillResult | None]:
        """Fill every job's gap in shared forward passes; None for jobs dropped on the way."""
        lm = self.lm
        rows, owners = [], []
        healed = [lm.heal(job.request.prefix) if self.heals() else (job.request.prefix, "") for job in jobs]
        layouts = [self.layouts(job.request, prefix) for job, (prefix, _) in zip(jobs, healed)]
        if log.isEnabledFor(logging.DEBUG):  # what the model sees (dg-engine serve --trace), decoded only then
            for job, lays in zip(jobs, layouts):
                log.debug("request %s: %s", job.request.id, json.dumps(trace(lays[0], lm.decode_all)))
        caches = encode_contexts(lm.model, [lays[0].encoder_ids for lays in layouts], self.store)
        reused = [hit for _, hit in caches]
        predicting = time.perf_counter()
        for j, ((cache, _), lays) in enumerate(zip(caches, layouts)):
            job, req = jobs[j], jobs[j].request
            # Of several rows, the one answered is known only at the end.
            grown = self.growing(job, len(healed[j][1])) if job.grown and len(lays) == 1 else None
            until = predicting + job.predict_ms / 1000 if job.predict_ms else None
            for layout in lays:
                rows.append(Row(layout, cache, job.alive, req.max_lines, req.max_tokens,
                                lead=Lead.of(healed[j][1], req.word_ends if self.heals() else ()), gate=req.gate,
                                grown=grown, until=until))
                owners.append(j)
        t0 = time.perf_counter()
        filled = denoise(lm, rows, self.sampler)
        elapsed = time.perf_counter() - t0

        best: dict[int, p.InfillResult] = {}
        for j, f, row in zip(owners, filled, rows):
            if f is None:
                continue
            conf = f.token_confidences or [0.0]
            # The middle re-wrote the healed text, which the document already holds.
            heal = len(healed[j][1])
            text = p.first_lines(lm.decode(f.middle_ids)[heal:], jobs[j].request.max_lines)
            ends = [min(len(text), max(0, len(lm.decode(f.middle_ids[: k + 1])) - heal))
                    for k in range(len(f.middle_ids))]
            result = p.InfillResult(
                text=text,
                steps=f.steps,
                tokens_per_forward=round(len(f.token_confidences) / max(1, f.steps), 3),  # one per slot fixed
                mean_confidence=round(sum(conf) / len(conf), 4),
                min_confidence=round(min(conf), 4),
                token_confidences=conf,
                token_ends=ends,
                ended=f.ended,
                cached_prefix=reused[j],
                ms=round(1000 * (time.perf_counter() - jobs[j].received), 2),
                trace=trace(row.layout, lm.decode_all) if jobs[j].request.trace else None,
            )
            if j not in best or result.mean_confidence > best[j].mean_confidence:
                best[j] = result
        if record and filled:
            self.stats.infills += len(best)
            self.stats.requests += len(jobs)
            self.stats.batch_steps += max((f.steps for f in filled if f is not None), default=0)
            self.stats.steps += sum(f.steps for f in filled if f is not None)
            self.stats.step_seconds += elapsed
        return [best.get(j) for j in range(len(jobs))]

    def growing(self, job: Job, heal: int) -> Callable[[list[int]], None]:
        """A row's hook that gives `job.grown` the text of its fixed tokens as run() will return it: without the
        healed text the document already holds, an end token or the token past the budget, and a character
        whose bytes are not all fixed yet (the tokenizer decodes it as U+FFFD until they are)."""
        req = job.request

        def grown(ids: list[int]) -> None:
            text = self.lm.decode(ids[: req.max_tokens])[heal:]
            job.grown(p.first_lines(text.rstrip("\ufffd"), req.max_lines))

        return grown

    def status(self, queue_depth: int = 0, ready: bool = True) -> p.Status:
        return p.Status(
            model=self.lm.spec.name,
            device=str(self.lm.device),
            dtype=str(self.lm.dtype).removeprefix("torch."),
            compiled=self.compiled,
            languages=list(self.lm.spec.languages),
            min_confidence=self.lm.spec.min_confidence,
            max_lines=self.lm.spec.max_lines,
            layout=self.lm.layout.name,
            sampler=asdict(self.sampler),
            ready=ready,
            queue_depth=queue_depth,
            requests=self.stats.requests,
            ms_per_step=round(self.stats.ms_per_step, 2),
            steps_per_infill=round(self.stats.steps_per_infill, 2),
            cache_hit_rate=round(self.store.hit_rate, 3),
            cache_fill=round(self.store.fill, 4),
            uptime_s=round(time.time() - self.started, 1),
            pid=os.getpid(),
        )

