"""A file's holes turned into engine requests, and the engine's answers turned into the file's new text.

Every hole is opened before any request is built, so no request sees another hole's marker. The
answers are applied from the last hole to the first, each checked for parse errors against the
text as it stands with the holes below it filled, so offsets never shift under a later hole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from batch_cli.holes import Fill, Hole, close_holes, open_holes
from batch_cli.textfile import TextFile, with_newlines
from engine.protocol import InfillResult
from infill import Completion, CompletionRequest, Document, Rejection, build_request
from infill.completion import EMPTY, LOW_CONFIDENCE, PARSE_ERROR, STALE, UNSUPPORTED_LANGUAGE
from infill.judge import judge, uncovered

# Hole statuses, as --json reports them: the judge's reasons (infill.completion), and the CLI's own.
FILLED = "filled"
UNENCODABLE = "unencodable"  # the completion has characters the file's encoding lacks
NO_GAP = "no_gap"  # no completion makes sense at this place (inside a word, say)
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
    STALE: "the file changed while the model worked",
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
    trace: dict | None = None  # what the model saw, when asked for (--trace)

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
    rejection = uncovered([language.name] if language else [], languages)
    if rejection is None:
        return
    for outcome, request in zip(file_plan.outcomes, file_plan.requests):
        if request is not None:
            _leave(outcome, rejection.reason, _describe(rejection))
    file_plan.requests = [None] * len(file_plan.requests)


def record_answer(outcome: Outcome, result: InfillResult) -> None:
    outcome.steps = result.steps
    outcome.confidence = result.mean_confidence
    outcome.token_confidences, outcome.token_ends = result.token_confidences, result.token_ends
    outcome.ms = result.ms
    outcome.trace = result.trace


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
        verdict = judge(request, answers[index], outcome.token_confidences, outcome.token_ends, document,
                        min_confidence, allow_parse_errors=allow_parse_errors)
        if not isinstance(verdict, Completion):
            _leave(outcome, verdict.reason, _describe(verdict), text=verdict.text)
            continue
        completion = verdict
        text = with_newlines(completion.text, file.newline)
        if not file.can_encode(text):
            _leave(outcome, UNENCODABLE, f"{MESSAGES[UNENCODABLE]} ({file.encoding})", text=text)
            continue
        document.apply_change(completion.start, completion.end, text)
        fills[index] = Fill(completion.start, completion.end, text)
        outcome.status, outcome.text, outcome.message = FILLED, text, ""
    file_plan.new_text = close_holes(file_plan.opened, file_plan.holes, file_plan.offsets, fills, file.text)


def _describe(rejection: Rejection) -> str:
    return MESSAGES[rejection.reason] + (f" ({rejection.detail})" if rejection.detail else "")


def _leave(outcome: Outcome, status: str, message: str | None = None, text: str | None = None) -> None:
    outcome.status, outcome.text = status, text
    outcome.message = message if message is not None else MESSAGES[status]


def mark_unwritten(file_plan: FilePlan, status: str, message: str) -> None:
    """The file could not be written: its filled holes are left after all."""
    for outcome in file_plan.outcomes:
        if outcome.filled:
            outcome.status, outcome.message = status, message
