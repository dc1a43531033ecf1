"""Train dg-tiny, the embedded miniature DiffusionGemma, on a CPU (or a GPU when there is one).

The recipe in one file, nanoGPT style. What makes it learn per CPU-second:
- Every example uses the engine's own canvas layout (`engine.canvas.build_layout`).
- Two example kinds share one batch. "window": a whole canvas of text with span noise at a random
  level, loss on every position. "infill": flanks fixed, the gap holds a line, several lines or a
  random span, then <eoi> and <pad> filler, loss on the gap, so the model learns where a middle ends.
- The encoder context is short and each context carries several canvases with different noise, so
  the encoder pass is paid once; the causal encoder pass also earns a next-token loss.
- Self-conditioning as DiffusionGemma: some steps (SELF_CONDITIONING_P) run a no-grad pass first and
  feed its logits.
- One-line middles also come on 32-token canvases (the engine's fast path), in padded batches.
- The filler after <eoi> weighs little in the loss; the output head and its (compiled, fused)
  softcap + cross-entropy run only at positions that carry loss.
- The learning rate decays over the last part of every run, and each checkpoint exports the live
  weights or their EMA, whichever has the lower held-out infill loss.

    python -m training.train --out runs/dg-tiny                 # resumes runs/dg-tiny/ckpt.pt
    python -m training.train --out runs/dg-tiny --minutes 150   # stop after a time budget
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import signal
import time
from array import array
from pathlib import Path

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import DiffusionGemmaConfig
from transformers.cache_utils import DynamicCache
from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
    DiffusionGemmaGenerationConfig,
    EntropyBoundSamplerConfig,
)

from engine.canvas import EOI, PAD, SEP, Budget, build_layout, gap_target, layout_for
from engine.serve.compiled import compile_layers
from engine.serve.model import DENSE_EXPERTS_MAX
from engine.serve.textonly import TextOnlyDiffusionGemma
from engine.spec import LEFT_TO_RIGHT, ModelSpec

PACKAGED = Path(__file__).resolve().parents[1] / "engine" / "models" / "dg-tiny"

def shape(hidden: int, layers: int, experts: int, top_k: int, heads: int = 4, kv_heads: int = 2) -> dict:
    return dict(
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=hidden // heads,
        global_head_dim=hidden // heads,
        num_experts=experts,
        top_k_experts=top_k,
        moe_intermediate_size=hidden,
        max_position_embeddings=2048,
        sliding_window=512,
        layer_types=["sliding_attention"] * (layers - 1) + ["full_attention"],
    )


# Candidate shapes for `training/sweep.py`; the shipped dg-tiny is SHAPES[DEFAULT_SHAPE].
SHAPES = {
    "h256-l4-e4": shape(256, 4, 4, 2),
    "h256-l6-e2": shape(256, 6, 2, 1),
    "h192-l6-e4": shape(192, 6, 4, 2, heads=3, kv_heads=1),
    "h320-l4-e2": shape(320, 4, 2, 1, heads=5, kv_heads=1),
}
DEFAULT_SHAPE = "h256-l4-e4"
BUDGET = Budget(encoder_suffix=48, encoder_prefix=192, left_flank=16, right_flank=16)
CANVAS = 64
# Canvas sizes the model is trained on and the engine may use: a one-line middle fits a 32-token
# canvas, whose denoising step costs about two thirds of a 64-token one on this CPU.
CANVASES = (32, CANVAS)
SHORT_CANVAS_SHARE = 0.5  # of one-line infill examples, when the middle and flanks fit
CONTEXTS_PER_BATCH = 8
CANVASES_PER_CONTEXT = 2
WINDOW_SHARE = 0.4  # the rest are infill examples
CLEAN_WEIGHT = 0.1  # loss weight of canvas positions the noise left intact
# Loss weight of the filler after <eoi>: the engine cuts the middle at <eoi>, so filler only has to be
# likely enough to settle early; at full weight it outweighs the middle three to one.
PAD_WEIGHT = 0.1
ENCODER_LOSS_WEIGHT = 0.5
SELF_CONDITIONING_P = 0.3
# Parallel decoding (engine.serve.denoise's `draft` order) fills every open gap slot with the previous step's
# argmax and feeds its logits back as self-conditioning; accepting many slots per step is safe only if
# the model has learnt to correct those drafts rather than copy them (DESIGN.md: untrained, it copies
# them with confidence). So DRAFT_P of the steps run a no-grad pass on the noised canvases first and
# train on the same canvases with the noised slots replaced by that pass's argmax and its logits as
# self-conditioning: the state a draft step visits. PREFIX_SHARE of infill canvases are noised right of
# a random cut in the middle, the states of a left-to-right fill.
DRAFT_P = 0.5
PREFIX_SHARE = 0.5
LR, WARMUP, WEIGHT_DECAY, EMA_DECAY, EMA_START = 1.5e-3, 300, 0.1, 0.999, 1000
# Denoising defaults shipped in generation_config.json (the engine reads them from there). Measured with
# the step-12,982 weights on HumanEval single-line and held-out lines (200 each, bound 2.0; edit
# similarity single/held-out, <eoi> reached): 4 steps 0.215/0.221, 98%/87%; 3 steps 0.218/0.227,
# 95%/85%; 2 steps 0.215/0.204, 84%/61%. Three steps cost a quarter less than four and lose nothing.
# (Step 5,914, session 2: 4 steps at bound 2.0 matched 6 and 8 at 1.0 and beat 16 at 0.5.)
# The order the engine denoises in (dg.json; DiffusionGemma's generation config has no such setting).
# Left to right, one slot per step, on the step-20,810 weights against DiffusionGemma's entropy-bound
# rules (3 steps) with the same one-line limit, 200 tasks each: HumanEval single-line pass@1 4.0%
# against 0.5%, exact 2.5% against 0.5%; held-out lines exact 5.0% against 2.0%, edit similarity
# 0.352 against 0.281; and its confidences gate (held-out exact match among shown completions reaches
# 70% at mean confidence 0.8). Two slots per step lost most of it (pass@1 1.5%).
DECODING_ORDER = LEFT_TO_RIGHT
VERIFY = 4  # the draft order's verification rows per request (see the model card)
# The corpus is Python only (training/corpus.py); the server asks the model for nothing else.
LANGUAGES = ("python",)
SAMPLER = dict(max_denoising_steps=3, sampler_config=EntropyBoundSamplerConfig(entropy_bound=2.0), t_min=0.1,
               t_max=0.5, stability_threshold=1, confidence_threshold=0.05)


def model_config(tokenizer: Tokenizer, shape_name: str = DEFAULT_SHAPE) -> DiffusionGemmaConfig:
    ids = {t: tokenizer.token_to_id(t) for t in (PAD, EOI, "<bos>")}
    text = dict(SHAPES[shape_name], vocab_size=tokenizer.get_vocab_size(), pad_token_id=ids[PAD], eos_token_id=ids[EOI],
                bos_token_id=ids["<bos>"])
    return DiffusionGemmaConfig(text_config=text, vision_config=None, canvas_length=CANVAS)


def line_starts(text: str) -> array:
    """Offsets where a line starts, but not the end of the text."""
    found = (m.end() for m in re.finditer("\n", text) if m.end() < len(text))
    return array("I", itertools.chain([0], found))


class Examples:
    """Draws training examples (token lists) from a corpus split."""

    def __init__(self, path: Path, tokenizer: Tokenizer, seed: int):
        self.texts = [json.loads(line)["text"] for line in path.read_text().splitlines()]
        # Cumulative once: `choices` with plain weights re-adds all of them at every draw.
        self.cum_weights = list(itertools.accumulate(len(t) for t in self.texts))
        self._starts: dict[int, array] = {}  # line starts per text, found on its first draw
        self.tok = tokenizer
        self.rng = random.Random(seed)
        self.sep, self.eoi, self.pad = (tokenizer.token_to_id(t) for t in (SEP, EOI, PAD))

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def _line_starts(self, index: int) -> array:
        if index not in self._starts:
            self._starts[index] = line_starts(self.texts[index])
        return self._starts[index]

    def window(self, index: int):
        """A whole canvas of text right after a line start; loss everywhere."""
        text = self.texts[index]
        a = self.rng.choice(self._line_starts(index))
        enc = self.tok.encode(text[a : a + CANVAS * 12])
        if len(enc.ids) < CANVAS:
            return None
        b = a + enc.offsets[CANVAS - 1][1]
        layout = build_layout(self.encode, self.sep, text[max(0, a - 4000) : a], text[b : b + 2000], CANVAS,
                              Budget(BUDGET.encoder_suffix, BUDGET.encoder_prefix, 0, 0))
        return layout, enc.ids[:CANVAS], "window"

    def infill(self, index: int):
        """A middle (a line, a few lines, or a random span) in the engine's infill layout."""
        text = self.texts[index]
        kind = self.rng.choices(["line", "lines", "span"], weights=[0.45, 0.25, 0.3])[0]
        starts = self._line_starts(index)
        if kind == "span":
            a = self.rng.randrange(len(text))
            b = min(len(text), a + int(self.rng.expovariate(1 / 40)) + 1)
        else:
            i = self.rng.randrange(len(starts))
            n = 1 if kind == "line" else self.rng.randint(2, 6)
            a = starts[i]
            b = starts[i + n] if i + n < len(starts) else len(text)
        if not text[a:b].strip():
            return None
        middle = self.encode(text[a:b])
        short = kind == "line" and self.rng.random() < SHORT_CANVAS_SHARE
        layout = layout_for(self.encode, self.sep, text[max(0, a - 4000) : a], text[b : b + 2000], len(middle),
                            CANVASES if short else (CANVAS,), BUDGET)
        if layout.canvas_length > CANVAS:
            return None  # the engine would grow the canvas; training keeps to the trained sizes
        return layout, layout.canvas(gap_target(middle, layout.gap_length, self.eoi, self.pad)), "infill"

    def draw(self, kind: str | None = None):
        while True:
            index = self.rng.choices(range(len(self.texts)), cum_weights=self.cum_weights)[0]
            kind_now = kind or ("window" if self.rng.random() < WINDOW_SHARE else "infill")
            example = self.window(index) if kind_now == "window" else self.infill(index)
            if example is not None:
                return example


