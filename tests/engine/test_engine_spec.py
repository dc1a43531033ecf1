"""The model spec (engine/spec.py): what a model directory says about serving it, with clear errors."""

import json

import pytest

from engine import DEFAULT_MODEL_DIR
from engine.modeldir import ModelDirError
from engine.spec import ENTROPY_BOUND, LARGE_MODEL_BUDGET, LEFT_TO_RIGHT, ModelSpec


def test_the_embedded_model_declares_its_layout_order_languages_and_defaults():
    spec = ModelSpec.read(DEFAULT_MODEL_DIR)
    assert (spec.name, spec.order, spec.languages) == ("dg-tiny", LEFT_TO_RIGHT, ("python",))
    assert spec.canvases == (32, 64) and spec.budget.encoder_prefix > 0
    assert spec.min_confidence is not None and spec.max_lines is not None
    assert spec.training["step"] > 0


def test_a_stock_checkpoint_gets_diffusiongemmas_order_and_no_defaults_of_its_own(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"canvas_length": 256}))
    spec = ModelSpec.read(tmp_path)
    assert (spec.name, spec.order, spec.canvases, spec.budget) == (tmp_path.name, ENTROPY_BOUND, (256,),
                                                                  LARGE_MODEL_BUDGET)
    assert (spec.languages, spec.min_confidence, spec.max_lines) == ((), None, None)


def test_write_then_read_is_the_same_spec(tmp_path):
    spec = ModelSpec.read(DEFAULT_MODEL_DIR)
    spec.write(tmp_path)
    assert ModelSpec.read(tmp_path) == spec


@pytest.mark.parametrize(("fields", "says"), [
    ({"order": "sideways"}, "unknown denoising order 'sideways'"),
    ({"min_confidence": 1.5}, "min_confidence must be from 0 to 1"),
    ({"max_lines": 0}, "max_lines must be at least 1"),
    ({"canvases": "many"}, "a field has the wrong type"),
])
def test_a_dg_json_that_cannot_work_is_refused_in_one_line(tmp_path, fields, says):
    (tmp_path / "dg.json").write_text(json.dumps(fields))
    with pytest.raises(ModelDirError, match=says):
        ModelSpec.read(tmp_path)


def test_a_dg_json_that_is_not_json_is_refused(tmp_path):
    (tmp_path / "dg.json").write_text("{")
    with pytest.raises(ModelDirError, match="dg.json is not valid JSON"):
        ModelSpec.read(tmp_path)
