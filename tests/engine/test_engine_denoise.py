import math

import pytest
import torch

from engine import DEFAULT_MODEL_DIR
from engine.canvas import build_layout
from engine.serve.denoise import Row, SamplerSettings, denoise
from engine.serve.kvcache import PrefixCache, encode_context, encode_contexts
from engine.modeldir import ModelDirError

PREFIX = 'def mean(xs):\n    """Average of xs."""\n    total = sum(xs)\n'
SUFFIX = "\n\nprint(mean([1, 2, 3]))\n"


def rows_for(engine, cases, canvas=64):
    lm = engine.lm
    rows = []
    for prefix, suffix in cases:
        layout = build_layout(lm.encode, lm.sep_id, prefix, suffix, canvas, lm.spec.budget)
        cache, _ = encode_context(lm.model, layout.encoder_ids, PrefixCache())
        rows.append(Row(layout, cache))
    return rows


def test_flanks_never_change_and_only_gap_positions_do(engine):
    rows = rows_for(engine, [(PREFIX + "    ret", "urn total / len(xs)" + SUFFIX), (PREFIX, SUFFIX)])
    seen = []
    denoise(engine.lm, rows, SamplerSettings(max_steps=8, confidence_threshold=1e-9), on_step=seen.append)
    assert len(seen) == 8
    for i, row in enumerate(rows):
        lay = row.layout
        for canvas in seen:
            got = canvas[i, : lay.canvas_length].tolist()
            assert got[: lay.gap_start] == lay.left_flank
            assert got[lay.gap_stop :] == lay.right_flank
    changed = [(a != b) for a, b in zip(seen, seen[1:])]
    for i, row in enumerate(rows):
        lay = row.layout
        for diff in changed:
            outside = torch.cat([diff[i, : lay.gap_start], diff[i, lay.gap_stop : lay.canvas_length]])
            assert not outside.any()
        assert any(diff[i, lay.gap_start : lay.gap_stop].any() for diff in changed)


def test_step_cap_bounds_the_loop(engine):
    (filled,) = denoise(engine.lm, rows_for(engine, [(PREFIX, SUFFIX)]),
                        SamplerSettings(max_steps=3, confidence_threshold=1e-9))
    assert filled.steps == 3


def test_stable_and_confident_stop_ends_early(engine):
    # Any entropy counts as confident and no stability history is needed: one step is enough.
    (filled,) = denoise(engine.lm, rows_for(engine, [(PREFIX, SUFFIX)]),
                        SamplerSettings(max_steps=12, stability_threshold=0, confidence_threshold=1e9))
    assert filled.steps == 1
    assert len(filled.token_confidences) == len(filled.middle_ids) + int(filled.ended)
    assert all(0.0 <= c <= 1.0 for c in filled.token_confidences)


def test_a_dropped_row_yields_none_and_the_rest_finish(engine):
    rows = rows_for(engine, [(PREFIX, SUFFIX), (PREFIX + "    x = 1\n", SUFFIX)])
    rows[0].alive = lambda: False
    out = denoise(engine.lm, rows, SamplerSettings(max_steps=4))
    assert out[0] is None and out[1] is not None


def test_extending_a_cached_prefix_matches_encoding_from_scratch(engine):
    lm = engine.lm
    store = PrefixCache()
    short = lm.encode("import os\nimport sys\n")
    longer = short + lm.encode("def main():\n")
    encode_context(lm.model, short, store)
    reused, hit = encode_context(lm.model, longer, store)
    fresh, _ = encode_context(lm.model, longer, PrefixCache())
    assert hit and store.hit_rate == 0.5
    for a, b in zip(reused.layers, fresh.layers):
        torch.testing.assert_close(a.keys.float(), b.keys.float(), atol=2e-2, rtol=2e-2)


def test_an_exact_repeat_hits_the_cache(engine):
    lm = engine.lm
    store = PrefixCache()
    ids = lm.encode("x = 1\n")
    first, hit1 = encode_context(lm.model, ids, store)
    second, hit2 = encode_context(lm.model, ids, store)
    assert (hit1, hit2) == (False, True) and first is second