def noise_mask(rng: random.Random, layout, kind: str, level: float | None, middle_length: int) -> list[bool]:
    """Which canvas positions get a random token: spans in windows; in a gap, each slot with probability
    `level`, or (level None) every slot right of a random cut in the middle."""
    n = layout.canvas_length
    if kind == "infill":
        lo, hi = layout.gap_start, layout.gap_stop
        if level is None:
            lo += rng.randint(0, middle_length)
            return [lo <= i < hi for i in range(n)]
        return [lo <= i < hi and rng.random() < level for i in range(n)]
    mask = [False] * n
    target = round(level * n)
    while sum(mask) < target:
        start, length = rng.randrange(n), 1 + int(rng.expovariate(1 / 3))
        for i in range(start, min(n, start + length)):
            mask[i] = True
    return mask


def position_weight(layout, kind: str, i: int, token: int, noised: bool, pad_id: int) -> float:
    if kind == "infill" and not layout.gap_start <= i < layout.gap_stop:
        return 0.0  # a flank: given, never predicted
    w = 1.0 if noised else CLEAN_WEIGHT
    return w * PAD_WEIGHT if kind == "infill" and token == pad_id else w


def collate(examples, rng: random.Random, pad_id: int, vocab: int, eoi_id: int, levels=None):
    """Left-pad encoders, right-pad canvases, draw CANVASES_PER_CONTEXT noisy canvases per context.
    A level of None noises an infill gap right of a random cut."""
    k = CANVASES_PER_CONTEXT
    width = max(len(canvas) for _, canvas, _ in examples)
    enc_len = max(len(layout.encoder_ids) for layout, _, _ in examples)
    enc_ids = torch.full((len(examples), enc_len), pad_id, dtype=torch.long)
    enc_mask = torch.zeros((len(examples), enc_len), dtype=torch.bool)
    clean, noisy, noised, weight, in_canvas = [], [], [], [], []
    for row, (layout, canvas, kind) in enumerate(examples):
        fill = width - len(canvas)
        e = layout.encoder_ids
        enc_ids[row, enc_len - len(e) :] = torch.tensor(e)
        enc_mask[row, enc_len - len(e) :] = True
        middle_length = canvas.index(eoi_id, layout.gap_start) - layout.gap_start if kind == "infill" else 0
        for j in range(k):
            if levels:
                level = levels[row * k + j]
            else:
                level = None if kind == "infill" and rng.random() < PREFIX_SHARE else rng.uniform(0.02, 1.0)
            mask = noise_mask(rng, layout, kind, level, middle_length)
            noised.append(mask + [False] * fill)
            noisy.append([rng.randrange(vocab) if m else t for t, m in zip(canvas, mask)] + [pad_id] * fill)
            clean.append(canvas + [pad_id] * fill)
            weight.append([position_weight(layout, kind, i, t, m, pad_id) for i, (t, m) in enumerate(zip(canvas, mask))]
                          + [0.0] * fill)
            in_canvas.append([True] * len(canvas) + [False] * fill)
    return dict(
        enc_ids=enc_ids,
        enc_mask=enc_mask,
        clean=torch.tensor(clean),
        noisy=torch.tensor(noisy),
        noised=torch.tensor(noised),
        weight=torch.tensor(weight),
        in_canvas=torch.tensor(in_canvas),
    )


