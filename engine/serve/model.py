"""Load a DiffusionGemma model directory for infill: config, safetensors weights, tokenizer.

Local directories only (never a hub download, never trust_remote_code), text-only (no vision
tower), on the best device present, in the dtype that measures faster there: each tensor is read
straight into that dtype on that device, once engine/serve/fit.py has found that they fit there.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from tokenizers import Tokenizer
from transformers.integrations.moe import ALL_EXPERTS_FUNCTIONS

from engine.canvas import EOI, PAD, SEP
from engine.layouts import ChatLayout, SepLayout
from engine.modeldir import ModelDirError
from engine.serve.denoise import SamplerSettings
from engine.serve.fit import check_fits
from engine.serve.lead import LeadMasks
from engine.serve.textonly import TextOnlyDiffusionGemma
from engine.spec import CHAT_LAYOUT, ModelSpec


def dense_experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """Run every expert on every token as two plain matmuls, weighting by the router.

    For a handful of small experts, one (tokens x all experts) product beats the eager
    implementation's per-expert gather loop; experts a router did not pick get weight zero.
    """
    tokens, experts = hidden_states.shape[0], self.num_experts
    gate_up = hidden_states @ self.gate_up_proj.reshape(-1, hidden_states.shape[1]).T
    activated = self._apply_gate(gate_up.view(tokens, experts, -1))
    weights = torch.zeros(tokens, experts, dtype=activated.dtype, device=activated.device)
    weights.scatter_add_(1, top_k_index, top_k_weights.to(activated.dtype))
    weighted = (activated * weights[..., None]).reshape(tokens, -1)
    return weighted @ self.down_proj.transpose(1, 2).reshape(-1, self.down_proj.shape[1])


ALL_EXPERTS_FUNCTIONS.register("dense", dense_experts_forward)
DENSE_EXPERTS_MAX = 8  # above this many experts the gather loop wins


@dataclass
class LoadedModel:
    model: TextOnlyDiffusionGemma
    tokenizer: Tokenizer
    spec: ModelSpec
    path: Path
    device: torch.device
    sampler: SamplerSettings
    sep_id: int
    eoi_id: int | None  # None: the checkpoint has no end-of-infill token; rank several gap lengths
    pad_id: int
    layout: SepLayout | ChatLayout
    # (vocab,) True for the tokens generated text may not hold (control, reserved and image tokens);
    # None where the layout's model needs no mask (dg-tiny's tokenizer has no reserved tokens).
    reserved: torch.Tensor | None = None

    @property
    def dtype(self) -> torch.dtype:
        return self.model.dtype

    @property
    def end_ids(self) -> tuple[int, ...]:
        """The tokens that end the middle (none: the model does not mark its end)."""
        return self.layout.end_ids

    def decode_all(self, ids) -> str:
        """Text with the control tokens shown, for a trace."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def encode(self, text: str) -> list[int]:
        return _encode(self.tokenizer, text)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)  # a stray <pad> is never text

    @functools.cached_property
    def token_texts(self) -> list[str]:
        """The text of every token id on its own ("" for special tokens)."""
        return [self.tokenizer.decode([i]) for i in range(self.tokenizer.get_vocab_size())]

    @functools.cached_property
    def lead_masks(self) -> LeadMasks:
        """The tokens each Lead (token healing's text, the word at the cursor) allows at its next slot."""
        return LeadMasks(self.token_texts, self.end_ids, self.device)

    def heal(self, prefix: str) -> tuple[str, str]:
        """Token healing: `prefix` backed up to the start of its last token on the cursor's line, and the
        text backed over. A prefix that ends inside a token pair the model always saw whole (the
        indentation before a word, the start of an identifier) puts it off its training distribution;
        backed up, the middle re-writes that text with the tokens the model would choose."""
        # The line's tail is enough to find its last token (a minified file's one line can be megabytes).
        line = prefix[max(prefix.rfind("\n") + 1, len(prefix) - 256) :]
        if not line:
            return prefix, ""
        start = self.tokenizer.encode(line, add_special_tokens=False).offsets[-1][0]
        return prefix[: len(prefix) - len(line) + start], line[start:]

    @functools.cached_property
    def newline_mask(self) -> torch.Tensor:
        """(vocab,) True for the tokens whose text holds a newline."""
        vocab = self.tokenizer.get_vocab_size()
        return torch.tensor(["\n" in self.tokenizer.decode([i]) for i in range(vocab)])


RESERVED_NAME = re.compile(r"<unused\d+>")


def reserved_tokens(tokenizer: Tokenizer, vocab_size: int, allowed: tuple[int, ...]) -> torch.Tensor:
    """(vocab_size,) True for the ids text may not hold: the tokenizer's special tokens (control, image and
    audio tokens), reserved <unusedN> tokens and ids past the tokenizer's vocabulary; `allowed` (the end
    tokens, pad) stay sampleable."""
    reserved = torch.ones(vocab_size, dtype=torch.bool)
    for token, i in tokenizer.get_vocab(with_added_tokens=False).items():
        if i < vocab_size and not RESERVED_NAME.fullmatch(token):
            reserved[i] = False
    for i, added in tokenizer.get_added_tokens_decoder().items():
        if i < vocab_size:
            reserved[i] = added.special or bool(RESERVED_NAME.fullmatch(added.content))
    reserved[list(allowed)] = False
    return reserved


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def special_ids(tokenizer: Tokenizer, config) -> tuple[int, int | None, int]:
    vocab = tokenizer.get_vocab()
    sep = vocab.get(SEP)
    if sep is None:  # a stock checkpoint: a newline-free separator the tokenizer knows
        sep = config.text_config.bos_token_id
    return sep, vocab.get(EOI), vocab.get(PAD, config.text_config.pad_token_id)