def test_contexts_encoded_together_match_contexts_encoded_alone(engine):
    lm = engine.lm
    a, b = lm.encode("import os\nx = 1\n"), lm.encode("import re\ny = 2\n")
    c = lm.encode("z = 3\n")
    store = PrefixCache()
    encode_context(lm.model, c[:2], store)
    together = encode_contexts(lm.model, [a, b, a, c, lm.encode("w")], store)
    assert len(a) == len(b) and len(c) != len(a)
    assert [hit for _, hit in together] == [False, False, True, True, False]
    assert together[2][0] is together[0][0]
    # New contexts of one length share a forward pass and still get exactly their own cache.
    for (cache, _), ids in zip(together, [a, b]):
        alone, _ = encode_context(lm.model, ids, PrefixCache())
        for x, y in zip(cache.layers, alone.layers):
            assert torch.equal(x.keys, y.keys) and torch.equal(x.values, y.values)
    assert together[3][0].get_seq_length() == len(c)
    assert len(store.entries) == 5


def test_prefix_cache_evicts_to_its_memory_bound(engine):
    lm = engine.lm
    store = PrefixCache(max_bytes=1)
    encode_context(lm.model, lm.encode("a = 1\n"), store)
    encode_context(lm.model, lm.encode("b = 2\n"), store)
    assert len(store.entries) == 1


def test_missing_or_broken_model_directories_get_clear_errors(tmp_path):
    from engine.serve.model import load

    with pytest.raises(ModelDirError, match="does not exist"):
        load(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelDirError, match="lacks tokenizer.json, \\*.safetensors weights"):
        load(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in DEFAULT_MODEL_DIR.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelDirError, match="is not a safetensors file"):
        load(broken)


def test_the_model_is_text_only(engine):
    names = [n for n, _ in engine.lm.model.named_modules()]
    assert not any("vision" in n for n in names)


def test_a_checkpoint_brings_its_own_denoising_defaults(tmp_path):
    import json

    from engine.serve.model import load

    for f in DEFAULT_MODEL_DIR.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    gen = json.loads((tmp_path / "generation_config.json").read_text())
    gen.update(max_denoising_steps=5, t_min=0.2, t_max=0.3)
    (tmp_path / "generation_config.json").write_text(json.dumps(gen))
    assert load(DEFAULT_MODEL_DIR).sampler.order == "left_to_right"
    extra = json.loads((tmp_path / "dg.json").read_text())
    (tmp_path / "dg.json").write_text(json.dumps(dict(extra, order="entropy_bound")))
    settings = load(tmp_path).sampler
    assert (settings.max_steps, settings.t_min, settings.t_max, settings.order) == (5, 0.2, 0.3, "entropy_bound")
    (tmp_path / "dg.json").write_text(json.dumps(dict(extra, order="sideways")))
    with pytest.raises(ModelDirError, match="unknown denoising order 'sideways'"):
        load(tmp_path)


def test_the_same_request_gets_the_same_completion(engine):
    rows = rows_for(engine, [(PREFIX, SUFFIX)])
    first, second = (denoise(engine.lm, rows, SamplerSettings(max_steps=6))[0] for _ in range(2))
    assert (first.middle_ids, first.token_confidences) == (second.middle_ids, second.token_confidences)


def test_the_fast_step_keeps_diffusiongemmas_rules():
    """Acceptance, entropies and the temperature schedule agree with transformers' own classes."""
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        EntropyBoundSampler,
        EntropyBoundSamplerConfig,
        LinearTemperatureScheduleLogitsProcessor,
        StableAndConfidentStoppingCriteria,
    )

    from engine.serve.denoise import entropy_bound_accept, predict_gap

    torch.manual_seed(0)
    settings = SamplerSettings(max_steps=12, t_min=0.1, t_max=0.7, entropy_bound=0.5)
    stock_temperature = LinearTemperatureScheduleLogitsProcessor(settings.t_min, settings.t_max, settings.max_steps)
    for cur_step in (12, 7, 1):
        # Peaked and flat rows, so some positions are accepted and some are not.
        logits = torch.randn(3, 20, 64) * torch.tensor([1.0, 8.0, 30.0])[:, None, None]
        processed = stock_temperature(None, logits, cur_step)
        pred = predict_gap(logits, settings.temperature(cur_step), torch.rand(3, 20))
        want = torch.distributions.Categorical(logits=processed).entropy()
        torch.testing.assert_close(pred.entropy, want, atol=1e-4, rtol=1e-4)
        assert torch.equal(pred.argmax, processed.argmax(-1))

        stock = EntropyBoundSampler(EntropyBoundSamplerConfig(entropy_bound=0.5), 20, 64, settings.max_steps)
        stock.accept_canvas(torch.zeros(3, 20, dtype=torch.long), pred.draw, processed, cur_step)
        assert torch.equal(entropy_bound_accept(pred.entropy, 0.5), stock.accepted_token_mask)

        stop = StableAndConfidentStoppingCriteria(stability_threshold=0, confidence_threshold=1.0)
        assert torch.equal(stop(pred.argmax, processed), pred.entropy.mean(-1) < 1.0)


