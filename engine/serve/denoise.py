"""Fill the gaps of a batch of canvases by diffusion, with DiffusionGemma's sampling rules.

Each row is `[left flank][gap][right flank]` over its own encoder cache. Per step: one decoder
forward with self-conditioning on the previous step's logits, a draw at the scheduled temperature
(`LinearTemperatureScheduleLogitsProcessor`), entropy-bound acceptance with renoising of the rest
(`EntropyBoundSampler`) and the stable-and-confident stop (`StableAndConfidentStoppingCriteria`).

The rules are transformers' own; the arithmetic is arranged for speed, and tests check it
against transformers' classes. They are re-implemented rather than called because, on a small
model, the vocabulary-wide work is most of a step: transformers' classes each take their own pass
(softmax, sampling with torch.multinomial, entropy), and on this project's CPU multinomial alone
cost about 5 ms a step where the inverse-CDF draw below costs about 1 (DESIGN.md). On a small model most of a step is vocabulary-wide work, so it is
done once per step and only over gap positions: one softmax at the step's temperature gives the
draw (inverse CDF: one uniform per position), the entropies that both acceptance and stopping
read, and the argmax. Flanks are never drawn or renoised, so they hold exactly the given tokens
throughout. The stop judges the completion the row would return: slots after the middle's end
(<eoi>, or a chat model's eos ids) are cut from it, so they count as settled, as flanks do. A row
leaves the batch when it stops, so the forward passes shrink as rows finish. Each row draws its noise from its own generator
seeded by its content: the same request gets the same completion whichever requests share its
batch.

A model may instead ask for one of two orders that fill the gap from its left end (dg.json):
- left_to_right: each step fixes the leftmost open slot to its argmax, keeps the slots fixed
  before it and renoises the rest; a small model that cannot fill many slots at once still
  denoises them one by one with the suffix in view.
- draft: the same tokens, several per forward pass: the model drafts the open slots, and rows that
  take the draft's first tokens as given verify them (see FromTheLeft).
Every order ends a row's middle at its end token, at the row's line or token limit, or where its joint
probability falls below the row's gate: the client shows nothing past it (Row.ends_at). The orders from the
left stop writing there; the entropy-bound order cuts its canvas there, and counts the slots past the
line and token limits as settled when it judges whether to stop, as it does the slots past an end token.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers.models.diffusion_gemma.generation_diffusion_gemma import DiffusionGemmaGenerationConfig

from engine.canvas import Layout
from engine.serve.kvcache import batch_caches
from engine.serve.lead import Lead
from engine.spec import DRAFT, ENTROPY_BOUND, LEFT_TO_RIGHT

_DG_DEFAULTS = DiffusionGemmaGenerationConfig._get_default_generation_params()
_EXP_FLOOR = -87.0
_RESERVED_LOGIT = -1e4


@dataclass(frozen=True)
class SamplerSettings:
    """Defaults are DiffusionGemma's own; a checkpoint's generation_config.json overrides them."""

    max_steps: int = _DG_DEFAULTS["max_denoising_steps"]
    entropy_bound: float = _DG_DEFAULTS["sampler_config"].entropy_bound
    t_min: float = _DG_DEFAULTS["t_min"]
    t_max: float = _DG_DEFAULTS["t_max"]
    stability_threshold: int = _DG_DEFAULTS["stability_threshold"]
    confidence_threshold: float = _DG_DEFAULTS["confidence_threshold"]
    # "entropy_bound": DiffusionGemma's rules above. "left_to_right" and "draft" fill the gap from its
    # left end (see the module's docstring); max_steps, the temperatures and the stop thresholds do not
    # apply to them.
    order: str = ENTROPY_BOUND
    # draft: verification rows per request, so at most this many slots fixed per step (dg.json's
    # "verify"; each costs a canvas row in the step's forward pass, see the model card).
    verify: int = 4
    # entropy_bound: each step is conditioned on the last step's logits at that step's temperature, as
    # transformers' DiffusionGemmaForBlockDiffusion.generate does (models/diffusion_gemma/
    # generation_diffusion_gemma.py, `_denoising_step`: `self_conditioning_logits = processed_logits`, the
    # output of LinearTemperatureScheduleLogitsProcessor, in the embeddings' dtype). False: on the untempered
    # logits, as this project's recipe trains (training/train.py) and dg-tiny was measured.
    tempered_self_conditioning: bool = True

    def temperature(self, cur_step: int) -> float:
        """`LinearTemperatureScheduleLogitsProcessor`'s schedule; `cur_step` counts the steps left."""
        return self.t_min + (self.t_max - self.t_min) * cur_step / self.max_steps


