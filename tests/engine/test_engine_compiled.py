"""The compiled model the daemon swaps in computes what the eager model does."""

import pytest
import torch
from torch._dynamo.utils import counters

from engine import DEFAULT_MODEL_DIR
from engine import protocol as p
from engine.serve.engine import Engine, Job
from engine.serve.kvcache import PrefixCache, encode_context

SOURCE = '''import os


def walk(root):
    """Yield every file below root."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            yield os.path.join(dirpath, name)
'''


def logits(model, context: list[int], canvas: list[int]) -> torch.Tensor:
    cache, _ = encode_context(model, context, PrefixCache())
    positions = torch.arange(len(context), len(context) + len(canvas))[None]
    with torch.inference_mode():
        return model(decoder_input_ids=torch.tensor([canvas]), cache=cache, decoder_position_ids=positions).logits[0]


@pytest.fixture
def default_stance():
    """The engine leaves torch's compiler refusing new graphs, process-wide; later tests compile afresh."""
    yield
    torch.compiler.set_stance("default")


def test_the_compiled_model_serves_and_computes_what_the_eager_model_does(default_stance):
    engine = Engine(DEFAULT_MODEL_DIR)
    eager = engine.lm.model
    ids = engine.lm.encode(SOURCE)
    context, canvas = ids[:40], ids[40:72]
    expected = logits(eager, context, canvas)

    assert engine.compile_in_background().wait(timeout=900), "the compiled model never took over"
    assert engine.lm.model is not eager and engine.status().compiled
    got = logits(engine.lm.model, context, canvas)
    # bfloat16 on this CPU: fused kernels round differently, but the same weights give the same ranking.
    assert (got.argmax(-1) == expected.argmax(-1)).float().mean() >= 0.9
    assert torch.allclose(got.float(), expected.float(), atol=0.5), (got - expected).abs().max()
    assert (got.float() - expected.float()).abs().mean() < 0.05

    # Serving compiles nothing more, whatever comes: mixed batches, and typing that extends a context by
    # one character (a new graph would stall the model thread for seconds).
    graphs = counters["stats"]["unique_graphs"]
    for n, max_tokens in ((1, 16), (4, 48), (7, 24)):
        jobs = [Job(p.InfillRequest(id=f"{n}-{i}", prefix=SOURCE[: 40 + 13 * i], suffix=SOURCE[120 + 7 * i :],
                                    max_tokens=max_tokens + 8 * i)) for i in range(n)]
        assert all(result is not None and result.steps >= 1 for result in engine.run(jobs))
    # (Typing SOURCE thus took 12 new graphs and 28 s before the model stopped compiling once handed over.)
    for typed in range(100, len(SOURCE), 3):
        [result] = engine.run([Job(p.InfillRequest(id=f"typed-{typed}", prefix=SOURCE[:typed], suffix=SOURCE[typed:],
                                                   max_tokens=16, doc="typed"))])
        assert result is not None
    assert counters["stats"]["unique_graphs"] == graphs
