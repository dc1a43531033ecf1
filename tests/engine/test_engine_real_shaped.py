"""A checkpoint shaped like the released DiffusionGemma (bench/real_shaped.py), built at test time:
it loads text-only in the daemon and in `dg-infill --in-process`, gets the chat layout from what it
contains, renders its prompt through its own chat template, keeps pinned flanks through all 48
steps, ends the middle at each eos id, never emits a reserved token, and stops as transformers'
StableAndConfidentStoppingCriteria does."""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from tokenizers import Tokenizer

from bench import humaneval_infill, real_shaped
from engine import DEFAULT_MODEL_DIR
from engine import protocol as p
from engine.canvas import Budget
from engine.client import EngineClient
from engine.layouts import GAP_SHOWN, ChatLayout, trace
from engine.modeldir import ModelDirError
from engine.spec import CHAT_LAYOUT, SEP_LAYOUT, ModelSpec

PREFIX = "def area(width, height):\n    "
SUFFIX = "\n\n\nprint(area(2, 3))\n"
CANVAS = 64  # the smallest canvas other runtimes run the checkpoint at; 256 costs a CPU 4 times as much
needs_data = pytest.mark.skipif(not humaneval_infill.EVAL_DIR.exists(),
                                reason=f"no HumanEval-infilling data at {humaneval_infill.EVAL_DIR}")


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    """The real-shaped checkpoint, told to run 64-token canvases (its layout still comes from its files)."""
    path = real_shaped.build(tmp_path_factory.mktemp("real") / "diffusiongemma-mini")
    (path / "dg.json").write_text(json.dumps({"canvases": [CANVAS]}))
    return path


@pytest.fixture(scope="module")
def real(real_dir):
    from engine.serve.engine import Engine

    return Engine(real_dir)


@pytest.fixture
def favoured(real):
    """The loaded engine with a token made the argmax everywhere; the weights are restored after."""
    embed = real.lm.model.get_input_embeddings().weight
    saved, sampler = embed.detach().clone(), real.sampler

    def make(token: int):
        real_shaped.favour(real.lm.model, token)
        real.store.entries.clear(), real.store.sizes.clear()  # encoder caches of the weights before
        return real

    yield make
    with torch.no_grad():
        embed.copy_(saved)
    real.store.entries.clear(), real.store.sizes.clear()
    real.sampler = sampler


def infill(engine, prefix=PREFIX, suffix=SUFFIX, max_tokens=24, **fields):
    from engine.serve.engine import Job

    return engine.run([Job(p.infill_request("t", prefix, suffix, max_tokens=max_tokens, **fields))])[0]


def newline_token(lm) -> int:
    return next(i for i in lm.newline_mask.nonzero().flatten().tolist() if not lm.reserved[i])


def test_the_checkpoint_has_the_released_structure(real_dir):
    config = json.loads((real_dir / "config.json").read_text())
    text = config["text_config"]
    assert (config["canvas_length"], text["vocab_size"], text["eos_token_id"]) == (256, 262_144, [1, 106, 50])
    assert {"sliding_attention", "full_attention"} == set(text["layer_types"]) and text["num_experts"] > 1
    index = json.loads((real_dir / "model.safetensors.index.json").read_text())["weight_map"]
    assert len(set(index.values())) > 1 and any(k.startswith("model.encoder.vision_tower.") for k in index)
    full = text["layer_types"].index("full_attention")
    assert f"model.decoder.layers.{full}.self_attn.v_proj.weight" not in index
    assert {"model.decoder.layers.0.self_attn.v_proj.weight", "model.decoder.layers.0.mlp.up_proj.weight",
            "model.decoder.layers.0.experts.gate_up_proj"} <= set(index)
    g = json.loads((real_dir / "generation_config.json").read_text())
    assert (g["max_denoising_steps"], g["t_max"], g["t_min"], g["stability_threshold"], g["confidence_threshold"],
            g["sampler_config"]["entropy_bound"]) == (48, 0.8, 0.4, 1, 0.005, 0.1)
    tokenizer = Tokenizer.from_file(str(real_dir / "tokenizer.json"))
    assert [tokenizer.token_to_id(t) for t in ("<pad>", "<eos>", "<bos>", "<|turn>", "<turn|>", "<|image|>")] == [
        0, 1, 2, 105, 106, 258_880]
    assert tokenizer.get_vocab_size() == 262_144