@dataclass
class Row:
    layout: Layout
    cache: object  # the row's one-row encoder DynamicCache
    alive: Callable[[], bool] = lambda: True  # False once cancelled, superseded or past deadline
    max_lines: int | None = None  # the middle ends after this many newlines
    max_tokens: int | None = None  # ... or this many tokens (the gap holds more)
    lead: Lead | None = None  # left_to_right, draft: what the middle must start with (engine/serve/lead.py)
    gate: float | None = None  # ... or where its joint probability falls below this (infill/judge.py)
    grown: Callable[[list[int]], None] | None = None  # left_to_right, draft: sees the fixed tokens after each step
    until: float | None = None  # ... past this time.perf_counter(), the middle ends at its next newline

    def overdue(self) -> bool:
        return self.until is not None and time.perf_counter() > self.until

    @property
    def length(self) -> int:
        """Gap slots the middle may take: the token budget and one more, which only an end token may take."""
        gap = self.layout.gap_length
        return min(gap, self.max_tokens + 1) if self.max_tokens else gap

    def ends_at(self, token: int, count: int, lines: int, joint: float, ends: set[int]) -> bool:
        """Whether the middle ends at its `count`-th token, `token`, with `lines` newlines up to and with it
        and `joint` the product of the confidences up to and with it: an end token, the line limit, the
        last slot it may take, or the joint probability below the gate."""
        return (token in ends or bool(self.max_lines and lines >= self.max_lines) or count >= self.length
                or (self.gate is not None and joint < self.gate))

    def filled(self, ids: list[int], confidence: list[float], lines: int, steps: int, ends: set[int]) -> Filled:
        """The Filled of a middle written up to where it ends (`ends_at`): an end token is cut from it, and
        so is a token past the budget (that slot is for an end token alone)."""
        stop_token = bool(ids) and ids[-1] in ends
        kept = len(ids) - 1 if stop_token else min(len(ids), self.max_tokens or len(ids))
        return Filled(ids[:kept], stop_token or bool(self.max_lines and lines >= self.max_lines), steps,
                      confidence if stop_token else confidence[:kept])


@dataclass
class Filled:
    middle_ids: list[int]
    ended: bool
    steps: int
    token_confidences: list[float]


