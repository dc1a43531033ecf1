"""The judge every front end calls: a model answer -> the completion to show, or a rejection with
its reason. `uncovered` is the judgement made before the model is asked.

The confidence gate picks the part of the answer confident enough to show.

A small model is often sure of how a line goes on for a few tokens and unsure after that
(finishing an identifier or a call is easier than guessing the whole line). So the gate keeps the
longest run of leading tokens whose joint probability (the product of their confidences: each is
the model's probability of its token given those before it) reaches the threshold, and the judge
tries it and a few shorter cuts at token boundaries until post-processing accepts one (a cut inside
a call may leave a bracket open that a shorter cut does not). A suggestion is right only if all of
it is, so the whole cut is what the threshold judges: held out, at the same share of suggestions
shown, more of them were right than under a threshold on each token alone (the model card has the
figures). The threshold is calibrated per model on held-out typing (`bench.gate`, `bench.typing`),
and carried by the model's dg.json.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from infill.completion import EMPTY, LOW_CONFIDENCE, UNSUPPORTED_LANGUAGE, Completion, Rejection, postprocess
from infill.document import Document
from infill.filters.scan import lexicon
from infill.request import CompletionRequest

# Cuts tried per answer, longest first: each costs a post-processing pass with its parse checks.
MAX_CUTS = 4


def confident_cuts(text: str, confidences: list[float], ends: list[int], threshold: float) -> list[str]:
    """The texts to try, longest first: `text` up to its longest run of leading tokens whose joint
    probability reaches `threshold`, then up to each earlier token's end. Without token ends (an
    engine that does not report them) the answer is all or nothing on its joint probability."""
    if not ends:
        return [text] if (math.prod(confidences) if confidences else 0.0) >= threshold else []
    confident, probability = 0, 1.0
    for conf, _ in zip(confidences, ends):
        probability *= conf
        if probability < threshold:
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


def opens_bare_comment(cut: str, language: str) -> bool:
    """A cut that ends where a comment opens says that a comment comes, not what it says: typing held
    out, the default gate showed a lone `#` on indented blank lines."""
    lex = lexicon(language)
    tail = cut.rstrip()
    openers = (lex.line_comment, lex.block_comment[0] if lex.block_comment else None)
    return any(opener and tail.endswith(opener) for opener in openers)


def judge(request: CompletionRequest, text: str, confidences: list[float], ends: list[int], doc: Document | None,
          min_confidence: float, *, allow_parse_errors: bool = False) -> Completion | Rejection:
    """The longest confident cut of the model's `text` that post-processing accepts, or why there is
    none: the longest cut's own rejection. A cut short of the whole answer is shown only as far as the
    model wrote it: one that post-processing would add to (closing a bracket the model left open,
    `append(` -> `append()`) gives way to a shorter one."""
    cuts = confident_cuts(text, confidences, ends, min_confidence)
    if not cuts:
        # The first token that writes text: a healed one re-writes what the file already holds.
        first = next((c for c, end in zip(confidences, ends) if end > 0), min(confidences, default=0.0))
        if first >= min_confidence:
            return Rejection(EMPTY)  # confident, and only blanks
        return Rejection(LOW_CONFIDENCE, f"{first:.2f} < {min_confidence:.2f}")
    rejection = None
    for cut in cuts:
        if opens_bare_comment(cut, request.language):
            continue
        verdict = postprocess(request, cut, None if allow_parse_errors else doc)
        if isinstance(verdict, Completion):
            if cut == text or cut.startswith(verdict.text):
                return verdict
        elif rejection is None:
            rejection = verdict
    return rejection or Rejection(EMPTY)


def uncovered(names: Iterable[str], declared: Sequence[str]) -> Rejection | None:
    """Refuse a document whose language the model does not declare, before the model is asked: it
    would write another language's code. `names` are the document's language names (an editor's id,
    the grammar's name); a model that declares none claims any."""
    if not declared or {name.lower() for name in names} & {name.lower() for name in declared}:
        return None
    return Rejection(UNSUPPORTED_LANGUAGE, f"it covers {', '.join(declared)}")