@torch.compile(dynamic=True)
def softcapped_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, cap: float):
    """Per-position cross-entropy of the softcapped logits, and their argmax.

    Compiled because it is vocabulary-wide elementwise work: eager, the softcap and cross-entropy
    and their backward took about a third of a training step on this CPU; fused, a third of that.
    The softcap cap * tanh(x / cap) is written as 2 * cap * sigmoid(2 * x / cap) - cap, as in the
    engine (`engine.serve.denoise.softcapped_logits`): the same function, and the compiled forward and
    backward over (2700, 8192) logits took 205 ms instead of 280 on one core of this CPU.
    """
    capped = torch.sigmoid(logits.float() * (2 / cap)) * (2 * cap) - cap
    return F.cross_entropy(capped, targets, reduction="none"), capped.detach().argmax(-1)


def head_loss(model, hidden: torch.Tensor, targets: torch.Tensor):
    """The output head at the supervised positions only: hidden (n, H), targets (n,)."""
    return softcapped_cross_entropy(model.lm_head(hidden), targets, model.final_logit_softcapping)


def forward_losses(model, batch, self_condition: bool, draft: bool = False):
    """Diffusion loss on canvases and next-token loss on the encoder; returns (total, parts). With `draft`,
    the noised slots hold a first pass's argmax and that pass's logits condition the second (DRAFT_P)."""
    cfg = model.config.text_config
    k = CANVASES_PER_CONTEXT
    enc_len = batch["enc_ids"].shape[1]
    cache = DynamicCache(config=cfg)
    enc = model.model.encoder(input_ids=batch["enc_ids"], attention_mask=batch["enc_mask"], cache=cache)
    has_target = batch["enc_mask"][:, 1:]
    enc_ce, _ = head_loss(model, enc.last_hidden_state[:, :-1][has_target], batch["enc_ids"][:, 1:][has_target])
    enc_loss = enc_ce.mean()

    cache.batch_repeat_interleave(k)
    canvas_len = batch["noisy"].shape[1]
    dec_mask = torch.cat([batch["enc_mask"].repeat_interleave(k, 0), batch["in_canvas"]], dim=1)
    positions = torch.arange(enc_len, enc_len + canvas_len).unsqueeze(0)
    kwargs = dict(decoder_input_ids=batch["noisy"], cache=cache, decoder_attention_mask=dec_mask,
                  decoder_position_ids=positions)
    sc_logits = None
    if self_condition or draft:
        with torch.no_grad():
            sc_logits = model(**kwargs).logits.detach()
    if draft:
        kwargs["decoder_input_ids"] = torch.where(batch["noised"], sc_logits.argmax(-1), batch["noisy"])
    hidden = model.model(**kwargs, self_conditioning_logits=sc_logits).last_hidden_state
    supervised = batch["weight"] > 0
    ce, predicted = head_loss(model, hidden[supervised], batch["clean"][supervised])
    w = batch["weight"][supervised]
    diff_loss = (ce * w).sum() / w.sum()
    content = w == 1.0  # noised positions that are neither filler nor left intact
    acc = (predicted == batch["clean"][supervised])[content].sum().item() / max(1, content.sum().item())
    total = diff_loss + ENCODER_LOSS_WEIGHT * enc_loss
    return total, dict(diff=diff_loss.item(), enc=enc_loss.item(), acc=acc)