@dataclass
class GapPrediction:
    argmax: torch.Tensor  # (rows, gap)
    entropy: torch.Tensor  # (rows, gap) of the tempered distribution, in nats
    weights: torch.Tensor  # (rows, gap, vocab) the tempered distribution, unnormalised
    draw: torch.Tensor | None = None  # (rows, gap) a sample at the step's temperature, where drawn

    def draw_at(self, uniforms: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
        """Samples by inverse CDF, one uniform in [0, 1) per slot of `uniforms` (rows, gap), at the slots
        `where` is True (all when None); the other slots get their argmax. The CDF is the costliest pass
        over the vocabulary, and the entropy-bound order keeps the draws of the few slots it accepts only
        (the rest are renoised), so it takes the pass at those slots alone."""
        if where is None:
            return _inverse_cdf(self.weights, uniforms)
        draw = self.argmax.clone()
        draw[where] = _inverse_cdf(self.weights[where], uniforms[where])
        return draw


def _inverse_cdf(weights: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    cdf = weights.cumsum(-1)
    draw = torch.searchsorted(cdf, (uniforms * cdf[..., -1]).unsqueeze(-1)).squeeze(-1)
    return draw.clamp_(max=weights.shape[-1] - 1)


def predict_gap(logits: torch.Tensor, temperature: float, uniforms: torch.Tensor | None = None) -> GapPrediction:
    """Argmax and entropy of softmax(logits / temperature) from a few passes over the vocabulary, and
    with `uniforms` (rows, gap) in [0, 1) a draw at every slot (`GapPrediction.draw_at` draws at some)."""
    top, argmax = logits.max(-1)  # max() finds the index in the same pass, twice as fast as argmax()
    scaled = (logits - top.unsqueeze(-1)).mul_(1 / temperature)
    # exp() of an input below about -87 (a subnormal or zero result) takes a slow path on x86, about
    # 20 times slower; at the low end of the temperature schedule most of the vocabulary lies there.
    # Clamped, those weights become ~1e-38 instead of exactly 0 or subnormal.
    weights = scaled.clamp(min=_EXP_FLOOR).exp_()
    total = weights.sum(-1)
    # -sum p log p with p = weights / total; the dot products as one batched matrix-vector product, a
    # single pass where vecdot multiplies into a temporary and then sums it.
    vocab = weights.shape[-1]
    dots = torch.bmm(weights.reshape(-1, 1, vocab), scaled.reshape(-1, vocab, 1)).view(total.shape)
    entropy = total.log() - dots / total
    pred = GapPrediction(argmax, entropy, weights)
    if uniforms is not None:
        pred.draw = pred.draw_at(uniforms)
    return pred


def entropy_bound_accept(entropy: torch.Tensor, bound: float) -> torch.Tensor:
    """`EntropyBoundSampler.accept_canvas`'s rule: the lowest-entropy positions whose entropies, less
    the largest of them, sum to at most `bound`."""
    ordered, order = torch.sort(entropy, dim=-1)
    chosen = torch.cumsum(ordered, dim=-1) - ordered <= bound
    return torch.zeros_like(chosen).scatter_(-1, order, chosen)


def after_middle(argmax: torch.Tensor, end_ids: int | Sequence[int] | None) -> torch.Tensor:
    """Gap slots after the first end token (<eoi>, or any of a chat model's eos ids) of each row; none
    for a checkpoint without one."""
    ends = () if end_ids is None else (end_ids,) if isinstance(end_ids, int) else tuple(end_ids)
    if not ends:
        return torch.zeros_like(argmax, dtype=torch.bool)
    is_end = torch.isin(argmax, torch.tensor(ends, device=argmax.device)).int()
    return (is_end.cumsum(-1) - is_end) > 0


def past_limits(batch: Batch) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A function of (batch indices, their argmax gaps) that marks the gap slots after each row's middle
    reaches its line limit or its last slot (Row.length), counting tokens as Row.ends_at does (a <pad>
    is filler, not a token)."""
    many = batch.gap_width + 1
    lines = torch.tensor([r.max_lines or many for r in batch.rows], device=batch.device)[:, None]
    length = torch.tensor([r.length for r in batch.rows], device=batch.device)[:, None]
    newline = batch.lm.newline_mask.to(batch.device)

    def past(idx: torch.Tensor, argmax: torch.Tensor) -> torch.Tensor:
        token = (argmax != batch.lm.pad_id).int()
        nl = newline[argmax].int()
        return ((token.cumsum(-1) - token) >= length[idx]) | ((nl.cumsum(-1) - nl) >= lines[idx])

    return past


def allowed_only(logits: torch.Tensor, reserved: torch.Tensor | None) -> torch.Tensor:
    """`logits` (.., vocab) with the reserved tokens made impossible, in place. A large finite floor
    rather than -inf: predict_gap's entropy multiplies each weight by its logit, and 0 * -inf is NaN."""
    return logits if reserved is None else logits.masked_fill_(reserved, _RESERVED_LOGIT)


def softcapped_logits(model, hidden: torch.Tensor) -> torch.Tensor:
    """`DiffusionGemmaForBlockDiffusion`'s output head, cap * tanh(logits / cap), in place.

    Written as 2 * cap * sigmoid(2 * logits / cap) - cap, the same function: PyTorch's CPU tanh is
    about five times slower than its sigmoid, and this runs over the whole vocabulary at every
    canvas position at every step (the two differ by under 1e-5).
    """
    cap = model.final_logit_softcapping
    return model.lm_head(hidden).float().mul_(2 / cap).sigmoid_().mul_(2 * cap).sub_(cap)


class RowNoise:
    """One generator per row, seeded by the row's content."""

    def __init__(self, rows: list[Row], device: torch.device):
        self.gens = []
        for r in rows:
            seed = zlib.crc32(repr((r.layout.encoder_ids, r.layout.canvas([0] * r.layout.gap_length))).encode())
            self.gens.append(torch.Generator(device=device).manual_seed(seed))
        self.device = device

    def uniforms(self, which: list[int], n: int) -> torch.Tensor:
        return torch.stack([torch.rand(n, generator=self.gens[i], device=self.device) for i in which])

    def tokens(self, which: list[int], n: int, vocab: int) -> torch.Tensor:
        return torch.stack([torch.randint(vocab, (n,), generator=self.gens[i], device=self.device) for i in which])


class Batch:
    """The rows being denoised: their canvases over their encoder caches, the attention masks and the
    last step's logits. Rows leave as they finish or stop being alive, so the passes shrink."""

    def __init__(self, lm, rows: list[Row]):
        self.lm, self.rows = lm, rows
        self.model, device = lm.model, lm.device
        self.device = device
        self.vocab = self.model.config.text_config.vocab_size
        batch = len(rows)
        self.width = max(r.layout.canvas_length for r in rows)
        self.gap_width = max(r.layout.gap_length for r in rows)

        canvas = torch.full((batch, self.width), lm.pad_id, dtype=torch.long)
        in_canvas = torch.zeros((batch, self.width), dtype=torch.bool)
        # Gap slot j of row i is canvas position gap_index[i, j]; slots past a short gap repeat its last
        # position and are masked out by gap_valid.
        gap_index = torch.zeros((batch, self.gap_width), dtype=torch.long)
        gap_valid = torch.zeros((batch, self.gap_width), dtype=torch.bool)
        for i, r in enumerate(rows):
            lay = r.layout
            canvas[i, : lay.canvas_length] = torch.tensor(lay.canvas([lm.pad_id] * lay.gap_length))
            in_canvas[i, : lay.canvas_length] = True
            gap_index[i] = torch.arange(lay.gap_start, lay.gap_start + self.gap_width).clamp_(max=lay.gap_stop - 1)
            gap_valid[i, : lay.gap_length] = True
        self.canvas, in_canvas, self.gap_index, self.gap_valid = (
            t.to(device) for t in (canvas, in_canvas, gap_index, gap_valid))
        spans = {(r.layout.gap_start, r.layout.gap_length) for r in rows}
        self.same_gap = slice(rows[0].layout.gap_start, rows[0].layout.gap_stop) if (
            len(spans) == 1 and rows[0].layout.gap_length == self.gap_width) else None

        self.cache, lengths = batch_caches(self.model, [r.cache for r in rows])
        longest = max(lengths)
        context = torch.tensor([[j >= longest - n for j in range(longest)] for n in lengths], device=device)
        self.attention = torch.cat([context, in_canvas], dim=1)
        self.positions = torch.stack([torch.arange(n, n + self.width) for n in lengths]).to(device)

        self.noise = RowNoise(rows, device)
        everyone = list(range(batch))
        self.set_gap(everyone, self.noise.tokens(everyone, self.gap_width, self.vocab))
        self.logits = None  # softcapped logits of the last step: the next step's self-conditioning input
        self.active = everyone  # rows still denoising, in batch order
        self.mask = self._decoder_mask(self.active)
        self.steps = [0] * batch

    def _decoder_mask(self, which: list[int]):
        """The decoder's attention masks for these rows: built when the batch changes, not every step."""
        return self.model.model.decoder.create_diffusion_decoder_attention_mask(
            config=self.model.config,
            inputs_embeds=torch.empty((len(which), self.width, 1), dtype=self.model.dtype, device=self.device),
            cache=self.cache, decoder_attention_mask=self.attention[torch.tensor(which, device=self.device)])

    def narrow(self, keep: list[int]) -> None:
        """Keep only the `keep` slots of the batch: their rows, cache, logits and attention masks."""
        if len(keep) == len(self.active):
            return
        idx = torch.tensor(keep, dtype=torch.long, device=self.device)
        for layer in self.cache.layers:
            layer.batch_select_indices(idx)
        if self.logits is not None:
            self.logits = self.logits[idx]
        self.active = [self.active[slot] for slot in keep]
        self.mask = self._decoder_mask(self.active) if self.active else None

    def forward(self, temperature: float | None = None) -> torch.Tensor | None:
        """Drop the rows no longer alive, then one decoder pass over the rest, conditioned on the last
        pass's logits (divided by `temperature` when given); returns the rows' batch indices, None when no
        row is left."""
        self.narrow([slot for slot, i in enumerate(self.active) if self.rows[i].alive()])
        if not self.active:
            return None
        idx = torch.tensor(self.active, device=self.device)
        conditioning = self.logits
        if conditioning is not None and temperature is not None:
            conditioning = (conditioning / temperature).to(self.model.dtype)
        hidden = self.model.model.decoder(
            decoder_input_ids=self.canvas[idx], cache=self.cache, decoder_attention_mask=self.mask,
            decoder_position_ids=self.positions[idx], self_conditioning_logits=conditioning).last_hidden_state
        # Reserved tokens are masked before anything reads the logits, the next pass's self-conditioning
        # included, as a logits processor in transformers' generate() would be.
        self.logits = allowed_only(softcapped_logits(self.model, hidden), self.lm.reserved)
        for i in self.active:
            self.steps[i] += 1
        return idx

    def gap_logits(self, idx: torch.Tensor) -> torch.Tensor:
        """(active rows, gap, vocab): the last step's logits at the active rows' gap slots; a view when
        every row's gap is the same span (a copy over a large vocabulary costs as much as a pass of the
        sampler). Read only: the logits are the next pass's self-conditioning."""
        if self.same_gap is not None:
            return self.logits[:, self.same_gap]
        return self.logits[torch.arange(len(idx), device=self.device)[:, None], self.gap_index[idx]]

    def gap(self, idx: torch.Tensor) -> torch.Tensor:
        return self.canvas[idx].gather(1, self.gap_index[idx])

    def set_gap(self, which: list[int], gap: torch.Tensor) -> None:
        """Write these rows' gap slots (slots past a row's gap are left alone)."""
        idx = torch.tensor(which, device=self.device)
        current, g_index = self.canvas[idx], self.gap_index[idx]
        self.canvas[idx] = current.scatter(1, g_index, torch.where(self.gap_valid[idx], gap, current.gather(1, g_index)))


class StableAndConfident:
    """`StableAndConfidentStoppingCriteria`'s rule, per row: the argmax canvas equals the last
    `stability_threshold` ones and the mean entropy is below `confidence_threshold`. Re-implemented
    rather than called because it judges the completion the row would return (slots after the
    middle's <eoi> and past the row's gap count as settled) and keeps one history for a batch whose
    rows leave as they finish."""

    def __init__(self, settings: SamplerSettings, batch: Batch):
        self.settings, self.width = settings, batch.width
        self.history = torch.full((settings.stability_threshold, len(batch.rows), batch.gap_width), -1,
                                  dtype=torch.long, device=batch.device)

    def __call__(self, idx: torch.Tensor, judged: torch.Tensor, entropy: torch.Tensor) -> torch.Tensor:
        """Which of the rows `idx` stop, given their judged argmax gaps and per-slot entropies (0 where
        settled)."""
        stable = (self.history[:, idx] == judged).all(-1).all(0)
        if self.settings.stability_threshold:
            self.history[:, idx] = torch.cat([self.history[1:, idx], judged[None]])
        return stable & (entropy.sum(-1) / self.width < self.settings.confidence_threshold)


class EntropyBoundOrder:
    """DiffusionGemma's rules: `max_steps` steps at a falling temperature, each accepting the
    lowest-entropy gap slots and renoising the rest, until the canvas is stable and confident. The
    middle is the final argmax canvas read from the left up to where the row's rules end it
    (Row.ends_at), as the orders from the left write it."""

    def __init__(self, settings: SamplerSettings):
        self.settings = settings

    def run(self, batch: Batch, on_step) -> list[Filled | None]:
        s, lm = self.settings, batch.lm
        out: list[Filled | None] = [None] * len(batch.rows)
        stop = StableAndConfident(s, batch)
        limits = past_limits(batch)
        last_temperature = None
        for cur_step in reversed(range(1, s.max_steps + 1)):
            # 1. One decoder pass over the rows still alive, conditioned on the last step's logits.
            if (idx := batch.forward(last_temperature)) is None:
                break
            # 2. Accept the lowest-entropy gap slots, drawn at the step's temperature, and renoise the rest.
            g_valid = batch.gap_valid[idx]
            uniforms = batch.noise.uniforms(batch.active, batch.gap_width)
            pred = predict_gap(batch.gap_logits(idx), s.temperature(cur_step))
            if s.tempered_self_conditioning:
                last_temperature = s.temperature(cur_step)
            accepted = entropy_bound_accept(pred.entropy.masked_fill(~g_valid, float("inf")), s.entropy_bound)
            batch.set_gap(batch.active, torch.where(accepted, pred.draw_at(uniforms, accepted),
                                                    batch.noise.tokens(batch.active, batch.gap_width, batch.vocab)))
            if on_step is not None:
                on_step(batch.canvas.clone())
            # 3. Stop a row once its argmax canvas is stable and confident. The stop judges what the
            #    completion will be: slots past a row's gap, and slots after the middle's <eoi> or past its
            #    line or token limit (cut from the completion), count as settled, as flanks do.
            argmax = pred.argmax.masked_fill(~g_valid, 0)
            settled = ~g_valid | after_middle(argmax, lm.end_ids) | limits(idx, argmax)
            stopped = stop(idx, argmax.masked_fill(settled, lm.pad_id), pred.entropy.masked_fill(settled, 0.0))
            done = [True] * len(idx) if cur_step == 1 else stopped.tolist()
            for slot, i in enumerate(batch.active):
                if done[slot]:
                    out[i] = self._filled(batch, slot, i, argmax[slot])
            batch.narrow([slot for slot, d in enumerate(done) if not d])
        return out

    @staticmethod
    def _filled(batch: Batch, slot: int, i: int, argmax: torch.Tensor) -> Filled:
        """Row i's middle: its argmax gap read from the left to where it ends, <pad> skipped as filler."""
        lm, row = batch.lm, batch.rows[i]
        ends, newline = set(lm.end_ids), lm.newline_mask
        tokens = argmax[: row.layout.gap_length].tolist()

        def read(probs: list[float]) -> tuple[list[int], list[float], int, int]:
            """The middle's ids, their confidences, its newlines and the gap slots it spans."""
            ids, confidence, lines = [], [], 0
            for k, (t, c) in enumerate(zip(tokens, probs)):
                if t == lm.pad_id and t not in ends:
                    continue
                ids.append(t)
                confidence.append(round(c, 4))
                lines += bool(newline[t])
                if row.ends_at(t, len(ids), lines, math.prod(confidence), ends):
                    return ids, confidence, lines, k + 1
            return ids, confidence, lines, len(probs)

        # Where the middle ends but for the gate bounds the slots whose confidence is needed (each costs a
        # pass over the vocabulary); the gate can only end it sooner.
        n = read([1.0] * len(tokens))[3]
        raw = batch.logits[slot, row.layout.gap_start : row.layout.gap_start + n]
        ids, confidence, lines, _ = read(torch.softmax(raw, dim=-1).gather(-1, argmax[:n, None]).squeeze(-1).tolist())
        return row.filled(ids, confidence, lines, batch.steps[i], ends)


class FromTheLeft:
    """The left_to_right and draft orders: the gap is fixed from its left end, and every fixed token is
    the one left_to_right would fix: the argmax at the leftmost open slot, with the slots before it
    fixed and the slots after it noised.

    left_to_right gives each request one row and fixes one slot per step. draft gives it `verify`
    rows and a draft row, run in the same forward pass. The draft row holds the fixed slots and, after
    them, the model's own draft (the previous step's argmax, a state training/train.py trains on);
    verification row r holds the fixed slots, the first r draft tokens, and noise. Row 0's argmax at
    the open slot is fixed by left_to_right's rule; while the draft token a row took as given equals
    the token the row before it fixed, the next row's argmax is fixed by the same rule. So a step
    fixes 1 to `verify` slots, each with the slots before it fixed and the slots after it noised, as
    left_to_right does (each row's self-conditioning is its own last pass). On a small model a step's
    cost is mostly per pass, not per row.
    """

    def __init__(self, settings: SamplerSettings):
        self.drafts = settings.order == DRAFT
        self.verify = settings.verify if self.drafts else 1
        self.group = self.verify + int(self.drafts)  # rows per request

    def rows(self, rows: list[Row]) -> list[Row]:
        return [r for r in rows for _ in range(self.group)]

    def run(self, batch: Batch, on_step) -> list[Filled | None]:
        lm, g, k = batch.lm, self.group, self.verify
        requests = batch.rows[::g]
        ends = set(lm.end_ids)
        newline = lm.newline_mask.tolist()
        out: list[Filled | None] = [None] * len(requests)
        fixed: list[list[int]] = [[] for _ in requests]  # per request: the tokens fixed so far
        drafts: list[list[int]] = [[] for _ in requests]  # per request: the draft after them
        confidence: list[list[float]] = [[] for _ in requests]
        lines = [0] * len(requests)
        lead = [r.lead for r in requests]  # per request: what the fixed slots must still start with
        while (idx := batch.forward()) is not None:
            active = batch.active[::g]  # each request's first row; its rows follow it
            logits = batch.gap_logits(idx)
            # 1. Each verification row's token at its slot (the open slot plus the row's number) and its
            #    probability; a request still writing its lead (healed text, the word at the cursor)
            #    chooses among the tokens that continue it. The draft row's argmax everywhere is the next
            #    draft.
            rows_at, slots_at = [], []
            for a, first in enumerate(active):
                for r in range(k):
                    rows_at.append(a * g + r)
                    slots_at.append(min(len(fixed[first // g]) + r, batch.gap_width - 1))
            chosen = logits[rows_at, slots_at]
            for a, first in enumerate(active):
                if lead[first // g] is not None:
                    chosen[a * k].masked_fill_(~lm.lead_masks.allowed(lead[first // g]), float("-inf"))
            prob, token = torch.softmax(chosen, -1).max(-1)
            probs, tokens = prob.tolist(), token.tolist()
            draft_rows = logits[g - 1 :: g].argmax(-1).tolist() if self.drafts else None
            # 2. Fix row 0's token, then row r's while the draft token row r took as given is the one
            #    row r - 1 fixed; stop at the request's end (<eoi>, its line limit or its token budget)
            #    and while the lead is unwritten.
            done = []
            for a, first in enumerate(active):
                q = first // g
                start = len(fixed[q])
                ended = False
                for r in range(k):
                    t = tokens[a * k + r]
                    if lead[q] is not None:
                        lead[q] = lead[q].after(lm.token_texts[t])
                    fixed[q].append(t)
                    confidence[q].append(round(probs[a * k + r], 4))
                    lines[q] += newline[t]
                    ended = requests[q].ends_at(t, len(fixed[q]), lines[q], math.prod(confidence[q]), ends) or (
                        newline[t] and requests[q].overdue())
                    if ended or lead[q] is not None or r + 1 == k or drafts[q][r : r + 1] != [t]:
                        break
                if self.drafts:
                    drafts[q] = draft_rows[a][len(fixed[q]) :]
                if requests[q].grown is not None:
                    requests[q].grown(list(fixed[q]))
                done.append(ended)
            # 3. Write the step: every row holds the fixed slots; verification row r then the first r draft
            #    tokens and noise; the draft row the whole draft.
            gaps = batch.noise.tokens(batch.active, batch.gap_width, batch.vocab).tolist()
            for a, first in enumerate(active):
                q = first // g
                for r in range(g):
                    head = fixed[q] + drafts[q][: r if r < k else None]
                    gaps[a * g + r][: len(head)] = head[: batch.gap_width]
            batch.set_gap(batch.active, torch.tensor(gaps, device=batch.device))
            if on_step is not None:
                on_step(batch.canvas.clone())
            for a, first in enumerate(active):
                if done[a]:
                    q = first // g
                    out[q] = requests[q].filled(fixed[q], confidence[q], lines[q], batch.steps[first], ends)
            batch.narrow([slot for slot in range(len(batch.active)) if not done[slot // g]])
        return out


@torch.inference_mode()
def denoise(lm, rows: list[Row], settings: SamplerSettings,
            on_step: Callable[[torch.Tensor], None] | None = None) -> list[Filled | None]:
    """Denoise every row's gap; a row that stops being alive gets None. `on_step` sees each new canvas
    (all rows, in order; a finished row keeps its last canvas)."""
    if settings.order == ENTROPY_BOUND:
        return EntropyBoundOrder(settings).run(Batch(lm, rows), on_step)
    order = FromTheLeft(settings)
    return order.run(Batch(lm, order.rows(rows)), on_step)