def test_draws_follow_the_tempered_distribution():
    from engine.serve.denoise import predict_gap

    logits = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.4])).repeat(20000, 1)[None]
    draws = predict_gap(logits, 1.0, torch.rand(1, 20000)).draw
    shares = torch.bincount(draws.flatten(), minlength=4) / 20000
    torch.testing.assert_close(shares, torch.tensor([0.1, 0.2, 0.3, 0.4]), atol=0.015, rtol=0)


@pytest.fixture(scope="module")
def engine32():
    """The embedded model in float32: batched and single-row bfloat16 matmuls round differently, and over
    six parallel steps a near-tie can flip; the batch-independence of the noise is what is tested here."""
    from engine.serve.engine import Engine

    return Engine(DEFAULT_MODEL_DIR, dtype="float32")


def test_a_row_gets_the_same_completion_alone_or_in_a_batch(engine32):
    alone = denoise(engine32.lm, rows_for(engine32, [(PREFIX, SUFFIX)]), SamplerSettings(max_steps=6))[0]
    together = denoise(engine32.lm, rows_for(engine32, [(PREFIX + "    y = 2\n", SUFFIX), (PREFIX, SUFFIX)]),
                       SamplerSettings(max_steps=6))[1]
    assert alone.middle_ids == together.middle_ids


def test_slots_after_the_first_eoi_count_as_settled():
    from engine.serve.denoise import after_middle

    eoi = 1
    argmax = torch.tensor([[5, 6, eoi, 7, eoi, 0], [5, 6, 7, 8, 9, 0], [eoi, 3, 3, 3, 3, 3]])
    assert after_middle(argmax, eoi).tolist() == [
        [False, False, False, True, True, True],
        [False] * 6,
        [False, True, True, True, True, True],
    ]
    assert not after_middle(argmax, None).any()


IN_ORDER = SamplerSettings(order="left_to_right")


def test_left_to_right_fixes_one_slot_per_step_and_keeps_it(engine):
    rows = rows_for(engine, [(PREFIX, SUFFIX), (PREFIX + "    y = 2\n", SUFFIX)])
    seen = []
    filled = denoise(engine.lm, rows, IN_ORDER, on_step=seen.append)
    for i, (row, f) in enumerate(zip(rows, filled)):
        lay = row.layout
        canvases = [canvas[i, : lay.canvas_length].tolist() for canvas in seen[: f.steps]]
        fixed = canvases[-1][lay.gap_start : lay.gap_start + f.steps]
        for step, canvas in enumerate(canvases, start=1):
            assert canvas[: lay.gap_start] == lay.left_flank and canvas[lay.gap_stop :] == lay.right_flank
            assert canvas[lay.gap_start : lay.gap_start + step] == fixed[:step]  # a fixed slot stays fixed
        # The middle is the fixed slots up to <eoi> (not included) when the model ended it.
        assert fixed[: len(f.middle_ids)] == f.middle_ids
        assert (fixed[-1] == engine.lm.eoi_id) == (len(f.middle_ids) == f.steps - 1)
        assert len(f.token_confidences) == f.steps


def test_left_to_right_stops_at_the_rows_line_limit(engine):
    lm = engine.lm
    (row,) = rows_for(engine, [(PREFIX, SUFFIX)])
    free = denoise(lm, [row], IN_ORDER)[0]
    one_line = denoise(lm, [Row(row.layout, row.cache, max_lines=1)], IN_ORDER)[0]
    newlines = [t for t in one_line.middle_ids if lm.newline_mask[t]]
    assert one_line.ended and len(newlines) <= 1
    if newlines:
        assert lm.newline_mask[one_line.middle_ids[-1]]  # it stopped on that newline
        assert free.middle_ids[: len(one_line.middle_ids)] == one_line.middle_ids


def test_left_to_right_gives_a_row_the_same_completion_alone_or_in_a_batch(engine32):
    alone = denoise(engine32.lm, rows_for(engine32, [(PREFIX, SUFFIX)]), IN_ORDER)[0]
    together = denoise(engine32.lm, rows_for(engine32, [(PREFIX + "    y = 2\n", SUFFIX), (PREFIX, SUFFIX)]),
                       IN_ORDER)[1]
    assert alone.middle_ids == together.middle_ids


