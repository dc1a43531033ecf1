"""Figures for dg.status: latency of recent requests and where their answers came from."""

from __future__ import annotations

from collections import Counter, deque

RECENT = 500

# Where an answer came from; every inlineCompletion request counts under exactly one.
TYPING_THROUGH = "typing_through"  # the rest of the suggestion on screen
CACHE = "cache"  # a remembered model answer for the same context
MODEL = "model"  # a model call, answered or not (dropped at its deadline, engine error)
NONE = "none"  # no call made: nothing to complete here, engine not ready, disabled
CANCELLED = "cancelled"  # cancelled by the client or superseded by a newer request


def percentile(values, q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Stats:
    def __init__(self) -> None:
        self.sources: Counter[str] = Counter()
        self.latency_ms: deque[float] = deque(maxlen=RECENT)
        self.latency_by_source: dict[str, deque[float]] = {}
        self.model_ms: deque[float] = deque(maxlen=RECENT)
        self.items = 0
        self.model_calls = 0  # requests sent to the engine, answered or not
        self.rejected: Counter[str] = Counter()  # why nothing was shown: the judge's reasons

    def record(self, source: str, ms: float, *, items: int = 0) -> None:
        self.sources[source] += 1
        self.latency_ms.append(ms)
        self.latency_by_source.setdefault(source, deque(maxlen=RECENT)).append(ms)
        self.items += items

    def record_model(self, ms: float) -> None:
        self.model_ms.append(ms)

    def report(self) -> dict:
        requests = sum(self.sources.values())
        looked_up = self.sources[CACHE] + self.sources[MODEL]

        def share(n: int, of: int) -> float:
            return round(n / of, 4) if of else 0.0

        def figures(values) -> dict:
            p50, p95 = percentile(values, 50), percentile(values, 95)
            return {"p50": None if p50 is None else round(p50, 1),
                    "p95": None if p95 is None else round(p95, 1), "count": len(values)}

        return {
            "requests": requests,
            "items": self.items,
            "model_calls": self.model_calls,
            "sources": dict(self.sources),
            "rejected": dict(self.rejected),
            "latency_ms": figures(self.latency_ms),
            "latency_ms_by_source": {source: figures(values) for source, values in self.latency_by_source.items()},
            "model_latency_ms": figures(self.model_ms),
            # Of the requests that needed a model answer, the share the answer cache had.
            "cache_hit_rate": share(self.sources[CACHE], looked_up),
            # Of all requests, the share answered with the rest of the suggestion on screen.
            "typing_through_share": share(self.sources[TYPING_THROUGH], requests),
        }
