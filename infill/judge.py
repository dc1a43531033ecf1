"""The judge every front end calls: a model answer -> the completion to show, or None.

The confidence gate picks the part of the answer confident enough to show.

A small model is often sure of how a line goes on for a few tokens and unsure after that
(finishing an identifier or a call is easier than guessing the whole line). So the gate keeps the
longest run of leading tokens whose confidence reaches the threshold, and the judge tries it and a
few shorter cuts at token boundaries until post-processing accepts one (a cut inside a call may
leave a bracket open that a shorter cut does not). The threshold is calibrated per model on
held-out typing (`bench.typing`; the figures are in infill/settings.py and the model card).
"""

from __future__ import annotations

from infill.completion import Completion, postprocess
from infill.document import Document
from infill.request import CompletionRequest

# Cuts tried per answer, longest first: each costs a post-processing pass with its parse checks.
MAX_CUTS = 4


def confident_cuts(text: str, confidences: list[float], ends: list[int], threshold: float) -> list[str]:
    """The texts to try, longest first: `text` up to its first token below `threshold`, then up to
    each earlier token's end. Without token ends (an engine that does not report them) the answer
    is all or nothing on its least confident token."""
    if not ends:
        return [text] if min(confidences, default=0.0) >= threshold else []
    confident = 0
    for conf, _ in zip(confidences, ends):
        if conf < threshold:
            break
        confident += 1
    cuts = []
    for end in reversed(ends[:confident]):
        cut = text[:end]
        if cut.strip() and (not cuts or cut != cuts[-1]):
            cuts.append(cut)
        if len(cuts) == MAX_CUTS:
            break
    return cuts


def judge(request: CompletionRequest, text: str, confidences: list[float], ends: list[int], doc: Document | None,
          min_confidence: float) -> Completion | None:
    """The longest confident cut of the model's `text` that post-processing accepts, or None. A cut
    short of the whole answer is shown only as far as the model wrote it: one that post-processing would
    add to (closing a bracket the model left open, `append(` -> `append()`) gives way to a shorter one."""
    for cut in confident_cuts(text, confidences, ends, min_confidence):
        completion = postprocess(request, cut, doc)
        if completion is not None and (cut == text or cut.startswith(completion.text)):
            return completion
    return None
