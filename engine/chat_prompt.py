"""An infill as one chat message: the file around the gap, with the chat layout's mark where the gap
is, in the chat layout's own instruction (engine/layouts.py ChatLayout). The remote engine sends it
to an OpenAI-compatible server's /v1/chat/completions; vLLM renders it through the checkpoint's chat
template, which is the prompt the chat layout gives the model here, and dg-engine's HTTP API reads
it back into prefix and suffix. Pure Python: no torch.
"""

from __future__ import annotations

from engine.layouts import ChatLayout

MARK = ChatLayout.MARK
_HEAD, _TAIL = ChatLayout.INSTRUCTION.format(mark=MARK, file="\x00").split("\x00")


class NotAnInfill(ValueError):
    """A chat message that is not an infill in this format; the message says what it should be."""


def message(prefix: str, suffix: str) -> str:
    """The user message asking for the middle between `prefix` and `suffix`."""
    if MARK in prefix or MARK in suffix:
        # The model, and dg-engine reading the message back, could not tell which mark is the gap.
        raise NotAnInfill(f"the file around the gap contains {MARK}, which marks the gap in the prompt")
    return f"{_HEAD}{prefix}{MARK}{suffix}{_TAIL}"


def read(content: str) -> tuple[str, str]:
    """The prefix and suffix that `message` put into `content`."""
    file = content.removeprefix(_HEAD) if content.startswith(_HEAD) and content.endswith(_TAIL) else None
    if file is not None and _TAIL:
        file = file[: -len(_TAIL)]
    if file is None or file.count(MARK) != 1:
        raise NotAnInfill(f"this server fills gaps: send one user message, the instruction {_HEAD.split(chr(10))[0]!r}"
                          f" followed by the file with {MARK} once, where the gap is (as dg-lsp's remote engine does)")
    prefix, suffix = file.split(MARK)
    return prefix, suffix
