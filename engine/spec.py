"""The model spec: what a model directory says about how to serve it, read once, without torch.

A checkpoint's `config.json` gives its canvas length. dg-tiny's models also carry `dg.json`: the
layout's budgets, the canvases it was trained on, the denoising order, the languages it knows and
the defaults calibrated on it (the confidence gate and max lines; the figures are in its model
card). A stock checkpoint has no `dg.json`: it gets DiffusionGemma's order, budgets for a model
trained on long contexts, and the front ends' generic defaults. The engine, the LSP server, the
CLI and training read models through `ModelSpec.read`; none of them reads `dg.json` by hand.

The layout (engine/layouts.py) is dg.json's "layout" when it names one; else what the checkpoint
contains decides: a chat template and a tokenizer without dg-tiny's `<sep>` (the released
DiffusionGemma) get the chat layout, anything else dg-tiny's separator layout.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.canvas import SEP, Budget
from engine.modeldir import ModelDirError

# The orders the engine can denoise in (engine/serve/denoise.py says what each does).
ENTROPY_BOUND, LEFT_TO_RIGHT, DRAFT = "entropy_bound", "left_to_right", "draft"
ORDERS = (ENTROPY_BOUND, LEFT_TO_RIGHT, DRAFT)
# The layouts (engine/layouts.py): dg-tiny's separator layout, and a chat checkpoint's.
SEP_LAYOUT, CHAT_LAYOUT = "sep", "chat"
LAYOUTS = (SEP_LAYOUT, CHAT_LAYOUT)
# Budgets for checkpoints that do not carry dg.json (DiffusionGemma was trained on long contexts).
LARGE_MODEL_BUDGET = Budget(encoder_suffix=512, encoder_prefix=2048, left_flank=32, right_flank=32)
# The released checkpoint was trained with nothing to the right of its canvas, and its reply starts the
# canvas: by default a chat layout pins no flank, and all the context is prompt text.
CHAT_BUDGET = Budget(encoder_suffix=512, encoder_prefix=2048, left_flank=0, right_flank=0)
DG_JSON = "dg.json"
# Fields that the tokenizer's files give; dg.json does not repeat them.
NOT_IN_DG_JSON = ("chat_template", "bos_token")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    budget: Budget
    canvases: tuple[int, ...]  # canvas lengths the model was trained on, the largest last
    order: str = ENTROPY_BOUND
    verify: int | None = None  # the draft order's verification rows per request
    languages: tuple[str, ...] = ()  # what it was trained on; empty: it claims any
    # Defaults calibrated on this model; None where it has none (the front ends' generic ones apply).
    min_confidence: float | None = None
    max_lines: int | None = None
    training: dict = field(default_factory=dict)  # the recipe's counters, so that training resumes the count
    layout: str = SEP_LAYOUT
    # From the tokenizer's files: the chat template (None: the checkpoint has none) and the text it
    # writes for <bos>. (The chat layout's end tokens are config.json's eos ids, read with the model.)
    chat_template: str | None = None
    bos_token: str = "<bos>"

    @classmethod
    def read(cls, path: Path, layout: str | None = None) -> ModelSpec:
        """The spec of the model in `path`, with `layout` instead of the model's own when given;
        ModelDirError, in one line, for a dg.json that cannot work."""
        path = Path(path)
        extra = _json_object(path / DG_JSON) if (path / DG_JSON).exists() else {}
        config = _json_object(path / "config.json") if (path / "config.json").exists() else {}
        template, bos = chat_template(path)
        layout = layout or extra.get("layout") or (CHAT_LAYOUT if template and not _knows(path, SEP) else SEP_LAYOUT)
        if layout not in LAYOUTS:
            raise ModelDirError(f"{path / DG_JSON}: unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
        if layout == CHAT_LAYOUT and not template:
            raise ModelDirError(f"the chat layout needs a chat template, and {path} has none "
                                f"(tokenizer_config.json or chat_template.jinja)")
        default_budget = CHAT_BUDGET if layout == CHAT_LAYOUT else LARGE_MODEL_BUDGET
        try:
            spec = cls(name=str(extra.get("name", path.name)),
                       budget=Budget.from_dict(extra["budget"]) if "budget" in extra else default_budget,
                       canvases=tuple(sorted(int(n) for n in extra.get("canvases", [config.get("canvas_length",
                                                                                                  256)]))),
                       order=str(extra.get("order", ENTROPY_BOUND)),
                       verify=None if extra.get("verify") is None else int(extra["verify"]),
                       languages=tuple(str(name) for name in extra.get("languages", ())),
                       min_confidence=None if extra.get("min_confidence") is None else float(extra["min_confidence"]),
                       max_lines=None if extra.get("max_lines") is None else int(extra["max_lines"]),
                       training=dict(extra.get("training", {})),
                       layout=layout, chat_template=template, bos_token=bos)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelDirError(f"{path / DG_JSON}: a field has the wrong type ({exc})") from None
        if spec.order not in ORDERS:
            raise ModelDirError(f"{path / DG_JSON}: unknown denoising order {spec.order!r} "
                                f"(known: {', '.join(ORDERS)})")
        if spec.min_confidence is not None and not 0.0 <= spec.min_confidence <= 1.0:
            raise ModelDirError(f"{path / DG_JSON}: min_confidence must be from 0 to 1, not {spec.min_confidence}")
        if spec.max_lines is not None and spec.max_lines < 1:
            raise ModelDirError(f"{path / DG_JSON}: max_lines must be at least 1, not {spec.max_lines}")
        return spec

    @property
    def own_recipe(self) -> bool:
        """Trained by this project's recipe (training/train.py; its dg.json carries the counters): served
        as it was trained and measured, where that differs from how transformers serves a stock checkpoint."""
        return bool(self.training)

    def write(self, path: Path) -> None:
        """Write dg.json into the model directory `path`."""
        fields = {k: v for k, v in asdict(self).items() if k not in NOT_IN_DG_JSON}
        fields["canvases"], fields["languages"] = list(self.canvases), list(self.languages)
        (Path(path) / DG_JSON).write_text(json.dumps({k: v for k, v in fields.items() if v is not None}, indent=1))


def _json_object(file: Path) -> dict:
    try:
        value = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ModelDirError(f"{file} is not a JSON object")
    return value


def chat_template(path: Path) -> tuple[str | None, str]:
    """The checkpoint's chat template (chat_template.jinja, else tokenizer_config.json's; None when it
    has none) and the text it writes for <bos>."""
    config_file = path / "tokenizer_config.json"
    config = _json_object(config_file) if config_file.exists() else {}
    bos = config.get("bos_token", "<bos>")
    bos = bos.get("content", "<bos>") if isinstance(bos, dict) else str(bos)
    if (path / "chat_template.jinja").is_file():
        return (path / "chat_template.jinja").read_text(), bos
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    return (template if isinstance(template, str) and template else None), bos


def _knows(path: Path, token: str) -> bool:
    """Whether the tokenizer in `path` has `token` as one token."""
    file = path / "tokenizer.json"
    if not file.exists():
        return False
    tokenizer = _json_object(file)
    added = {t.get("content") for t in tokenizer.get("added_tokens", ()) if isinstance(t, dict)}
    vocab = (tokenizer.get("model") or {}).get("vocab")
    return token in added or (isinstance(vocab, dict) and token in vocab)
