"""The wire protocol between engine clients and the daemon: every message is defined here.

Transport: newline-delimited JSON objects over a Unix socket (or loopback TCP with a shared token).
Requests carry text, never token ids: the daemon owns the tokenizer. Replies carry the request id
and may arrive out of order, so one connection can have many requests in flight.

    -> {"op": "infill", "id": "7", "doc": "file:///a.py", "prefix": "...", "suffix": "...",
        "max_tokens": 24, "deadline_ms": 2000}
    <- {"id": "7", "ok": true, "result": {"text": "...", "steps": 6, ...}}
    <- {"id": "7", "ok": false, "error": {"code": "superseded", "message": "..."}}

No torch here: the LSP server and the CLI import this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_GAP_TOKENS = 256
# An infill request's `word_ends`: how many, how long, and of what (a word's end is spelled in ASCII here, so
# that every client and the engine agree on where a word ends).
MAX_WORD_ENDS = 32
MAX_WORD_LENGTH = 128
WORD_END = re.compile(r"[A-Za-z0-9_]*")

# Error codes. A reply carries one of the first nine; a client raises the last two itself, when no
# reply comes.
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
UNAUTHORIZED = "unauthorized"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"
DEADLINE = "deadline"
SHUTTING_DOWN = "shutting_down"
LOAD_FAILED = "load_failed"  # the model could not be loaded; the daemon stays up to say so
INTERNAL = "internal"
UNAVAILABLE = "unavailable"  # no daemon answers at the address, and none could be started
TIMEOUT = "timeout"  # the daemon took the request and did not answer in time
CODES = frozenset({BAD_REQUEST, TOO_LARGE, UNAUTHORIZED, CANCELLED, SUPERSEDED, DEADLINE, SHUTTING_DOWN,
                   LOAD_FAILED, INTERNAL, UNAVAILABLE, TIMEOUT})
# No answer came at all: a run that depends on the engine stops, rather than leaving each request.
UNREACHABLE = frozenset({UNAVAILABLE, TIMEOUT})


class EngineError(Exception):
    """The one error of the engine's side, from the daemon, its clients and the in-process engine.
    `code` is one of CODES; str() is the message for people, without the code."""

    def __init__(self, code: str, message: str):
        if code not in CODES:
            raise ValueError(f"undeclared engine error code {code!r}")
        super().__init__(message)
        self.code = code

    @property
    def unreachable(self) -> bool:
        return self.code in UNREACHABLE


@dataclass(frozen=True)
class InfillRequest:
    id: str
    prefix: str
    suffix: str
    max_tokens: int
    doc: str = ""
    deadline_ms: int | None = None
    max_lines: int | None = None  # the middle ends after this many lines (None: where the model ends it)
    # The client shows the middle only as far as its joint probability reaches this (its judge's
    # gate), so orders that write from the left stop there rather than spend steps on what nobody sees.
    gate: float | None = None
    # The ways the word the cursor is in may end, from the words the client's document spells: the middle
    # starts with one of them, then a character that cannot continue a word (anything but a letter, a digit
    # or "_"), or ends. Empty: the middle is free. Orders that write from the left keep to it.
    word_ends: tuple[str, ...] = ()
    trace: bool = False  # the result carries what the model saw (InfillResult.trace)


@dataclass(frozen=True)
class InfillResult:
    text: str
    steps: int
    tokens_per_forward: float
    mean_confidence: float
    min_confidence: float
    token_confidences: list[float] = field(default_factory=list)
    # Where each token's text ends in `text` (str offsets), in the order of token_confidences; a token
    # cut off by the line limit ends at len(text), and the end marker, which has no text, is not listed.
    token_ends: list[int] = field(default_factory=list)
    ended: bool = True  # the model marked where the middle ends (it did not run out of gap)
    cached_prefix: bool = False  # the encoder KV cache of this context was reused
    ms: float = 0.0
    # Asked for with the request's trace: {"prompt": the encoder prompt as text, control tokens shown;
    # "canvas": the starting canvas, its flanks in clear and each gap slot as "·"}.
    trace: dict | None = None


@dataclass(frozen=True)
class Status:
    model: str
    device: str
    dtype: str
    ready: bool
    queue_depth: int
    requests: int
    ms_per_step: float
    steps_per_infill: float
    cache_hit_rate: float
    uptime_s: float
    pid: int
    # torch.compile'd layers serve (they replace the eager ones once warm). A default, so that a
    # client still reads the status of a daemon started before the field existed.
    compiled: bool = False
    # The languages the model was trained on (its spec, engine/spec.py); empty: it claims any.
    languages: list[str] = field(default_factory=list)
    # The front ends' defaults calibrated on this model (its spec); None: it has none.
    min_confidence: float | None = None
    max_lines: int | None = None
    # Why the model failed to load ("" while it loads or once it is ready): a client stops waiting.
    error: str = ""
    # The daemon exits after this many seconds without a client (None: it runs until stopped).
    idle_exit_s: float | None = None
    # The layout the model is served with (engine/layouts.py: "sep" or "chat") and the sampler in use
    # (its order, steps, temperatures, entropy bound and stop thresholds).
    layout: str = ""
    sampler: dict = field(default_factory=dict)
    # The share of the prefix KV cache's bound its contexts take: memory grows while it fills, then holds.
    cache_fill: float = 0.0

    @property
    def settled(self) -> bool:
        """Ready, and serving the model it will keep serving: on a CPU, the compiled copy."""
        return self.ready and (self.compiled or self.device != "cpu")


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def request_message(op: str, id: str, **fields) -> dict:
    return {"op": op, "id": id, **fields}


def ok(id: str | None, result) -> dict:
    return {"id": id, "ok": True, "result": asdict(result) if hasattr(result, "__dataclass_fields__") else result}


def error(id: str | None, code: str, message: str) -> dict:
    return {"id": id, "ok": False, "error": {"code": code, "message": message}}


def decode(line: bytes) -> dict:
    """Parse one request line; raise EngineError with a code fit for the reply."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise EngineError(TOO_LARGE, f"message of {len(line)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        msg = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EngineError(BAD_REQUEST, f"not a JSON object: {exc}") from None
    except RecursionError:
        raise EngineError(BAD_REQUEST, "not a JSON object: nested too deeply") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
        raise EngineError(BAD_REQUEST, "a message is a JSON object with a string 'op'")
    return msg


def infill_fields(prefix: str, suffix: str, *, max_tokens: int, doc: str = "", deadline_ms: int | None = None,
                  max_lines: int | None = None, gate: float | None = None, word_ends: Sequence[str] = (),
                  trace: bool = False) -> dict:
    """An infill request's fields as every client sends them. The gap is clamped to the wire's limit
    here, once: a block of many lines may ask for more than a gap holds, and gets what fits. `word_ends`
    and `trace` are sent only when there are some."""
    return dict(prefix=prefix, suffix=suffix, max_tokens=max(1, min(max_tokens, MAX_GAP_TOKENS)), doc=doc,
                deadline_ms=deadline_ms, max_lines=max_lines, gate=gate,
                **({"word_ends": list(word_ends)} if word_ends else {}), **({"trace": True} if trace else {}))


def infill_request(id: str, prefix: str, suffix: str, **fields) -> InfillRequest:
    """The request a client would send, for an engine in the same process: clamped and validated as
    the daemon would (EngineError otherwise)."""
    return parse_infill(dict(id=id, **infill_fields(prefix, suffix, **fields)))


def parse_infill(msg: dict) -> InfillRequest:
    try:
        req = InfillRequest(
            id=str(msg["id"]),
            prefix=msg["prefix"],
            suffix=msg.get("suffix", ""),
            max_tokens=int(msg.get("max_tokens", 24)),
            doc=str(msg.get("doc", "")),
            deadline_ms=None if msg.get("deadline_ms") is None else int(msg["deadline_ms"]),
            max_lines=None if msg.get("max_lines") is None else int(msg["max_lines"]),
            gate=None if msg.get("gate") is None else float(msg["gate"]),
            word_ends=tuple(msg.get("word_ends", ())) if isinstance(msg.get("word_ends", []), list) else None,
            trace=msg.get("trace", False),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(1e400)
        raise EngineError(BAD_REQUEST, f"bad infill request: {exc!r}") from None
    if not isinstance(req.prefix, str) or not isinstance(req.suffix, str):
        raise EngineError(BAD_REQUEST, "prefix and suffix must be strings")
    if not 1 <= req.max_tokens <= MAX_GAP_TOKENS:
        raise EngineError(BAD_REQUEST, f"max_tokens must be within 1..{MAX_GAP_TOKENS}")
    if req.max_lines is not None and req.max_lines < 1:
        raise EngineError(BAD_REQUEST, "max_lines must be at least 1")
    if req.gate is not None and not 0.0 <= req.gate <= 1.0:
        raise EngineError(BAD_REQUEST, "gate must be from 0 to 1")
    if req.word_ends is None or len(req.word_ends) > MAX_WORD_ENDS or not all(
            isinstance(end, str) and len(end) <= MAX_WORD_LENGTH and WORD_END.fullmatch(end) for end in req.word_ends):
        raise EngineError(BAD_REQUEST, f"word_ends must be at most {MAX_WORD_ENDS} strings of at most "
                                       f"{MAX_WORD_LENGTH} ASCII letters, digits and underscores")
    if not isinstance(req.trace, bool):
        raise EngineError(BAD_REQUEST, "trace must be true or false")
    return req


def first_lines(text: str, max_lines: int | None) -> str:
    """`text` through its `max_lines`-th newline, as a request's max_lines cuts a middle; the indentation
    a newline token carries for the next line goes with the rest."""
    if max_lines is None:
        return text
    end = -1
    for _ in range(max_lines):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    return text[: end + 1]


def result_from_dict(d: dict) -> InfillResult:
    return InfillResult(**{k: v for k, v in d.items() if k in InfillResult.__dataclass_fields__})


def status_from_dict(d: dict) -> Status:
    return Status(**{k: v for k, v in d.items() if k in Status.__dataclass_fields__})


def runtime_dir() -> Path:
    """A per-user directory only its owner can enter (mode 0700)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"dg-lsp-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to another user")
    path.chmod(0o700)
    return path


TOKEN_ENV = "DG_ENGINE_TOKEN"


def token_from(token: str | None = None, token_file: str | os.PathLike | None = None) -> str | None:
    """The token given, else the token file's, else $DG_ENGINE_TOKEN's; None when there is none. OSError
    when the token file cannot be read: the caller says so in its own terms."""
    if token:
        return token
    if token_file:
        return Path(token_file).expanduser().read_text().strip() or None
    return os.environ.get(TOKEN_ENV) or None


def token_file(host: str, port: int) -> Path:
    """Where a TCP daemon leaves its token for local clients: one file per address, so that two
    daemons never overwrite each other's."""
    return runtime_dir() / f"engine-tcp-{host.replace(':', '_')}-{port}.token"


def default_socket(model_dir: str | os.PathLike) -> Path:
    """One daemon per model: the socket name carries a hash of the resolved model directory."""
    key = hashlib.sha1(str(Path(model_dir).resolve()).encode()).hexdigest()[:10]
    return runtime_dir() / f"engine-{key}.sock"