def sampler_settings(generation_config, spec: ModelSpec) -> SamplerSettings:
    """The checkpoint's own denoising defaults (generation_config.json, and from its spec the order, the draft
    order's verification rows and, for a model of this project's recipe, its self-conditioning), ours where
    it sets none."""
    g = generation_config
    found = dict(max_steps=g.max_denoising_steps, t_min=g.t_min, t_max=g.t_max,
                 stability_threshold=g.stability_threshold, confidence_threshold=g.confidence_threshold,
                 entropy_bound=g.sampler_config.entropy_bound if g.sampler_config is not None else None,
                 order=spec.order, verify=spec.verify, tempered_self_conditioning=False if spec.own_recipe else None)
    return SamplerSettings(**{k: v for k, v in found.items() if v is not None})


def cpu_dtype() -> torch.dtype:
    """bfloat16 where the CPU multiplies it natively (AVX512-BF16 or AMX), float32 elsewhere.

    Measured for dg-tiny's decoder forward on one AVX512-BF16 core: 28.7 ms in bfloat16 against
    45.2 ms in float32; without native support PyTorch emulates bfloat16 and float32 wins. A rule
    rather than a timing at start, so every daemon on a machine computes the same completions.
    """
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return torch.bfloat16 if re.search(r"\b(avx512_bf16|amx_bf16)\b", flags) else torch.float32


def load(path: str | Path, device: str | None = None, dtype: str | None = None,
         layout: str | None = None) -> LoadedModel:
    path = Path(path).expanduser().resolve()
    dev = torch.device(device) if device else pick_device()
    target = getattr(torch, dtype) if dtype else torch.bfloat16 if dev.type != "cpu" else cpu_dtype()
    check_fits(path, dev, target)
    spec = ModelSpec.read(path, layout=layout)
    try:
        # Each tensor is read into the target dtype on the target device, so the checkpoint never sits in
        # host memory whole, nor in float32 (that was about 104 GB for 26B-A4B).
        model, info = TextOnlyDiffusionGemma.from_pretrained(
            path, local_files_only=True, use_safetensors=True, trust_remote_code=False, dtype=target,
            device_map={"": dev}, output_loading_info=True,
        )
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
        if "ignore_mismatched_sizes" in str(exc):  # transformers' words; the shapes are in the log above
            raise ModelDirError(f"the weights in {path} do not match its config.json: tensors have other shapes "
                                f"than the config describes (the engine log lists them)") from exc
        raise ModelDirError(f"cannot load the model in {path}: {exc}") from exc
    # Missing weights would be initialised at random: a model that loads and writes noise.
    if missing := sorted(info["missing_keys"]):
        raise ModelDirError(f"the weights in {path} lack {len(missing)} tensors its config.json describes "
                            f"(such as {missing[0]}): the config does not match the weights")
    if spec.own_recipe:
        # Served as it was measured: its buffers (the rotary frequencies) in the model's dtype too, as
        # Module.to(dtype) left them. A stock checkpoint keeps them in float32, as transformers loads it.
        model.to(target)
    return serving(model.eval(), tokenizer, spec, path, dev)


def serving(model: TextOnlyDiffusionGemma, tokenizer: Tokenizer, spec: ModelSpec, path: Path,
            device: torch.device) -> LoadedModel:
    """A model in memory, on its device and in its dtype, made ready to serve: its experts' kernel, its
    special ids, its layout and, for the chat layout, the tokens it may not generate. `load` ends here; so does
    bench/gpu_smoke.py, which builds its weights on the GPU rather than reading them."""
    text_cfg = model.config.text_config
    if text_cfg.num_experts and text_cfg.num_experts <= DENSE_EXPERTS_MAX and device.type == "cpu":
        text_cfg._experts_implementation = "dense"
    sep, eoi, pad = special_ids(tokenizer, model.config)
    encode = functools.partial(_encode, tokenizer)
    if spec.layout == CHAT_LAYOUT:
        eos = text_cfg.eos_token_id
        as_text = Tokenizer.from_str(tokenizer.to_str())
        as_text.encode_special_tokens = True
        chat = ChatLayout(functools.partial(_encode, as_text), spec,
                          tuple(eos) if isinstance(eos, list) else () if eos is None else (eos,), encode)
        reserved = reserved_tokens(tokenizer, text_cfg.vocab_size, (*chat.end_ids, pad)).to(device)
        fitted = dict(layout=chat, reserved=reserved)
    else:
        fitted = dict(layout=SepLayout(encode, spec, sep, eoi))
    return LoadedModel(model=model, tokenizer=tokenizer, spec=spec, path=path, device=device,
                       sampler=sampler_settings(model.generation_config, spec), sep_id=sep,
                       eoi_id=eoi, pad_id=pad, **fitted)


def _encode(tokenizer: Tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False).ids
