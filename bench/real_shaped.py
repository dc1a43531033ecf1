"""A DiffusionGemma checkpoint shaped like the released one, small enough to build in seconds.

`google/diffusiongemma-26B-A4B-it` is the only released DiffusionGemma checkpoint. This builds a
random-weight miniature that keeps every structural feature the engine must handle (issue #17):
the stock `DiffusionGemmaForBlockDiffusion` with a vision tower whose tensors are in the files,
sliding and full attention layers where the full layers have their own head dim and no v_proj
(`attention_k_eq_v`), a mixture of experts beside a dense MLP, a 262,144-token vocabulary,
`eos_token_id` [1, 106, 50], `canvas_length` 256, the released `generation_config.json`, sharded
safetensors with an index, and a tokenizer with Gemma 4's special tokens at their ids and a chat
template. Only the widths are small, so that a CPU runs it.

`favour` makes one token the argmax at every canvas position, in a built or a loaded model (a
weight edit): tests use it to make the model end its middle with a given end token, or to try to
emit a reserved one.

    python -m bench.real_shaped DIR                  # the CPU miniature
    python -m bench.real_shaped DIR --shape 26b-a4b  # the released shape (GPU memory; see bench/gpu_smoke.py)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
from transformers.models.diffusion_gemma import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion
from transformers.models.diffusion_gemma.generation_diffusion_gemma import (DiffusionGemmaGenerationConfig,
                                                                            EntropyBoundSamplerConfig)

VOCAB = 262_144
EOS_IDS = [1, 106, 50]  # <eos>, <turn|>, <|tool_response>
# Gemma 4's control tokens at their ids; every other id that is not text is reserved (<unusedN>).
SPECIAL = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>", 4: "<mask>", 46: "<|tool>", 47: "<tool|>",
           48: "<|tool_call>", 49: "<tool_call|>", 50: "<|tool_response>", 51: "<tool_response|>", 52: '<|"|>',
           98: "<|think|>", 100: "<|channel>", 101: "<channel|>", 105: "<|turn>", 106: "<turn|>",
           255_999: "<|image>", 256_000: "<|audio>", 258_880: "<|image|>", 258_881: "<|audio|>",
           258_882: "<image|>", 258_883: "<audio|>"}
TEXT_START = 108  # text tokens take the ids from here; the ids below that are not SPECIAL are reserved
# Gemma 4's template, cut to what infill uses: turns, the generation prompt and its empty thought
# channel when thinking is off.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<|turn>' + role + '\\n' + message['content'] + '<turn|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|turn>model\\n' }}"
    "{% if not enable_thinking | default(false) %}{{ '<|channel>thought\\n<channel|>' }}{% endif %}"
    "{% endif %}")
# The sampler defaults of the released generation_config.json.
RELEASED_SAMPLER = dict(max_denoising_steps=48, t_min=0.4, t_max=0.8, stability_threshold=1,
                        confidence_threshold=0.005)
ENTROPY_BOUND = 0.1

# Widths of the CPU miniature and of the released model; structure is the same.
SHAPES = {
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=6, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, global_head_dim=32, num_global_key_value_heads=1,
                 num_experts=8, top_k_experts=2, moe_intermediate_size=32, sliding_window=128),
    "26b-a4b": dict(hidden_size=2816, intermediate_size=2112, num_hidden_layers=30, num_attention_heads=16,
                    num_key_value_heads=8, head_dim=256, global_head_dim=512, num_global_key_value_heads=2,
                    num_experts=128, top_k_experts=8, moe_intermediate_size=704, sliding_window=1024),
}
TINY_VISION = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                   num_key_value_heads=2, head_dim=8, position_embedding_size=64)

# Code for the tokenizer's merges: the text tokens only have to be plausible, not good.
SAMPLE_TEXT = '''
def greet(name):
    """Say hello."""
    return f"Hello, {name}!"


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from an empty stack")
        return self.items.pop()


for i in range(10):
    print(greet(str(i)), len(Stack().items))
'''


def config(shape: str = "tiny", **widths) -> DiffusionGemmaConfig:
    dims = SHAPES[shape] | widths
    layers = dims["num_hidden_layers"]
    text = dict(vocab_size=VOCAB, eos_token_id=EOS_IDS, pad_token_id=0, bos_token_id=2, attention_k_eq_v=True,
                layer_types=["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(layers)],
                max_position_embeddings=131_072, **dims)
    return DiffusionGemmaConfig(text_config=text, vision_config=dict(model_type="gemma4_vision", **TINY_VISION),
                                canvas_length=256, eos_token_id=EOS_IDS, pad_token_id=0, bos_token_id=2)


def generation_config() -> DiffusionGemmaGenerationConfig:
    return DiffusionGemmaGenerationConfig(**RELEASED_SAMPLER, sampler_config=EntropyBoundSamplerConfig(ENTROPY_BOUND),
                                          eos_token_id=EOS_IDS, pad_token_id=0, bos_token_id=2)


def tokenizer(text_tokens: int = 600) -> Tokenizer:
    """A byte-level BPE trained on SAMPLE_TEXT, laid out over Gemma 4's 262,144 ids: its control tokens
    at their ids, the text tokens from TEXT_START on, <unusedN> everywhere else."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([SAMPLE_TEXT] * 4, trainers.BpeTrainer(
        vocab_size=text_tokens, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    trained = json.loads(bpe.to_str())["model"]
    text = sorted(trained["vocab"], key=trained["vocab"].get)
    free = (i for i in range(TEXT_START, VOCAB) if i not in SPECIAL)
    vocab = {token: i for token, i in zip(text, free)}
    vocab |= {token: i for i, token in SPECIAL.items()}
    unused = 0
    for i in sorted(set(range(VOCAB)) - set(vocab.values())):
        vocab[f"<unused{unused}>"], unused = i, unused + 1
    # Control tokens and the low reserved ids are added tokens, as in Gemma's tokenizer.json; the rest of
    # the <unusedN> tokens are plain vocabulary no text encodes to.
    added = {i: t for t, i in vocab.items() if i in SPECIAL or i < TEXT_START}
    spec = json.loads(bpe.to_str())
    spec["model"].update(vocab=vocab, merges=trained["merges"], unk_token="<unk>")
    spec["added_tokens"] = [dict(id=i, content=t, single_word=False, lstrip=False, rstrip=False, normalized=False,
                                 special=True) for i, t in sorted(added.items())]
    return Tokenizer.from_str(json.dumps(spec))


def favour(model, token: int) -> None:
    """Make `token` the argmax everywhere: a constant first component in every embedding row keeps the
    residual stream's first component, hence the final hidden state's, large and positive, so that the
    tied output head gives `token`, whose first component is larger still, the highest logit."""
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        embed[:, 0] = 0.25
        embed[token, 0] = 4.0


def build(path: Path, shape: str = "tiny", favoured: int | None = None, seed: int = 0,
          max_shard_size: str = "16MB", device: str = "cpu", **widths) -> Path:
    """Write the checkpoint into `path` (created) and return it; `widths` override the shape's."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    with torch.device(device):
        model = DiffusionGemmaForBlockDiffusion(config(shape, **widths))
    if favoured is not None:
        favour(model, favoured)
    model.generation_config = generation_config()
    model.to(torch.bfloat16).save_pretrained(path, max_shard_size=max_shard_size)
    tokenizer().save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps(dict(
        bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
        chat_template=CHAT_TEMPLATE), indent=1))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path)
    ap.add_argument("--shape", choices=SHAPES, default="tiny")
    ap.add_argument("--favour", type=int, help="make this token id the argmax everywhere")
    args = ap.parse_args()
    print(build(args.dir, args.shape, args.favour))


if __name__ == "__main__":
    main()