def test_newline_mask_marks_exactly_the_tokens_holding_a_newline(engine):
    lm = engine.lm
    mask = lm.newline_mask
    assert mask.shape == (lm.tokenizer.get_vocab_size(),) and mask.any()
    for token in range(0, len(mask), 97):
        assert bool(mask[token]) == ("\n" in lm.tokenizer.decode([token]))


def test_left_to_right_fixes_at_most_the_rows_token_budget_and_its_end(engine):
    (row,) = rows_for(engine, [(PREFIX, SUFFIX)])
    short = denoise(engine.lm, [Row(row.layout, row.cache, max_tokens=3)], IN_ORDER)[0]
    assert short.steps <= 4 and len(short.middle_ids) <= 4


DRAFTS = SamplerSettings(order="draft", verify=4)


def test_draft_with_one_verification_row_is_left_to_right(engine32):
    rows = rows_for(engine32, [(PREFIX, SUFFIX), (PREFIX + "    y = 2\n", SUFFIX)])
    plain = denoise(engine32.lm, rows, IN_ORDER)
    drafted = denoise(engine32.lm, rows, SamplerSettings(order="draft", verify=1))
    assert [(f.middle_ids, f.steps) for f in drafted] == [(f.middle_ids, f.steps) for f in plain]


def test_draft_fixes_at_most_its_verification_rows_per_step_and_ends_as_left_to_right_does(engine):
    lm = engine.lm
    (row,) = rows_for(engine, [(PREFIX, SUFFIX)])
    seen = []
    (f,) = denoise(lm, [Row(row.layout, row.cache, max_lines=1)], DRAFTS, on_step=seen.append)
    fixed = len(f.token_confidences)
    assert f.steps <= fixed <= DRAFTS.verify * f.steps and len(seen) == f.steps
    assert f.ended and sum(bool(lm.newline_mask[t]) for t in f.middle_ids) <= 1
    lay = row.layout
    for canvas in seen:  # every row keeps the flanks
        for r in range(DRAFTS.verify + 1):
            got = canvas[r, : lay.canvas_length].tolist()
            assert got[: lay.gap_start] == lay.left_flank and got[lay.gap_stop :] == lay.right_flank
    final = seen[-1][0, lay.gap_start : lay.gap_start + fixed].tolist()
    assert final[: len(f.middle_ids)] == f.middle_ids


def test_draft_gives_a_row_the_same_completion_alone_or_in_a_batch(engine32):
    alone = denoise(engine32.lm, rows_for(engine32, [(PREFIX, SUFFIX)]), DRAFTS)[0]
    together = denoise(engine32.lm, rows_for(engine32, [(PREFIX + "    y = 2\n", SUFFIX), (PREFIX, SUFFIX)]),
                       DRAFTS)[1]
    assert alone.middle_ids == together.middle_ids


def test_a_gated_request_stops_where_its_joint_probability_falls_below_the_gate_and_keeps_the_tokens_before(engine):
    """What the judge would show is unchanged; the steps after that token are not spent."""

    from engine import protocol as p
    from engine.serve.engine import Job

    def ask(gate):
        return engine.run([Job(p.InfillRequest(id="g", prefix=PREFIX + "    return ", suffix=SUFFIX, max_tokens=16,
                                               max_lines=1, gate=gate))])[0]

    full = ask(None)
    gate = 0.99
    confidences = full.token_confidences
    first_below = next((i for i in range(len(confidences)) if math.prod(confidences[: i + 1]) < gate), None)
    assert first_below is not None and first_below + 1 < len(full.token_confidences), full
    gated = ask(gate)
    assert gated.token_confidences == full.token_confidences[: first_below + 1]
    assert full.text.startswith(gated.text) and gated.steps == first_below + 1 < full.steps


def test_a_middle_the_model_does_not_end_keeps_to_its_token_budget(engine):
    """The slot past the budget is for the end marker: a token written there is not returned."""
    cases = [(PREFIX + "    return ", SUFFIX), (PREFIX + "    total = ", SUFFIX), ("import ", "\n")]
    rows = rows_for(engine, cases)
    for row in rows:
        row.max_tokens = 1
    filled = denoise(engine.lm, rows, IN_ORDER)
    assert all(len(f.middle_ids) <= 1 for f in filled), filled
    cut = [f for f in filled if not f.ended]
    assert cut and all(len(f.token_confidences) == 1 for f in cut), filled