def fixed_val_batches(examples: Examples, vocab: int, pad_id: int):
    """Held-out batches with fixed noise: infill at full noise (the first inference step), windows at 50%,
    and infill cut at a random point with the rest drafted by a first pass (a parallel decoding step)."""
    rng = random.Random(1234)
    out = {}
    for name, kind, level in (("infill@1.0", "infill", 1.0), ("window@0.5", "window", 0.5),
                              ("infill@draft", "infill", None)):
        batches = []
        for _ in range(4):
            ex = [examples.draw(kind) for _ in range(CONTEXTS_PER_BATCH)]
            batches.append(collate(ex, rng, pad_id, vocab, examples.eoi,
                                   levels=[level] * CONTEXTS_PER_BATCH * CANVASES_PER_CONTEXT))
        out[name] = batches
    return out


@torch.no_grad()
def evaluate(model, val, autocast):
    model.eval()
    report = {}
    for name, batches in val.items():
        parts = []
        for b in batches:
            with autocast():
                parts.append(forward_losses(model, b, self_condition=False, draft=name.endswith("draft"))[1])
        report[name] = {k: round(sum(p[k] for p in parts) / len(parts), 4) for k in parts[0]}
    model.train()
    return report


def shipped_weights(model, ema: dict, val, autocast) -> dict:
    """The live weights or their EMA, whichever has the lower held-out infill loss (a cooled-down run
    usually beats its EMA; a run at full learning rate usually does not)."""
    live = {k: v.detach().clone() for k, v in model.state_dict().items()}
    live_loss = evaluate(model, val, autocast)["infill@1.0"]["diff"]
    model.load_state_dict(ema)
    ema_loss = evaluate(model, val, autocast)["infill@1.0"]["diff"]
    model.load_state_dict(live)
    print(json.dumps(dict(ship="ema" if ema_loss < live_loss else "live", live=live_loss, ema=ema_loss)), flush=True)
    return ema if ema_loss < live_loss else live


