"""The training recipe on the real packaged model and tokenizer: example layout, loss weights, a step."""

import json
import random

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tokenizers import Tokenizer

from engine.canvas import EOI, PAD
from engine.serve.textonly import TextOnlyDiffusionGemma
from training import train

SOURCE = '''import os


def walk(root):
    """Yield every file under root."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            yield os.path.join(dirpath, name)


def count(root):
    total = 0
    for _ in walk(root):
        total += 1
    return total


class Tree:
    def __init__(self, root):
        self.root = root

    def size(self):
        return count(self.root)
'''


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus") / "train.jsonl"
    corpus.write_text("\n".join(json.dumps({"text": SOURCE * k}) for k in (1, 2, 3)))
    tokenizer = Tokenizer.from_file(str(train.PACKAGED / "tokenizer.json"))
    return train.Examples(corpus, tokenizer, seed=0)


def test_infill_examples_hold_the_middle_then_eoi_then_filler(examples):
    sizes = set()
    for _ in range(60):
        layout, canvas, kind = examples.draw("infill")
        sizes.add(len(canvas))
        gap = canvas[layout.gap_start : layout.gap_stop]
        end = gap.index(examples.eoi)
        assert end > 0 and all(t == examples.pad for t in gap[end + 1 :])
        assert canvas[: layout.gap_start] == layout.left_flank and canvas[layout.gap_stop :] == layout.right_flank
    assert sizes == set(train.CANVASES)


def test_loss_weights_skip_flanks_and_discount_filler_and_intact_positions(examples):
    batch_examples = [examples.draw("infill") for _ in range(4)] + [examples.draw("window") for _ in range(4)]
    batch = train.collate(batch_examples, random.Random(0), examples.pad, 8192, examples.eoi)
    k = train.CANVASES_PER_CONTEXT
    for row, (layout, canvas, kind) in enumerate(batch_examples):
        for j in range(k):
            w = batch["weight"][row * k + j].tolist()
            noised = batch["noised"][row * k + j].tolist()
            for i, token in enumerate(canvas):
                if kind == "window":
                    want = 1.0 if noised[i] else train.CLEAN_WEIGHT
                elif not layout.gap_start <= i < layout.gap_stop:
                    want = 0.0
                else:
                    want = (1.0 if noised[i] else train.CLEAN_WEIGHT) * (train.PAD_WEIGHT if token == examples.pad
                                                                            else 1.0)
                assert w[i] == pytest.approx(want)


def test_a_training_step_lowers_the_loss_on_its_batch(examples):
    torch.manual_seed(0)
    model = TextOnlyDiffusionGemma.from_pretrained(train.PACKAGED, dtype=torch.float32)
    batch = train.collate([examples.draw() for _ in range(4)], random.Random(1), examples.pad,
                          model.config.text_config.vocab_size, examples.eoi)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with torch.no_grad():
        _, parts = train.forward_losses(model, batch, self_condition=True)
    assert all(torch.isfinite(torch.tensor(v)) for v in parts.values())
    before, _ = train.forward_losses(model, batch, self_condition=False)
    before.backward()
    opt.step()
    with torch.no_grad():
        after, _ = train.forward_losses(model, batch, self_condition=False)
        again, _ = train.forward_losses(model, batch, self_condition=False)
    assert after.item() < before.item()
    assert after.item() == pytest.approx(again.item())


def test_compiled_layers_train_as_the_eager_ones_do(examples):
    from engine.serve.compiled import compile_layers

    eager = TextOnlyDiffusionGemma.from_pretrained(train.PACKAGED, dtype=torch.float32)
    compiled = TextOnlyDiffusionGemma.from_pretrained(train.PACKAGED, dtype=torch.float32)
    compile_layers(compiled)
    batch = train.collate([examples.draw() for _ in range(4)], random.Random(2), examples.pad,
                          eager.config.text_config.vocab_size, examples.eoi)
    losses = []
    for model in (eager, compiled):
        loss, _ = train.forward_losses(model, batch, self_condition=True)
        loss.backward()
        losses.append(loss.item())
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    for (name, a), b in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-3, atol=1e-5, msg=name)


def test_the_specials_the_canvas_needs_are_in_the_tokenizer():
    tokenizer = Tokenizer.from_file(str(train.PACKAGED / "tokenizer.json"))
    assert tokenizer.token_to_id(EOI) is not None and tokenizer.token_to_id(PAD) is not None


def test_the_fused_loss_equals_softcap_then_cross_entropy():
    torch.manual_seed(0)
    logits = (torch.randn(37, 64) * 40).to(torch.bfloat16).requires_grad_()
    targets = torch.randint(0, 64, (37,))
    ce, argmax = train.softcapped_cross_entropy(logits, targets, 30.0)
    capped = torch.tanh(logits.float() / 30.0) * 30.0
    want = torch.nn.functional.cross_entropy(capped, targets, reduction="none")
    torch.testing.assert_close(ce, want)
    assert torch.equal(argmax, capped.argmax(-1))
    (got_grad,) = torch.autograd.grad(ce.sum(), logits)
    (want_grad,) = torch.autograd.grad(want.sum(), logits)
    torch.testing.assert_close(got_grad.float(), want_grad.float(), atol=1e-4, rtol=1e-2)  # bfloat16 rounding


@given(st.text(alphabet="ab \n", max_size=30))
def test_line_starts_are_every_line_start_but_the_end_of_the_text(text):
    want = [0] + [i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < len(text)]
    assert list(train.line_starts(text)) == want


def test_left_to_right_states_noise_every_gap_slot_right_of_a_cut_in_the_middle(examples):
    infill = [examples.draw("infill") for _ in range(6)]
    batch = train.collate(infill, random.Random(3), examples.pad, 8192, examples.eoi,
                          levels=[None] * len(infill) * train.CANVASES_PER_CONTEXT)
    k = train.CANVASES_PER_CONTEXT
    for row, (layout, canvas, _) in enumerate(infill):
        end = canvas.index(examples.eoi, layout.gap_start)
        for j in range(k):
            noised = batch["noised"][row * k + j].tolist()
            cut = noised.index(True)
            assert layout.gap_start <= cut <= end
            assert noised == [cut <= i < layout.gap_stop for i in range(len(canvas))] + [False] * (len(noised) - len(canvas))


def test_a_draft_step_trains_on_the_first_passs_argmax_in_the_noised_slots(examples, monkeypatch):
    model = TextOnlyDiffusionGemma.from_pretrained(train.PACKAGED, dtype=torch.float32)
    infill = [examples.draw("infill") for _ in range(3)]
    batch = train.collate(infill, random.Random(4), examples.pad, model.config.text_config.vocab_size, examples.eoi,
                          levels=[None] * len(infill) * train.CANVASES_PER_CONTEXT)
    seen = []
    forward = type(model.model).forward

    def spy(self, *args, **kwargs):
        seen.append((kwargs["decoder_input_ids"].clone(), kwargs.get("self_conditioning_logits")))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(model.model), "forward", spy)
    with torch.no_grad():
        train.forward_losses(model, batch, self_condition=False, draft=True)
    (first, no_logits), (second, logits) = seen
    assert no_logits is None and logits is not None
    assert torch.equal(first, batch["noisy"])
    noised = batch["noised"]
    assert torch.equal(second[~noised], batch["noisy"][~noised])
    assert torch.equal(second[noised], logits.argmax(-1)[noised])
