"""Train dg-tiny's byte-level BPE tokenizer on the training split of the corpus.

    python -m training.tokenizer --corpus data/corpus --out runs/dg-tiny
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from engine.canvas import SPECIAL_TOKENS

VOCAB_SIZE = 8192
SAMPLE_CHARS = 40_000_000


def sample_texts(corpus: Path, seed: int = 0):
    lines = (corpus / "train.jsonl").read_text().splitlines()
    random.Random(seed).shuffle(lines)
    total = 0
    for line in lines:
        text = json.loads(line)["text"]
        total += len(text)
        yield text
        if total > SAMPLE_CHARS:
            return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    ap.add_argument("--out", type=Path, default=Path("runs/dg-tiny"))
    args = ap.parse_args()

    tok = Tokenizer(models.BPE())
    # Digits split one by one keep numbers from eating the vocabulary; the GPT-2 regex keeps runs of
    # indentation whole, which code needs.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(sample_texts(args.corpus), trainer=trainer)
    args.out.mkdir(parents=True, exist_ok=True)
    tok.save(str(args.out / "tokenizer.json"))
    print(f"vocab {tok.get_vocab_size()} -> {args.out / 'tokenizer.json'}")


if __name__ == "__main__":
    main()