def export(model, weights: dict, tokenizer_path: Path, out: Path, state: dict, dtype: torch.dtype = torch.float32):
    """Write a loadable model directory (weights, config, denoising defaults, tokenizer, layout)."""
    out.mkdir(parents=True, exist_ok=True)
    model.config.architectures = ["DiffusionGemmaForBlockDiffusion"]  # what stock transformers loads it as
    model.generation_config = DiffusionGemmaGenerationConfig(**SAMPLER)
    live = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(weights)
    model.to(dtype).save_pretrained(out, safe_serialization=True)
    model.to(torch.float32).load_state_dict(live)
    (out / "tokenizer.json").write_bytes(tokenizer_path.read_bytes())
    # The training counters travel with the weights, so a later session continues the count. The
    # front ends' defaults stay those calibrated on the packaged model until a release measures new ones.
    shipped = ModelSpec.read(PACKAGED)
    ModelSpec(name="dg-tiny", budget=BUDGET, canvases=CANVASES, order=DECODING_ORDER, verify=VERIFY,
              languages=LANGUAGES, min_confidence=shipped.min_confidence, max_lines=shipped.max_lines,
              training=state).write(out)


def learning_rate(run_steps: int, start_lr: float, seconds_left: float, cooldown_seconds: float,
                  peak: float = LR) -> float:
    """Warm up from the optimizer's last rate (0 when its state is fresh) to the peak over WARMUP steps, hold,
    then decay linearly to 5% over the run's last `cooldown_seconds`."""
    start = min(start_lr, peak)
    warm = start / peak + (1 - start / peak) * (run_steps + 1) / WARMUP
    return peak * min(1.0, warm, max(0.05, seconds_left / cooldown_seconds))