def test_it_loads_text_only_with_the_full_layers_own_head_dim(real):
    model = real.lm.model
    assert not any("vision" in name for name, _ in model.named_parameters())
    layers = model.model.decoder.layers
    full = model.config.text_config.layer_types.index("full_attention")
    assert layers[full].self_attn.v_proj is None and layers[0].self_attn.v_proj is not None
    assert layers[full].self_attn.head_dim != layers[0].self_attn.head_dim


def test_the_layout_comes_from_what_the_checkpoint_holds_unless_told(real_dir, tmp_path):
    assert ModelSpec.read(real_dir).layout == CHAT_LAYOUT  # a chat template, no <sep>
    assert ModelSpec.read(DEFAULT_MODEL_DIR).layout == SEP_LAYOUT
    assert ModelSpec.read(real_dir, layout=SEP_LAYOUT).layout == SEP_LAYOUT
    (tmp_path / "dg.json").write_text(json.dumps({"layout": "chat"}))
    with pytest.raises(ModelDirError, match="the chat layout needs a chat template"):
        ModelSpec.read(tmp_path)
    (tmp_path / "dg.json").write_text(json.dumps({"layout": "sideways"}))
    with pytest.raises(ModelDirError, match="unknown layout 'sideways'"):
        ModelSpec.read(tmp_path)


def test_the_chat_layout_renders_the_file_through_the_checkpoints_template(real):
    (layout,) = real.layouts(p.infill_request("t", PREFIX, SUFFIX, max_tokens=24), PREFIX)
    instruction = ChatLayout.INSTRUCTION.format(mark=ChatLayout.MARK, file=PREFIX + ChatLayout.MARK + SUFFIX)
    assert trace(layout, real.lm.decode_all) == dict(
        prompt=f"<bos><|turn>user\n{instruction}<turn|>\n<|turn>model\n<|channel>thought\n<channel|>",
        canvas=GAP_SHOWN * CANVAS)
    # Text that spells a control token stays text.
    (layout,) = real.layouts(p.infill_request("t", "# <turn|>\n", "", max_tokens=24), "# <turn|>\n")
    assert 106 not in layout.encoder_ids[len(real.lm.layout.head_ids) : -len(real.lm.layout.tail_ids)]


def test_pinned_flanks_hold_through_all_48_steps(real):
    from engine.serve.denoise import Row, denoise
    from engine.serve.kvcache import encode_context

    lm = real.lm
    pinned = ChatLayout(lm.encode, dataclasses.replace(lm.spec, budget=Budget(512, 2048, left_flank=4, right_flank=8)),
                        lm.end_ids, lm.encode)
    (layout,) = pinned.layouts(PREFIX + "return width *", SUFFIX, 24)
    assert len(layout.left_flank) == 4 and len(layout.right_flank) == 8
    assert trace(layout, lm.decode_all)["canvas"].startswith(lm.decode_all(layout.left_flank) + GAP_SHOWN)
    cache, _ = encode_context(lm.model, layout.encoder_ids, real.store)
    seen = []
    never_confident = dataclasses.replace(real.sampler, confidence_threshold=0.0)
    (filled,) = denoise(lm, [Row(layout, cache)], never_confident, on_step=seen.append)
    assert filled.steps == len(seen) == real.sampler.max_steps == 48
    for canvas in seen:
        got = canvas[0].tolist()
        assert got[: layout.gap_start] == layout.left_flank and got[layout.gap_stop :] == layout.right_flank


