"""Encoder KV caches of recent contexts, reused when a new context extends one (typing appends).

Each entry is the one-row `DynamicCache` the encoder wrote for a token sequence. A lookup finds
the longest cached sequence that is a prefix of the new one; the caller encodes only the rest.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
from transformers.cache_utils import DynamicCache


def cache_bytes(cache: DynamicCache) -> int:
    return sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values)
               if isinstance(t, torch.Tensor))


class PrefixCache:
    def __init__(self, max_bytes: int = 256 * 1024 * 1024):
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[int, ...], DynamicCache] = OrderedDict()
        self.sizes: dict[tuple[int, ...], int] = {}
        self.hits = 0
        self.lookups = 0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0

    def lookup(self, ids: tuple[int, ...]) -> tuple[DynamicCache | None, int]:
        """The cache of the longest stored prefix of `ids` and its length (0 when none)."""
        self.lookups += 1
        best, best_len = None, 0
        for key in reversed(self.entries):
            if best_len < len(key) <= len(ids) and ids[: len(key)] == key:
                best, best_len = key, len(key)
                if best_len == len(ids):
                    break
        if best is None:
            return None, 0
        self.hits += 1
        self.entries.move_to_end(best)
        return self.entries[best], best_len

    def put(self, ids: tuple[int, ...], cache: DynamicCache) -> None:
        self.entries[ids] = cache
        self.entries.move_to_end(ids)
        self.sizes[ids] = cache_bytes(cache)
        while sum(self.sizes.values()) > self.max_bytes and len(self.entries) > 1:
            old, _ = self.entries.popitem(last=False)
            del self.sizes[old]


@torch.inference_mode()
def encode_context(model, ids: list[int], store: PrefixCache) -> tuple[DynamicCache, bool]:
    """A one-row encoder cache for `ids`, reusing the longest cached prefix; (cache, reused)."""
    key = tuple(ids)
    base, n = store.lookup(key)
    if n == len(ids):
        return base, True
    cache = copy.deepcopy(base) if base is not None else DynamicCache(config=model.config.text_config)
    device = model.device
    rest = torch.tensor([ids[n:]], device=device)
    positions = torch.arange(n, len(ids), device=device).unsqueeze(0)
    model.model.encoder(input_ids=rest, past_key_values=cache, position_ids=positions)
    store.put(key, cache)
    return cache, n > 0


def batch_caches(model, caches: list[DynamicCache]) -> tuple[DynamicCache, list[int]]:
    """Left-pad one-row caches into one batch cache; returns it and each row's context length."""
    lengths = [c.get_seq_length() for c in caches]
    longest = max(lengths)
    batch = DynamicCache(config=model.config.text_config)
    for layer_idx in range(len(caches[0].layers)):
        keys, values = [], []
        for cache, n in zip(caches, lengths):
            layer = cache.layers[layer_idx]
            pad = longest - layer.keys.shape[-2]
            keys.append(torch.nn.functional.pad(layer.keys, (0, 0, pad, 0)))
            values.append(torch.nn.functional.pad(layer.values, (0, 0, pad, 0)))
        batch.update(torch.cat(keys), torch.cat(values), layer_idx)
    return batch, lengths