def resume_point(ckpt: Path, stable: Path, device: str) -> dict | None:
    """The saved state a run continues from: the latest checkpoint, unless it was cooling down and the run
    left its state from just before the cooldown. A cooled-down run is a side branch made for release;
    training goes on from the branch that stayed at the peak rate instead of climbing back out of the
    cooled minimum (session 4's re-warmed run stayed above its starting held-out losses until its own
    cooldown)."""
    if not ckpt.exists():
        return None
    saved = torch.load(ckpt, map_location=device, weights_only=False)
    if stable.exists() and saved["opt"]["param_groups"][0]["lr"] < LR:
        branch = torch.load(stable, map_location=device, weights_only=False)
        if branch["state"]["step"] < saved["state"]["step"]:
            print(f"{ckpt} was cooling down: continuing from {stable}", flush=True)
            return branch
    return saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    ap.add_argument("--out", type=Path, default=Path("runs/dg-tiny"))
    ap.add_argument("--minutes", type=float, default=1e9, help="stop after this much training time")
    ap.add_argument("--cooldown", type=float, default=0.3,
                    help="share of --minutes at the end over which the learning rate decays linearly to 5%%")
    ap.add_argument("--save-every", type=float, default=10.0, help="minutes between checkpoints")
    ap.add_argument("--eval-every", type=int, default=250, help="steps between held-out evaluations")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--shape", choices=SHAPES, default=DEFAULT_SHAPE, help="model shape (see training/sweep.py)")
    ap.add_argument("--scratch", action="store_true", help="start from random weights, not the packaged ones")
    # A fresh optimizer at the full peak rate knocks released weights off their minimum (session 7: held-out
    # losses 10-20% worse after 500 steps); a short run adapting them to a new objective takes a lower one.
    ap.add_argument("--lr", type=float, default=LR, help=f"peak learning rate (default {LR})")
    args = ap.parse_args()
    torch.manual_seed(0)

    args.out.mkdir(parents=True, exist_ok=True)
    tok_path = args.out / "tokenizer.json"
    if not tok_path.exists():
        tok_path.write_bytes((PACKAGED / "tokenizer.json").read_bytes())
    tokenizer = Tokenizer.from_file(str(tok_path))
    config = model_config(tokenizer, args.shape)
    model = TextOnlyDiffusionGemma(config).to(args.device)
    if args.device == "cpu" and config.text_config.num_experts <= DENSE_EXPERTS_MAX:
        config.text_config._experts_implementation = "dense"  # the engine's CPU path; faster in bf16
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    # fused: one kernel for all parameters; on this CPU the step took 6 ms against 27 for the per-tensor loop.
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0}],
                            lr=LR, betas=(0.9, 0.95), fused=True)
    ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    state = dict(step=0, tokens=0, supervised=0, seconds=0.0, shape=args.shape)

    ckpt, stable = args.out / "ckpt.pt", args.out / "stable.pt"
    start_lr = 0.0
    saved = resume_point(ckpt, stable, args.device)
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        for g in opt.param_groups:
            g["fused"] = True  # loading restores the saved groups' options, made before it was fused
        ema = saved["ema"]
        state = saved["state"]
        start_lr = opt.param_groups[0]["lr"]
        print(f"resumed at step {state['step']}, learning rate {start_lr:.2e}", flush=True)
    elif (PACKAGED / "model.safetensors").exists() and not args.scratch:
        shipped = TextOnlyDiffusionGemma.from_pretrained(PACKAGED)
        model.load_state_dict(shipped.state_dict())
        ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
        state.update(ModelSpec.read(PACKAGED).training)
        print(f"initialised from the packaged weights in {PACKAGED} (step {state['step']})", flush=True)

    # Compiled layers fuse the small element-wise operations around each matmul: on this project's
    # 2-core CPU a training step took 712 ms against 946 eager (median of 8 steps); the first steps
    # and a few new shapes pay about four minutes of compiling in all.
    compile_layers(model)
    n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    print(f"dg-tiny: {n_params / 1e6:.2f}M parameters on {args.device}", flush=True)
    train = Examples(args.corpus / "train.jsonl", tokenizer, seed=state["step"])
    val = fixed_val_batches(Examples(args.corpus / "val.jsonl", tokenizer, seed=0), config.text_config.vocab_size,
                            train.pad)
    rng = random.Random(state["step"] + 1)
    use_bf16 = args.device == "cpu" or torch.cuda.is_bf16_supported()
    autocast = lambda: torch.autocast(args.device, dtype=torch.bfloat16, enabled=use_bf16)  # noqa: E731
    log = (args.out / "log.jsonl").open("a")

    def checkpoint(path: Path):
        tmp = path.with_suffix(".tmp")
        torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), ema=ema, state=state), tmp)
        tmp.replace(path)

    def save():
        checkpoint(ckpt)
        export(model, shipped_weights(model, ema, val, autocast), tok_path, args.out / "export", state)

    stop = []  # SIGINT/SIGTERM end the run after the current step, with a checkpoint
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))
    start = time.time()
    last_save = start
    window = []
    run_start = state["step"]
    cooling = False
    model.train()
    while time.time() - start < args.minutes * 60 and not stop:
        t0 = time.time()
        batch = collate([train.draw() for _ in range(CONTEXTS_PER_BATCH)], rng, train.pad,
                        config.text_config.vocab_size, train.eoi)
        batch = {k: v.to(args.device) for k, v in batch.items()}
        lr = learning_rate(state["step"] - run_start, start_lr, args.minutes * 60 - (time.time() - start),
                           args.cooldown * args.minutes * 60, args.lr)
        if not cooling and lr < args.lr and state["step"] - run_start >= WARMUP:
            cooling = True
            checkpoint(stable)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast():
            loss, parts = forward_losses(model, batch, self_condition=rng.random() < SELF_CONDITIONING_P,
                                         draft=rng.random() < DRAFT_P)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            weights = model.state_dict()
            torch._foreach_lerp_([ema[k] for k in weights], [v.float() for v in weights.values()],
                                 1 - EMA_DECAY if state["step"] > EMA_START else 1.0)
        dt = time.time() - t0
        state["step"] += 1
        state["seconds"] += dt
        state["tokens"] += batch["enc_ids"].numel() + batch["noisy"].numel()
        state["supervised"] += int((batch["weight"] > 0).sum()) + int(batch["enc_mask"].sum())
        window.append((dt, parts))
        if state["step"] % 25 == 0:
            secs = sum(w[0] for w in window)
            toks = (batch["enc_ids"].numel() + batch["noisy"].numel()) * len(window)
            row = dict(step=state["step"], minutes=round(state["seconds"] / 60, 2), lr=lr,
                       tok_s=round(toks / secs), tokens=state["tokens"],
                       **{k: round(sum(w[1][k] for w in window) / len(window), 4) for k in parts})
            print(json.dumps(row), flush=True)
            window = []
        if state["step"] % args.eval_every == 0:
            row = dict(step=state["step"], minutes=round(state["seconds"] / 60, 2), tokens=state["tokens"],
                       supervised=state["supervised"], val=evaluate(model, val, autocast))
            print(json.dumps(row), flush=True)
            log.write(json.dumps(row) + "\n")
            log.flush()
        if time.time() - last_save > args.save_every * 60:
            save()
            last_save = time.time()
    save()


if __name__ == "__main__":
    main()