@pytest.mark.parametrize("eos", [1, 106, 50])
def test_the_middle_ends_at_each_eos_id(favoured, eos):
    engine = favoured(eos)
    assert eos in engine.lm.end_ids
    result = infill(engine)
    assert (result.text, result.ended) == ("", True)


def test_a_text_token_fills_the_token_budget_and_does_not_end_it(favoured):
    engine = favoured(300)
    result = infill(engine)
    assert result.text == engine.lm.decode([300] * 24) and len(result.token_confidences) == 24 and not result.ended


def test_the_middle_ends_at_the_line_limit(favoured, real):
    """As left to right ends it: with the token that holds the newline, marked as ended."""
    result = infill(favoured(newline_token(real.lm)), max_lines=1)
    assert len(result.token_confidences) == 1 and result.ended and result.text.count("\n") == 1


@pytest.mark.parametrize("gate, tokens", [(1.0, 1), (0.0, 5)])
def test_the_middle_ends_where_its_joint_probability_falls_below_the_gate(favoured, gate, tokens):
    """As left to right ends it: with that token (the client cuts it), or at the budget when none is below."""
    result = infill(favoured(300), max_tokens=5, gate=gate)
    assert len(result.token_confidences) == tokens and not result.ended


def test_the_stop_counts_slots_past_the_line_and_token_limits_as_settled(real):
    from engine.serve.denoise import Batch, Row, past_limits
    from engine.serve.kvcache import encode_context

    lm = real.lm
    (layout,) = real.layouts(p.infill_request("t", PREFIX, SUFFIX, max_tokens=24), PREFIX)
    cache, _ = encode_context(lm.model, layout.encoder_ids, real.store)
    batch = Batch(lm, [Row(layout, cache, max_tokens=3), Row(layout, cache, max_lines=1), Row(layout, cache)])
    argmax = torch.full((3, batch.gap_width), 300)
    argmax[0, 1] = lm.pad_id  # filler, not a token of the middle
    argmax[1, 2] = newline_token(lm)
    past = past_limits(batch)(torch.arange(3), argmax)
    # Row 0: its 3 tokens and the slot for an end token are slots 0 and 2 to 4; row 1 ends with its newline.
    assert past[0].tolist().index(True) == 5 and past[1].tolist().index(True) == 3 and not past[2].any()


@pytest.mark.parametrize("tempered", [True, False])
def test_self_conditioning_is_on_tempered_logits_as_transformers_generate_does(real, monkeypatch, tempered):
    """transformers' generate conditions each step on the last step's logits after its temperature
    schedule, in the embeddings' dtype; a model of this project's recipe (dg-tiny) on the logits as they are."""
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
        LinearTemperatureScheduleLogitsProcessor)

    from engine.serve import denoise as d
    from engine.serve.kvcache import encode_context
    from engine.serve.model import load

    lm = real.lm
    assert real.sampler.tempered_self_conditioning and not load(DEFAULT_MODEL_DIR).sampler.tempered_self_conditioning
    (layout,) = real.layouts(p.infill_request("t", PREFIX, SUFFIX, max_tokens=24), PREFIX)
    cache, _ = encode_context(lm.model, layout.encoder_ids, real.store)
    logits, conditioning = [], []
    softcapped, decoder = d.softcapped_logits, lm.model.model.decoder
    monkeypatch.setattr(d, "softcapped_logits", lambda model, hidden: logits.append(softcapped(model, hidden))
                        or logits[-1])
    monkeypatch.setattr(decoder, "forward", lambda *args, forward=decoder.forward, **kw: conditioning.append(
        kw["self_conditioning_logits"]) or forward(*args, **kw))
    settings = dataclasses.replace(real.sampler, max_steps=3, confidence_threshold=0.0,
                                   tempered_self_conditioning=tempered)
    d.denoise(lm, [d.Row(layout, cache)], settings)
    assert len(conditioning) == 3 and conditioning[0] is None
    schedule = LinearTemperatureScheduleLogitsProcessor(settings.t_min, settings.t_max, settings.max_steps)
    for step, (given, last) in enumerate(zip(conditioning[1:], logits)):
        if tempered:
            want = schedule(None, last, cur_step=settings.max_steps - step).to(lm.model.dtype)
            assert given.dtype == want.dtype and torch.equal(given, want)
        else:
            assert given is last


