"""A file's holes turned into engine requests, and the engine's answers turned into the file's new text.

Every hole is opened before any request is built, so no request sees another hole's marker. The
answers are applied from the last hole to the first, each checked for parse errors against the
text as it stands with the holes below it filled, so offsets never shift under a later hole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from engine.protocol import InfillResult
from infill import CompletionRequest, Document, build_request, postprocess
from infill.judge import confident_cuts, judge
from infill.batch.holes import Fill, Hole, close_holes, open_holes
from infill.batch.textfile import TextFile, with_newlines

# Hole statuses, as --json reports them.
FILLED = "filled"
EMPTY = "empty"  # post-processing left nothing worth inserting
PARSE_ERROR = "parse_error"  # the completion would make the file fail to parse
LOW_CONFIDENCE = "low_confidence"
UNENCODABLE = "unencodable"  # the completion has characters the file's encoding lacks
NO_GAP = "no_gap"  # no completion makes sense at this place (inside a word, say)
UNSUPPORTED_LANGUAGE = "unsupported_language"  # the model was not trained on the file's language
ENGINE_ERROR = "engine_error"
# Filled, but not written: the file changed on disk since it was read, or the write failed.
CHANGED = "changed"
WRITE_FAILED = "write_failed"

MESSAGES = {
    EMPTY: "the model's text was empty after post-processing",
    PARSE_ERROR: "the completion would make the file fail to parse (--allow-parse-errors writes it anyway)",
    LOW_CONFIDENCE: "the model's first token is less confident than --min-confidence",
    UNENCODABLE: "the completion has characters the file's encoding cannot hold",
    NO_GAP: "no completion makes sense here (inside a word or a line ending)",
    UNSUPPORTED_LANGUAGE: "the model was not trained on this file's language; --model a model that covers it",
}


@dataclass
class Outcome:
    hole: Hole
    status: str = EMPTY
    text: str | None = None
    steps: int = 0
    confidence: float | None = None  # the mean over the answer's tokens, for the report
    token_confidences: list[float] = field(default_factory=list)
    token_ends: list[int] = field(default_factory=list)
    ms: float = 0.0
    message: str = ""

    @property
    def filled(self) -> bool:
        return self.status == FILLED


@dataclass
class FilePlan:
    display: str  # the path as the user sees it
    file: TextFile
    holes: list[Hole]
    requests: list[CompletionRequest | None]
    opened: str
    offsets: list[int]
    document: Document
    outcomes: list[Outcome] = field(default_factory=list)
    new_text: str | None = None

    @property
    def uri(self) -> str:
        return self.file.path.resolve().as_uri()

    @property
    def changed(self) -> bool:
        return self.new_text is not None and self.new_text != self.file.text


def plan(display: str, file: TextFile, holes: list[Hole], *, max_lines: int | None) -> FilePlan:
    opened, offsets = open_holes(file.text, holes)
    document = Document(opened, path=str(file.path))
    requests: list[CompletionRequest | None] = []
    for index, offset in enumerate(offsets):
        # The editor's context budgets (build_request's defaults), so a hole is filled as in the editor.
        request = build_request(document, offset, max_lines=max_lines)
        following = offsets[index + 1] if index + 1 < len(offsets) else None
        if request is not None and following is not None and request.replace_end > following:
            # Two holes on one line: this one may overwrite blanks up to the next, not past it.
            request = dataclasses.replace(request, replace_end=following)
        requests.append(request)
    outcomes = [Outcome(hole) if request else Outcome(hole, NO_GAP, message=MESSAGES[NO_GAP])
                for hole, request in zip(holes, requests)]
    return FilePlan(display, file, holes, requests, opened, offsets, document, outcomes)


def leave_uncovered(file_plan: FilePlan, languages: tuple[str, ...]) -> None:
    """Leave every hole of a file whose language the model does not declare (none when it declares
    none)."""
    language = file_plan.document.language
    if not languages or (language is not None and language.name.lower() in {x.lower() for x in languages}):
        return
    for outcome, request in zip(file_plan.outcomes, file_plan.requests):
        if request is not None:
            _leave(outcome, UNSUPPORTED_LANGUAGE,
                   f"{MESSAGES[UNSUPPORTED_LANGUAGE]} (it covers {', '.join(languages)})")
    file_plan.requests = [None] * len(file_plan.requests)


def record_answer(outcome: Outcome, result: InfillResult) -> None:
    outcome.steps = result.steps
    outcome.confidence = result.mean_confidence
    outcome.token_confidences, outcome.token_ends = result.token_confidences, result.token_ends
    outcome.ms = result.ms


def compose(file_plan: FilePlan, answers: dict[int, str], *, min_confidence: float,
            allow_parse_errors: bool) -> None:
    """Post-process the model's text for each answered hole and set the file's new text.

    `answers` maps a hole's index to the model's raw text; each outcome already carries its steps
    and confidence.
    """
    document = file_plan.document
    file = file_plan.file
    fills: dict[int, Fill] = {}
    for index in sorted(answers, reverse=True):
        outcome, request = file_plan.outcomes[index], file_plan.requests[index]
        # The editor's judge: the answer up to its first token below the gate, cut shorter at token
        # boundaries until it is well-formed.
        cuts = confident_cuts(answers[index], outcome.token_confidences, outcome.token_ends, min_confidence)
        if not cuts:
            # The first token that writes text: a healed one re-writes what the file holds.
            first = next((c for c, end in zip(outcome.token_confidences, outcome.token_ends) if end > 0), 0.0)
            _leave(outcome, LOW_CONFIDENCE, f"{MESSAGES[LOW_CONFIDENCE]} ({first:.2f} < {min_confidence:.2f})")
            continue
        completion = judge(request, answers[index], outcome.token_confidences, outcome.token_ends, document,
                           min_confidence)
        if completion is None:
            unchecked = postprocess(request, cuts[0], None)
            if unchecked is None:
                _leave(outcome, EMPTY)
                continue
            if not allow_parse_errors:
                _leave(outcome, PARSE_ERROR, text=unchecked.text)
                continue
            completion = unchecked
        text = with_newlines(completion.text, file.newline)
        if not file.can_encode(text):
            _leave(outcome, UNENCODABLE, f"{MESSAGES[UNENCODABLE]} ({file.encoding})", text=text)
            continue
        document.apply_change(completion.start, completion.end, text)
        fills[index] = Fill(completion.start, completion.end, text)
        outcome.status, outcome.text, outcome.message = FILLED, text, ""
    file_plan.new_text = close_holes(file_plan.opened, file_plan.holes, file_plan.offsets, fills, file.text)


def _leave(outcome: Outcome, status: str, message: str | None = None, text: str | None = None) -> None:
    outcome.status, outcome.text = status, text
    outcome.message = message if message is not None else MESSAGES[status]


def mark_unwritten(file_plan: FilePlan, status: str, message: str) -> None:
    """The file could not be written: its filled holes are left after all."""
    for outcome in file_plan.outcomes:
        if outcome.filled:
            outcome.status, outcome.message = status, message
