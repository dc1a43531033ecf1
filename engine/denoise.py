"""Fill the gaps of a batch of canvases by diffusion, reusing DiffusionGemma's sampler pieces.

Each row is `[left flank][gap][right flank]` over its own encoder cache. Per step: one decoder
forward with self-conditioning, a Gumbel-max draw at the scheduled temperature, entropy-bound
acceptance and renoising (transformers' `EntropyBoundSampler`) restricted to gap positions, and
the stable-and-confident stop (`StableAndConfidentStoppingCriteria`) judged on the gap. The
flanks are written back after every step, so they hold exactly the given tokens throughout.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
    DiffusionGemmaGenerationConfig,
    EntropyBoundSampler,
    EntropyBoundSamplerConfig,
    LinearTemperatureScheduleLogitsProcessor,
    StableAndConfidentStoppingCriteria,
)

from engine.canvas import Layout, middle_from_gap
from engine.kvcache import batch_caches

_DG_DEFAULTS = DiffusionGemmaGenerationConfig._get_default_generation_params()


@dataclass(frozen=True)
class SamplerSettings:
    """Defaults are DiffusionGemma's own; a checkpoint's generation_config.json overrides them."""

    max_steps: int = _DG_DEFAULTS["max_denoising_steps"]
    entropy_bound: float = _DG_DEFAULTS["sampler_config"].entropy_bound
    t_min: float = _DG_DEFAULTS["t_min"]
    t_max: float = _DG_DEFAULTS["t_max"]
    stability_threshold: int = _DG_DEFAULTS["stability_threshold"]
    confidence_threshold: float = _DG_DEFAULTS["confidence_threshold"]


@dataclass
class Row:
    layout: Layout
    cache: object  # the row's one-row encoder DynamicCache
    alive: Callable[[], bool] = lambda: True  # False once cancelled, superseded or past deadline


@dataclass
class Filled:
    middle_ids: list[int]
    ended: bool
    steps: int
    token_confidences: list[float]


def gumbel_max(logits: torch.Tensor) -> torch.Tensor:
    """A draw from softmax(logits): ~5x cheaper than torch.multinomial over a large vocabulary."""
    u = torch.rand_like(logits).clamp_(1e-10, 1.0)
    return (logits - torch.log(-torch.log(u))).argmax(-1)


@torch.inference_mode()
def denoise(lm, rows: list[Row], settings: SamplerSettings,
            on_step: Callable[[torch.Tensor], None] | None = None) -> list[Filled | None]:
    """Denoise every row's gap; a row that stops being alive gets None. `on_step` sees each new canvas."""
    model, device = lm.model, lm.device
    vocab = model.config.text_config.vocab_size
    batch = len(rows)
    width = max(r.layout.canvas_length for r in rows)

    clean = torch.full((batch, width), lm.pad_id, dtype=torch.long)
    gap = torch.zeros((batch, width), dtype=torch.bool)
    in_canvas = torch.zeros((batch, width), dtype=torch.bool)
    for i, r in enumerate(rows):
        lay = r.layout
        clean[i, : lay.canvas_length] = torch.tensor(lay.canvas([lm.pad_id] * lay.gap_length))
        gap[i, lay.gap_start : lay.gap_stop] = True
        in_canvas[i, : lay.canvas_length] = True
    clean, gap, in_canvas = clean.to(device), gap.to(device), in_canvas.to(device)

    cache, lengths = batch_caches(model, [r.cache for r in rows])
    longest = max(lengths)
    context = torch.tensor([[j >= longest - n for j in range(longest)] for n in lengths], device=device)
    attention = torch.cat([context, in_canvas], dim=1)
    positions = torch.stack([torch.arange(n, n + width) for n in lengths]).to(device)

    sampler = EntropyBoundSampler(EntropyBoundSamplerConfig(entropy_bound=settings.entropy_bound), width, vocab,
                                  settings.max_steps)
    temperature = LinearTemperatureScheduleLogitsProcessor(settings.t_min, settings.t_max, settings.max_steps)
    stopping = StableAndConfidentStoppingCriteria(settings.stability_threshold, settings.confidence_threshold)
    # Fixed positions look certain to the stopping rule and maximally uncertain to the acceptance
    # rule, so they never count against either.
    fixed_certain = torch.full((batch, width, vocab), -1e4, device=device).scatter_(2, clean[..., None], 1e4)

    # The noise is a function of the batch's content: the same request gets the same completion.
    torch.manual_seed(zlib.crc32(repr([(r.layout.encoder_ids, r.layout.canvas([0] * r.layout.gap_length))
                                      for r in rows]).encode()))
    current = torch.where(gap, sampler.initialize_canvas(batch, device), clean)
    argmax = current
    last_logits = None  # raw logits of each row's last step: self-conditioning input and confidences
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    steps = torch.zeros(batch, dtype=torch.long)
    alive = [True] * batch
    for cur_step in reversed(range(1, settings.max_steps + 1)):
        alive = [a and r.alive() for a, r in zip(alive, rows)]
        if not any(alive) or bool(finished[torch.tensor(alive, device=device)].all()):
            break
        steps += (~finished).cpu().long()
        logits = model(decoder_input_ids=current, past_key_values=cache, decoder_attention_mask=attention,
                       decoder_position_ids=positions, self_conditioning_logits=last_logits).logits
        processed = temperature(None, logits, cur_step)
        draw = torch.where(gap, gumbel_max(processed), clean)
        new_argmax = torch.where(gap, processed.argmax(-1), clean)
        accepted = sampler.accept_canvas(current, draw, processed.masked_fill(~gap[..., None], 0.0), cur_step)
        new_current = torch.where(gap, sampler.renoise_canvas(accepted, cur_step), clean)
        if last_logits is not None and finished.any():
            keep = finished[:, None]
            new_argmax = torch.where(keep, argmax, new_argmax)
            new_current = torch.where(keep, current, new_current)
            logits = torch.where(keep[..., None], last_logits, logits)
        finished |= stopping(new_argmax, torch.where(gap[..., None], processed, fixed_certain))
        current, argmax, last_logits = new_current, new_argmax, logits
        if on_step is not None:
            on_step(current)

    if last_logits is None:
        return [None] * batch
    probs = torch.softmax(last_logits.float(), dim=-1)
    out: list[Filled | None] = []
    for i, r in enumerate(rows):
        if not alive[i]:
            out.append(None)
            continue
        lay = r.layout
        gap_ids = argmax[i, lay.gap_start : lay.gap_stop].tolist()
        middle, ended = middle_from_gap(gap_ids, lm.eoi_id if lm.eoi_id is not None else -1, lm.pad_id)
        n = min(len(gap_ids), len(middle) + int(ended))
        span = slice(lay.gap_start, lay.gap_start + n)
        conf = probs[i, span].gather(-1, argmax[i, span, None])
        out.append(Filled(middle, ended, int(steps[i]), [round(c, 4) for c in conf.squeeze(-1).tolist()]))
    return out
