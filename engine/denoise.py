"""Fill the gaps of a batch of canvases by diffusion, with DiffusionGemma's sampling rules.

Each row is `[left flank][gap][right flank]` over its own encoder cache. Per step: one decoder
forward with self-conditioning on the previous step's logits, a draw at the scheduled temperature
(`LinearTemperatureScheduleLogitsProcessor`), entropy-bound acceptance with renoising of the rest
(`EntropyBoundSampler`) and the stable-and-confident stop (`StableAndConfidentStoppingCriteria`).

The rules are transformers' own; the arithmetic is arranged for speed, and tests check it
against transformers' classes. On a small model most of a step is vocabulary-wide work, so it is
done once per step and only over gap positions: one softmax at the step's temperature gives the
draw (inverse CDF: one uniform per position), the entropies that both acceptance and stopping
read, and the argmax. Flanks are never drawn or renoised, so they hold exactly the given tokens
throughout. The stop judges the completion the row would return: slots after the middle's <eoi>
are cut from it, so they count as settled, as flanks do. A row leaves the batch when it stops,
so the forward passes shrink as rows finish. Each row draws its noise from its own generator
seeded by its content: the same request gets the same completion whichever requests share its
batch.

A model may instead ask for the left_to_right order (dg.json): each step fixes the leftmost open
slot to its argmax, keeps the slots fixed before it and renoises the rest, and the middle is the
fixed slots once <eoi> or the row's line or token limit is reached. The canvas, its flanks and
the noise are the same; a small model that cannot fill many slots at once still denoises them one
by one with the suffix in view.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers.models.diffusion_gemma.generation_diffusion_gemma import DiffusionGemmaGenerationConfig

from engine.canvas import Layout, middle_from_gap
from engine.kvcache import batch_caches

_DG_DEFAULTS = DiffusionGemmaGenerationConfig._get_default_generation_params()
ENTROPY_BOUND, LEFT_TO_RIGHT = "entropy_bound", "left_to_right"
ORDERS = (ENTROPY_BOUND, LEFT_TO_RIGHT)
_EXP_FLOOR = -87.0


@dataclass(frozen=True)
class SamplerSettings:
    """Defaults are DiffusionGemma's own; a checkpoint's generation_config.json overrides them."""

    max_steps: int = _DG_DEFAULTS["max_denoising_steps"]
    entropy_bound: float = _DG_DEFAULTS["sampler_config"].entropy_bound
    t_min: float = _DG_DEFAULTS["t_min"]
    t_max: float = _DG_DEFAULTS["t_max"]
    stability_threshold: int = _DG_DEFAULTS["stability_threshold"]
    confidence_threshold: float = _DG_DEFAULTS["confidence_threshold"]
    # "entropy_bound": DiffusionGemma's rules above. "left_to_right": each step fixes the leftmost open
    # gap slot to its argmax and renoises the slots after it, until <eoi> or the row's line or token limit;
    # max_steps, the temperatures and the stop thresholds do not apply.
    order: str = ENTROPY_BOUND

    def temperature(self, cur_step: int) -> float:
        """`LinearTemperatureScheduleLogitsProcessor`'s schedule; `cur_step` counts the steps left."""
        return self.t_min + (self.t_max - self.t_min) * cur_step / self.max_steps


@dataclass
class Row:
    layout: Layout
    cache: object  # the row's one-row encoder DynamicCache
    alive: Callable[[], bool] = lambda: True  # False once cancelled, superseded or past deadline
    max_lines: int | None = None  # left_to_right: the middle ends after this many newlines
    max_tokens: int | None = None  # left_to_right: ... or this many tokens (the gap holds more)


@dataclass
class Filled:
    middle_ids: list[int]
    ended: bool
    steps: int
    token_confidences: list[float]


@dataclass
class GapPrediction:
    draw: torch.Tensor  # (rows, gap) a sample at the step's temperature
    argmax: torch.Tensor  # (rows, gap)
    entropy: torch.Tensor  # (rows, gap) of the tempered distribution, in nats


def predict_gap(logits: torch.Tensor, temperature: float, uniforms: torch.Tensor) -> GapPrediction:
    """Draw, argmax and entropy of softmax(logits / temperature) from a few passes over the vocabulary.

    `uniforms` (rows, gap) in [0, 1) pick the draws by inverse CDF.
    """
    top, argmax = logits.max(-1)  # max() finds the index in the same pass, twice as fast as argmax()
    scaled = (logits - top.unsqueeze(-1)).mul_(1 / temperature)
    # exp() of an input below about -87 (a subnormal or zero result) takes a slow path on x86, about
    # 20 times slower; at the low end of the temperature schedule most of the vocabulary lies there.
    # Clamped, those weights become ~1e-38 instead of exactly 0 or subnormal.
    weights = scaled.clamp(min=_EXP_FLOOR).exp_()
    total = weights.sum(-1)
    entropy = total.log() - torch.linalg.vecdot(weights, scaled) / total  # -sum p log p, p = weights / total
    cdf = weights.cumsum_(-1)
    draw = torch.searchsorted(cdf, (uniforms * cdf[..., -1]).unsqueeze(-1)).squeeze(-1)
    return GapPrediction(draw.clamp_(max=logits.shape[-1] - 1), argmax, entropy)