@needs_data
@pytest.mark.parametrize("layout", [SEP_LAYOUT, CHAT_LAYOUT])
def test_humaneval_runs_either_layout_on_any_checkpoint(real_dir, layout, tmp_path, monkeypatch):
    out = tmp_path / "report.json"
    monkeypatch.setattr("sys.argv", ["humaneval_infill", "--model", str(real_dir), "--layout", layout, "--split",
                                     "single", "--sample", "2", "--max-steps", "2", "--json", str(out)])
    humaneval_infill.main()
    row = json.loads(out.read_text())["single"]
    assert (row["layout"], row["tasks"]) == (layout, 2)


@pytest.mark.parametrize("reserved", [105, 258_880, 4, 200_000])  # <|turn>, <|image|>, <mask>, an <unusedN>
def test_no_reserved_token_is_emitted_even_when_the_model_wants_it(favoured, reserved):
    from engine.serve.denoise import Row, denoise
    from engine.serve.kvcache import encode_context

    engine = favoured(reserved)
    lm = engine.lm
    assert lm.reserved[reserved] and not lm.reserved[list(lm.end_ids)].any() and not lm.reserved[lm.pad_id]
    (layout,) = engine.layouts(p.infill_request("t", PREFIX, SUFFIX, max_tokens=24), PREFIX)
    cache, _ = encode_context(lm.model, layout.encoder_ids, engine.store)
    (filled,) = denoise(lm, [Row(layout, cache)], dataclasses.replace(engine.sampler, max_steps=4))
    assert filled.middle_ids and not lm.reserved[filled.middle_ids].any()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_settled_canvas_stops_after_k_plus_1_identical_argmax_canvases(favoured, k):
    """StableAndConfidentStoppingCriteria with stability k stops at the first step whose argmax canvas
    equals the k before it: here the argmax is the same from the first step, so at step k + 1."""
    engine = favoured(106)
    engine.sampler = dataclasses.replace(engine.sampler, stability_threshold=k, confidence_threshold=1e9)
    assert infill(engine).steps == k + 1


@pytest.mark.parametrize("k", [0, 1, 2])
def test_the_stop_agrees_with_transformers_class_step_by_step(real, k):
    from transformers.models.diffusion_gemma.generation_diffusion_gemma import StableAndConfidentStoppingCriteria

    from engine.serve.denoise import Batch, Row, StableAndConfident
    from engine.serve.kvcache import encode_context

    lm = real.lm
    (layout,) = real.layouts(p.infill_request("t", PREFIX, SUFFIX, max_tokens=24), PREFIX)
    cache, _ = encode_context(lm.model, layout.encoder_ids, real.store)
    batch = Batch(lm, [Row(layout, cache), Row(layout, cache)])
    ours = StableAndConfident(dataclasses.replace(real.sampler, stability_threshold=k, confidence_threshold=1e9), batch)
    stock = StableAndConfidentStoppingCriteria(stability_threshold=k, confidence_threshold=1e9)
    gen = torch.Generator().manual_seed(k)
    canvas = torch.randint(0, 50, (2, CANVAS), generator=gen)
    idx = torch.tensor([0, 1])
    for _ in range(12):
        # Each row changes one slot now and then, so runs of identical canvases of every length occur.
        change = torch.rand(2, generator=gen) < 0.4
        canvas = canvas.clone()
        canvas[change, torch.randint(0, CANVAS, (1,), generator=gen)] += 1
        want = stock(canvas, torch.zeros(2, CANVAS, 8))
        assert torch.equal(ours(idx, canvas, torch.zeros(2, CANVAS)), want)


