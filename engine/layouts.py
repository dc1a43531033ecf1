"""The two layouts a model can be served with, behind one interface: what goes into the encoder
prompt, what the canvas holds, and which tokens end the middle. The spec names one (engine/spec.py).

    sep  (dg-tiny's):  encoder [far suffix] <sep> [far prefix]; canvas [left flank][gap][right flank];
                       <eoi> ends the middle.
    chat (a chat checkpoint's, such as the released DiffusionGemma): the file context, with MARK where
                       the gap is, in an instruction rendered through the checkpoint's own chat
                       template; the canvas continues right after the prompt, [left flank][gap][right
                       flank] with flanks only where the model's budget pins them (none by default);
                       any of the config's eos ids (<eos>, <turn|>, ...) ends the middle.

Pure Python (jinja2 renders the template): no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.canvas import Layout, fit, layout_for, sized, split_context
from engine.modeldir import ModelDirError
from engine.spec import CHAT_LAYOUT, SEP_LAYOUT, ModelSpec

GAP_SHOWN = "·"  # a gap slot in a trace's starting canvas

Encode = Callable[[str], list[int]]


class SepLayout:
    name = SEP_LAYOUT

    def __init__(self, encode: Encode, spec: ModelSpec, sep_id: int, eoi_id: int | None):
        self.encode, self.spec, self.sep_id = encode, spec, sep_id
        self.end_ids = () if eoi_id is None else (eoi_id,)

    def layouts(self, prefix: str, suffix: str, gap_tokens: int) -> list[Layout]:
        """One layout when the model marks the middle's end, else a few gap lengths to rank."""
        spec = self.spec
        if self.end_ids:
            return [layout_for(self.encode, self.sep_id, prefix, suffix, gap_tokens, spec.canvases, spec.budget)]
        context = split_context(self.encode, self.sep_id, prefix, suffix, spec.budget)
        gaps = sorted({max(4, gap_tokens // 4), max(4, gap_tokens // 2), gap_tokens})
        return [fit(context, len(context.left_flank) + len(context.right_flank) + g) for g in gaps]


class ChatLayout:
    name = CHAT_LAYOUT
    MARK = "<MISSING>"
    # No infill recipe has been published for the released checkpoint; this instruction is a first
    # guess, to be measured (bench.humaneval_infill --layout) against the sep layout on real weights.
    INSTRUCTION = ("Write the code that belongs where {mark} stands in the file below. Reply with that code "
                   "only: no explanation, no code fence.\n\n{file}")
    _FILE = "\x00file\x00"  # where the file's tokens go in the rendered prompt

    def __init__(self, encode: Encode, spec: ModelSpec, end_ids: tuple[int, ...], encode_control: Encode):
        """`encode` tokenizes the file's text as text, even where it spells a control token ("<turn|>");
        `encode_control` tokenizes the rendered template, whose control tokens are meant."""
        self.encode, self.spec, self.end_ids = encode, spec, end_ids
        head, tail = render_around(spec.chat_template, spec.bos_token,
                                   self.INSTRUCTION.format(mark=self.MARK, file=self._FILE), self._FILE)
        # Encoded apart from the file: the prompt's head is the same tokens for every request, so its
        # encoder cache is shared.
        self.head_ids, self.tail_ids, self.mark_ids = encode_control(head), encode_control(tail), encode(self.MARK)

    def layouts(self, prefix: str, suffix: str, gap_tokens: int) -> list[Layout]:
        return [sized(lambda budget: self.context(prefix, suffix, budget), gap_tokens, self.spec.canvases,
                      self.spec.budget)]

    def context(self, prefix: str, suffix: str, budget) -> Layout:
        """The prompt: the template around the instruction, the file's tokens in it with MARK at the gap
        (flank tokens included: the file reads whole); the flanks as the budget pins them."""
        split = split_context(self.encode, -1, prefix, suffix, budget)
        cut = split.encoder_ids.index(-1)
        far_suffix, far_prefix = split.encoder_ids[:cut], split.encoder_ids[cut + 1 :]
        file_ids = [*far_prefix, *split.left_flank, *self.mark_ids, *split.right_flank, *far_suffix]
        return Layout(encoder_ids=[*self.head_ids, *file_ids, *self.tail_ids], left_flank=split.left_flank,
                      gap_length=0, right_flank=split.right_flank)


def render_around(template: str, bos_token: str, content: str, placeholder: str) -> tuple[str, str]:
    """The chat template rendered for one user message, `content`, and the generation prompt (thinking
    off), split where `placeholder` stands in it."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    try:
        text = env.from_string(template).render(messages=[{"role": "user", "content": content}],
                                                bos_token=bos_token, add_generation_prompt=True,
                                                enable_thinking=False)
    except Exception as exc:  # noqa: BLE001 - a template's own errors come in any type
        raise ModelDirError(f"the checkpoint's chat template does not render a user message: {exc}") from None
    if text.count(placeholder) != 1:
        raise ModelDirError("the checkpoint's chat template does not show a user message's text once")
    head, tail = text.split(placeholder)
    return head, tail


def _raise(message: str):
    raise ValueError(message)


def trace(layout: Layout, decode_all: Callable[[Sequence[int]], str]) -> dict:
    """What the model sees: the encoder prompt as text (control tokens shown) and the starting canvas,
    its flanks in clear and each gap slot as GAP_SHOWN."""
    return dict(prompt=decode_all(layout.encoder_ids),
                canvas=decode_all(layout.left_flank) + GAP_SHOWN * layout.gap_length + decode_all(layout.right_flank))