def entropy_bound_accept(entropy: torch.Tensor, bound: float) -> torch.Tensor:
    """`EntropyBoundSampler.accept_canvas`'s rule: the lowest-entropy positions whose entropies, less
    the largest of them, sum to at most `bound`."""
    ordered, order = torch.sort(entropy, dim=-1)
    chosen = torch.cumsum(ordered, dim=-1) - ordered <= bound
    return torch.zeros_like(chosen).scatter_(-1, order, chosen)


def after_middle(argmax: torch.Tensor, eoi_id: int | None) -> torch.Tensor:
    """Gap slots after the first <eoi> of each row (none for a checkpoint without the token)."""
    if eoi_id is None:
        return torch.zeros_like(argmax, dtype=torch.bool)
    ends = (argmax == eoi_id).int()
    return (ends.cumsum(-1) - ends) > 0


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


@torch.inference_mode()
def denoise(lm, rows: list[Row], settings: SamplerSettings,
            on_step: Callable[[torch.Tensor], None] | None = None) -> list[Filled | None]:
    """Denoise every row's gap; a row that stops being alive gets None. `on_step` sees each new canvas
    (all rows, in order; a finished row keeps its last canvas)."""
    model, device = lm.model, lm.device
    vocab = model.config.text_config.vocab_size
    batch = len(rows)
    width = max(r.layout.canvas_length for r in rows)
    gap_width = max(r.layout.gap_length for r in rows)

    canvas = torch.full((batch, width), lm.pad_id, dtype=torch.long)
    in_canvas = torch.zeros((batch, width), dtype=torch.bool)
    # Gap slot j of row i is canvas position gap_index[i, j]; slots past a short gap repeat its last
    # position and are masked out by gap_valid.
    gap_index = torch.zeros((batch, gap_width), dtype=torch.long)
    gap_valid = torch.zeros((batch, gap_width), dtype=torch.bool)
    for i, r in enumerate(rows):
        lay = r.layout
        canvas[i, : lay.canvas_length] = torch.tensor(lay.canvas([lm.pad_id] * lay.gap_length))
        in_canvas[i, : lay.canvas_length] = True
        gap_index[i] = torch.arange(lay.gap_start, lay.gap_start + gap_width).clamp_(max=lay.gap_stop - 1)
        gap_valid[i, : lay.gap_length] = True
    canvas, in_canvas, gap_index, gap_valid = (t.to(device) for t in (canvas, in_canvas, gap_index, gap_valid))

    cache, lengths = batch_caches(model, [r.cache for r in rows])
    longest = max(lengths)
    context = torch.tensor([[j >= longest - n for j in range(longest)] for n in lengths], device=device)
    attention = torch.cat([context, in_canvas], dim=1)
    positions = torch.stack([torch.arange(n, n + width) for n in lengths]).to(device)

    def decoder_mask(which: list[int]):
        """The decoder's attention masks for these rows: built when the batch changes, not every step."""
        return model.model.decoder.create_diffusion_decoder_attention_mask(
            config=model.config, inputs_embeds=torch.empty((len(which), width, 1), dtype=model.dtype, device=device),
            cache=cache, decoder_attention_mask=attention[torch.tensor(which, device=device)])

    def narrow(keep: list[int]) -> None:
        """Keep only the `keep` slots of the batch: their rows, cache, logits and attention masks."""
        nonlocal active, sc_logits, mask
        idx = torch.tensor(keep, dtype=torch.long, device=device)
        for layer in cache.layers:
            layer.batch_select_indices(idx)
        if sc_logits is not None:
            sc_logits = sc_logits[idx]
        active = [active[slot] for slot in keep]
        mask = decoder_mask(active) if active else None

    noise = RowNoise(rows, device)
    everyone = list(range(batch))
    canvas.scatter_(1, gap_index, torch.where(gap_valid, noise.tokens(everyone, gap_width, vocab),
                                              canvas.gather(1, gap_index)))
    history = torch.full((settings.stability_threshold, batch, gap_width), -1, dtype=torch.long, device=device)
    sc_logits = None  # raw logits of the last step: the next step's self-conditioning input
    active = everyone  # rows still denoising, in batch order
    mask = decoder_mask(active)
    steps = [0] * batch
    out: list[Filled | None] = [None] * batch

    def finish(slot: int, i: int, argmax: torch.Tensor) -> None:
        lay = rows[i].layout
        gap_ids = argmax[: lay.gap_length].tolist()
        middle, ended = middle_from_gap(gap_ids, lm.eoi_id if lm.eoi_id is not None else -1, lm.pad_id)
        n = min(len(gap_ids), len(middle) + int(ended))
        raw = sc_logits[slot, lay.gap_start : lay.gap_start + n]
        conf = torch.softmax(raw, dim=-1).gather(-1, argmax[:n, None]).squeeze(-1)
        out[i] = Filled(middle, ended, steps[i], [round(c, 4) for c in conf.tolist()])

    def forward() -> torch.Tensor | None:
        """Drop the rows no longer alive, then one decoder pass over the rest (its logits become the next
        pass's self-conditioning); returns the rows' batch indices, None when no row is left."""
        nonlocal sc_logits
        keep = [slot for slot, i in enumerate(active) if rows[i].alive()]
        if len(keep) < len(active):
            narrow(keep)
        if not active:
            return None
        idx = torch.tensor(active, device=device)
        hidden = model.model.decoder(decoder_input_ids=canvas[idx], cache=cache, decoder_attention_mask=mask,
                                     decoder_position_ids=positions[idx],
                                     self_conditioning_logits=sc_logits).last_hidden_state
        sc_logits = softcapped_logits(model, hidden)
        return idx

    def stepped() -> None:
        for i in active:
            steps[i] += 1
        if on_step is not None:
            on_step(canvas.clone())

    if settings.order == LEFT_TO_RIGHT:
        newline = lm.newline_mask.to(device)
        limit = torch.tensor([r.max_lines or gap_width + 1 for r in rows], device=device)
        length = torch.tensor([min(r.layout.gap_length, (r.max_tokens or r.layout.gap_length) + 1) for r in rows],
                              device=device)
        fixed = torch.zeros(batch, dtype=torch.long, device=device)  # per row: slots fixed, the next one open
        lines = torch.zeros(batch, dtype=torch.long, device=device)
        confidence = torch.zeros((batch, gap_width), device=device)
        slots = torch.arange(gap_width, device=device)
        while (idx := forward()) is not None:
            current, g_index, here = canvas[idx], gap_index[idx], fixed[idx]
            at_open = sc_logits[torch.arange(len(active), device=device), g_index.gather(1, here[:, None]).squeeze(1)]
            prob, token = torch.softmax(at_open, -1).max(-1)
            gap_now = current.gather(1, g_index)
            gap_new = torch.where(slots < here[:, None], gap_now, torch.where(
                slots == here[:, None], token[:, None], noise.tokens(active, gap_width, vocab)))
            canvas[idx] = current.scatter(1, g_index, torch.where(gap_valid[idx], gap_new, gap_now))
            confidence[idx, here] = prob.float()
            lines[idx] += newline[token].long()
            fixed[idx] += 1
            stepped()
            ended = token == (lm.eoi_id if lm.eoi_id is not None else -1)
            at_limit = lines[idx] >= limit[idx]
            done = (ended | at_limit | (fixed[idx] >= length[idx])).tolist()
            for slot, i in enumerate(active):
                if done[slot]:
                    n = int(fixed[i])
                    ids = canvas[i, gap_index[i, :n]].tolist()
                    stop = bool(ended[slot])
                    out[i] = Filled(ids[:-1] if stop else ids, stop or bool(at_limit[slot]), steps[i],
                                    [round(c, 4) for c in confidence[i, :n].tolist()])
            narrow([slot for slot, d in enumerate(done) if not d])
        return out

    for cur_step in reversed(range(1, settings.max_steps + 1)):
        if (idx := forward()) is None:
            break
        current, g_index, g_valid = canvas[idx], gap_index[idx], gap_valid[idx]
        gap_logits = sc_logits[torch.arange(len(active), device=device)[:, None], g_index]
        pred = predict_gap(gap_logits, settings.temperature(cur_step), noise.uniforms(active, gap_width))
        accepted = entropy_bound_accept(pred.entropy.masked_fill(~g_valid, float("inf")), settings.entropy_bound)
        renoised = torch.where(accepted, pred.draw, noise.tokens(active, gap_width, vocab))
        argmax = pred.argmax.masked_fill(~g_valid, 0)
        canvas[idx] = current.scatter(1, g_index, torch.where(g_valid, renoised, current.gather(1, g_index)))
        stepped()

        # The stop judges what the completion will be: slots past a row's gap, and slots after the
        # middle's <eoi> (cut from the completion), count as settled, as flanks do.
        settled = ~g_valid | after_middle(argmax, lm.eoi_id)
        judged = argmax.masked_fill(settled, lm.pad_id)
        stable = (history[:, idx] == judged).all(-1).all(0)
        if settings.stability_threshold:
            history[:, idx] = torch.cat([history[1:, idx], judged[None]])
        confident = pred.entropy.masked_fill(settled, 0.0).sum(-1) / width < settings.confidence_threshold
        done = (stable & confident).tolist()
        if cur_step == 1:
            done = [True] * len(active)
        for slot, i in enumerate(active):
            if done[slot]:
                finish(slot, i, argmax[slot])
        keep = [slot for slot, d in enumerate(done) if not d]
        if len(keep) < len(active):
            narrow(keep)
    return out