def test_status_reports_the_layout_and_the_sampler(real):
    status = real.status()
    assert status.layout == CHAT_LAYOUT
    assert {k: status.sampler[k] for k in ("order", "max_steps", "entropy_bound", "t_min", "t_max",
                                            "stability_threshold", "confidence_threshold")} == dict(
        order="entropy_bound", max_steps=48, entropy_bound=0.1, t_min=0.4, t_max=0.8, stability_threshold=1,
        confidence_threshold=0.005)


@pytest.fixture(scope="module")
def ending_dir(tmp_path_factory):
    """A real-shaped checkpoint whose model ends every middle at once (<turn|> favoured): the daemon
    and the CLI serve it in a few steps."""
    path = real_shaped.build(tmp_path_factory.mktemp("ending") / "diffusiongemma-mini", favoured=106)
    (path / "dg.json").write_text(json.dumps({"canvases": [CANVAS]}))
    return path


def test_the_daemon_serves_it_and_reports_its_layout_and_sampler(ending_dir, tmp_path):
    sock = tmp_path / "engine.sock"
    log = tmp_path / "engine.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", str(ending_dir), "--socket",
                                 str(sock), "--idle-exit", "120"], stdout=out, stderr=subprocess.STDOUT)
    try:
        client = EngineClient(sock, autostart=False, timeout=120)
        client.wait_ready(timeout=180)
        result = client.infill(PREFIX, SUFFIX, max_tokens=24)
        assert (result.text, result.ended) == ("", True)
        status = client.status()
        assert (status.model, status.layout, status.sampler["max_steps"]) == ("diffusiongemma-mini", CHAT_LAYOUT, 48)
        client.shutdown()
        assert proc.wait(timeout=120) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_dg_infill_in_process_loads_it_and_traces_what_it_sees(ending_dir, tmp_path):
    source = tmp_path / "area.py"
    source.write_text(PREFIX + "<FILL>" + SUFFIX)
    out = subprocess.run([sys.executable, "-m", "batch_cli", "--in-process", "--model", str(ending_dir), "--trace",
                          str(source)], capture_output=True, text=True, timeout=600)
    records = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 1, out.stdout + out.stderr
    # The model ends the middle at once: the hole is left, saying why, and the run says some were left.
    assert out.returncode == 1 and records[0]["file"].endswith("area.py"), out.stdout + out.stderr
    assert records[0]["prompt"].startswith("<bos><|turn>user\n") and ChatLayout.MARK in records[0]["prompt"]
    assert records[0]["canvas"] == GAP_SHOWN * CANVAS


def test_a_trace_of_dg_tiny_shows_its_separator_and_flanks(engine):
    from engine.serve.engine import Job

    prefix, suffix = "def area(width, height):\n    return wid", "\n\nprint(area(2, 3))\n"
    (result,) = engine.run([Job(p.infill_request("t", prefix, suffix, max_tokens=8, trace=True))])
    prompt, canvas = result.trace["prompt"], result.trace["canvas"]
    assert "<sep>" in prompt and prompt.endswith("def area(width, height):\n")
    left, right = canvas.split(GAP_SHOWN)[0], canvas.split(GAP_SHOWN)[-1]
    # The cursor line in the left flank (backed up by token healing), the suffix's head in the right.
    assert left.startswith("    return w") and prefix.startswith(prompt.split("<sep>")[-1] + left)
    assert right and suffix.startswith(right) and canvas == left + GAP_SHOWN * canvas.count(GAP_SHOWN) + right
    (untraced,) = engine.run([Job(p.infill_request("u", prefix, suffix, max_tokens=8))])
    assert untraced.trace is None


def test_the_gpu_smoke_script_runs_small_on_a_cpu():
    out = subprocess.run([sys.executable, "-m", "bench.gpu_smoke", "--shape", "tiny", "--device", "cpu", "--steps",
                          "1", "--runs", "1", "--rows", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    table = [line.split() for line in out.stdout.splitlines() if line.strip()[:3] in ("64 ", "256")]
    assert [row[0] for row in table] == ["64", "256"] and "roofline:" in out.stdout
