"""The HTTP APIs' bodies: llama.cpp's `/infill` and OpenAI's `/v1/completions` and
`/v1/chat/completions`, read into the wire protocol's infill request and written back from its
result. Pure: no aiohttp, no torch.

/infill (what llama.vim and llama.vscode send): `input_prefix`, `prompt` (the start of the middle,
which the cursor's line already holds), `input_suffix`, `input_extra` chunks, `n_predict`, `stop`,
`n_indent`, `response_fields`; llama.cpp's sampler fields are accepted and left to the model's own
sampler. `t_max_predict_ms` is llama.cpp's soft limit: once that long has passed since the model
began to write the middle, the middle ends at its next newline, with stop type "limit" (where the
order writes from the left; dg-tiny's does). The extra chunks go before the prefix, as llama.cpp puts
them: far context the layout keeps only where its prefix budget has room. A streamed answer's last
event carries an empty `content`, as llama.cpp's does: the text came in the events before it.

/v1/completions: `prompt` (one string) and `suffix`, `max_tokens`, `stop`, `echo`, `stream`; `n`
other than 1 and token-id prompts are refused, sampler fields are the model's own. A client that
sends no `suffix` but a prompt in one of the FIM formats of code models (Zed's edit predictions,
Continue's templates) gets it split back into prefix and suffix: dg has no FIM tokens, and would
read the markers as code.

/v1/chat/completions: what dg-lsp's remote engine (engine/remote.py) sends, so that the same client
works against vLLM and against this server: one user message, the file with the gap marked in the
chat layout's instruction (engine/chat_prompt.py), read back here into prefix and suffix; any other
chat is refused with a 400 that says so. `max_tokens` (or `max_completion_tokens`, default: as much
as the gap holds), `stop`, `stream`, and `logprobs`, each token's log of the confidence the engine
fixed it with, which is how the client's confidence gate works against any server; and `dg`, this
engine's own `max_lines` and `gate` (where the middle may end early, as the socket's requests say
it; vLLM ignores fields it does not know). The model's own
sampler and chat template settings apply (`temperature`, `chat_template_kwargs`, ... are accepted
and left). `top_logprobs` is refused: the engine keeps no alternatives.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from dataclasses import dataclass

from engine import chat_prompt
from engine import protocol as p

LLAMA_DEFAULT_N_PREDICT = -1  # llama.cpp's default: as much as the gap holds
OPENAI_DEFAULT_MAX_TOKENS = 16  # OpenAI's default
MAX_STOP_STRINGS = 16
_ids = itertools.count(1)


def bad(message: str) -> p.EngineError:
    return p.EngineError(p.BAD_REQUEST, message)


def _field(body: dict, name: str, kinds: type | tuple[type, ...], default=None):
    """body[name] when it is one of `kinds` (bool is never an int here), else a BAD_REQUEST naming it."""
    value = body.get(name, default)
    if value is None:
        return default
    names = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise bad(f"'{name}' must be {names}, not a boolean")
    if not isinstance(value, kinds):
        raise bad(f"'{name}' must be {names}, not {type(value).__name__}")
    return value


def _stop_strings(body: dict) -> list[str]:
    stop = _field(body, "stop", (str, list), [])
    stop = [stop] if isinstance(stop, str) else stop
    if len(stop) > MAX_STOP_STRINGS or not all(isinstance(s, str) and s for s in stop):
        raise bad(f"'stop' must be a string or a list of at most {MAX_STOP_STRINGS} non-empty strings")
    return stop


def _gap_tokens(n: int) -> int:
    """A client's token limit as a gap: negative is llama.cpp's "no limit", and the gap holds at most
    MAX_GAP_TOKENS."""
    return p.MAX_GAP_TOKENS if n < 0 else min(n, p.MAX_GAP_TOKENS)


@dataclass(frozen=True)
class Ask:
    """One HTTP request, read: the infill to run (None when the client asked for no tokens) and what to
    do with its text."""

    infill: p.InfillRequest | None
    stop: list[str]
    stream: bool
    n_indent: int = 0  # /infill: a later line indented less than this ends the completion
    echo: str = ""  # /v1/completions: text put before the completion (the prompt, with echo)
    response_fields: list[str] | None = None  # /infill: only these (slash-separated paths)
    logprobs: bool = False  # /v1/chat/completions: each token's logprob in the answer
    predict_ms: float | None = None  # /infill: t_max_predict_ms (None: no limit)


# FIM prompt formats, as code models' tokenizers spell them (Zed's format_fim_prompt lists these).
_FIM = [re.compile(pattern, re.S) for pattern in (
    r"<fim_prefix>(?P<prefix>.*)<fim_suffix>(?P<suffix>.*)<fim_middle>",  # StarCoder
    r"<\|fim_prefix\|>(?P<prefix>.*)<\|fim_suffix\|>(?P<suffix>.*)<\|fim_middle\|>",  # Qwen, CodeGemma
    r"<PRE> (?P<prefix>.*) <SUF>(?P<suffix>.*) <MID>",  # CodeLlama
    r"<｜fim▁begin｜>(?P<prefix>.*)<｜fim▁hole｜>(?P<suffix>.*)<｜fim▁end｜>",  # DeepSeek Coder
    r"\[SUFFIX\](?P<suffix>.*)\[PREFIX\](?P<prefix>.*)",  # Codestral
    r"<\|code_prefix\|>(?P<prefix>.*)<\|code_suffix\|>(?P<suffix>.*)<\|code_middle\|>",  # GLM
)]


def split_fim(prompt: str) -> tuple[str, str] | None:
    """A FIM-formatted prompt's prefix and suffix; None for a plain prompt."""
    for pattern in _FIM:
        if m := pattern.fullmatch(prompt):
            return m["prefix"], m["suffix"]
    return None


def _request(prefix: str, suffix: str, gap: int, **limits) -> p.InfillRequest | None:
    """The infill; `limits` are the wire's max_lines, gate and word_ends."""
    if gap == 0:
        return None
    # No document key: HTTP requests never supersede one another; a client that moves on disconnects.
    return p.parse_infill({"id": f"http-{next(_ids)}", **p.infill_fields(prefix, suffix, max_tokens=gap, **limits)})


def read_infill(body: dict) -> Ask:
    """llama.cpp's /infill body."""
    prefix = _field(body, "input_prefix", str, "")
    middle = _field(body, "prompt", str, "")
    suffix = _field(body, "input_suffix", str, "")
    extra = _field(body, "input_extra", list, [])
    chunks = []
    for chunk in extra:
        if not isinstance(chunk, dict) or not isinstance(chunk.get("text", ""), str):
            raise bad("'input_extra' must be a list of objects with a string 'text'")
        chunks.append(chunk.get("text", ""))
    far = "".join(text if text.endswith("\n") or not text else text + "\n" for text in chunks)
    n_predict = _field(body, "n_predict", int, LLAMA_DEFAULT_N_PREDICT)
    predict_ms = _field(body, "t_max_predict_ms", (int, float), 0)
    n_indent = _field(body, "n_indent", int, 0)
    fields = _field(body, "response_fields", list)
    if fields is not None and not all(isinstance(f, str) for f in fields):
        raise bad("'response_fields' must be a list of strings")
    return Ask(_request(far + prefix + middle, suffix, _gap_tokens(n_predict)), _stop_strings(body),
               _field(body, "stream", bool, False), n_indent=max(0, n_indent), response_fields=fields,
               predict_ms=predict_ms if predict_ms > 0 else None)  # llama.cpp's 0: no limit


def read_completion(body: dict) -> Ask:
    """OpenAI's /v1/completions body."""
    prompt = _field(body, "prompt", (str, list), "")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise bad("'prompt' must be one string (token ids and several prompts are not supported)")
        prompt = prompt[0]
    _field(body, "model", str)
    if _field(body, "n", int, 1) != 1:
        raise bad("'n' must be 1: the model gives one completion per request")
    max_tokens = _field(body, "max_tokens", int, OPENAI_DEFAULT_MAX_TOKENS)
    if max_tokens < 0:
        raise bad("'max_tokens' must be 0 or more")
    echo = _field(body, "echo", bool, False)
    suffix = _field(body, "suffix", str)
    prefix, suffix = (prompt, suffix) if suffix is not None else split_fim(prompt) or (prompt, "")
    return Ask(_request(prefix, suffix, _gap_tokens(max_tokens)), _stop_strings(body),
               _field(body, "stream", bool, False), echo=prompt if echo else "")


def read_chat(body: dict) -> Ask:
    """OpenAI's /v1/chat/completions body, as dg-lsp's remote engine sends it."""
    messages = _field(body, "messages", list)
    if not messages or not all(isinstance(m, dict) for m in messages):
        raise bad("'messages' must be a non-empty list of objects")
    last = messages[-1]
    if last.get("role") != "user":
        raise bad("the last message must be the user's")
    try:
        prefix, suffix = chat_prompt.read(_text(last.get("content")))
    except chat_prompt.NotAnInfill as exc:
        raise bad(str(exc)) from None
    _field(body, "model", str)
    _field(body, "chat_template_kwargs", dict)
    if _field(body, "n", int, 1) != 1:
        raise bad("'n' must be 1: the model gives one completion per request")
    if _field(body, "top_logprobs", int, 0):
        raise bad("'top_logprobs' must be 0: the engine keeps no alternatives to the tokens it fixed")
    max_tokens = _field(body, "max_completion_tokens", int) if body.get("max_completion_tokens") is not None \
        else _field(body, "max_tokens", int, p.MAX_GAP_TOKENS)
    if max_tokens < 0:
        raise bad("'max_tokens' must be 0 or more")
    dg = _field(body, "dg", dict, {})
    limits = {"max_lines": _field(dg, "max_lines", int), "gate": _field(dg, "gate", (int, float)),
              "word_ends": _field(dg, "word_ends", list, [])}
    return Ask(_request(prefix, suffix, _gap_tokens(max_tokens), **limits), _stop_strings(body),
               _field(body, "stream", bool, False), logprobs=_field(body, "logprobs", bool, False))


def _text(content) -> str:
    """A message's text: a string, or OpenAI's list of parts, of which only text parts are taken."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) and part.get("type") == "text"
                                         and isinstance(part.get("text"), str) for part in content):
        return "".join(part["text"] for part in content)
    raise bad("a message's 'content' must be a string or a list of text parts")


@dataclass(frozen=True)
class Done:
    """A completion as the client gets it: the text after the stop rules, and why it ended."""

    text: str
    reason: str  # "eos" (the model ended it), "limit" (ran out of tokens) or "word" (a stop string)
    stopping_word: str
    tokens: int
    ms: float
    result: p.InfillResult | None


def finish(ask: Ask, result: p.InfillResult | None) -> Done:
    """Apply the request's stop strings and indentation rule to the model's text."""
    if result is None:
        return Done("", "limit", "", 0, 0.0, None)
    text, reason, word = result.text, "eos" if result.ended else "limit", ""
    if len(result.token_ends) > ask.infill.max_tokens:
        # The engine may fix one token past max_tokens (its room for the end marker): not the client's.
        text = text[: result.token_ends[ask.infill.max_tokens - 1]]
    if (kept := _outdented(ask, text)) is not None:
        text, reason = kept, "eos"
    cuts = [(text.find(s), s) for s in ask.stop if s in text]
    if cuts:
        at, word = min(cuts)
        text, reason = text[:at], "word"
    tokens = sum(1 for end in result.token_ends if end <= len(text))
    return Done(text, reason, word, tokens, result.ms, result)


def _outdented(ask: Ask, text: str) -> str | None:
    """`text` cut before its first line after the first that is indented less than n_indent; None if none is."""
    if ask.n_indent:
        lines = text.split("\n")
        for k, line in enumerate(lines[1:], start=1):
            if line.strip() and len(line) - len(line.lstrip(" \t")) < ask.n_indent:
                return "\n".join(lines[:k]) + "\n"
    return None


def settled(ask: Ask, text: str) -> str:
    """Of a middle still being written, `text`, the start that finish() keeps whatever follows: held back
    are a last line whose indentation n_indent cannot judge yet (blank so far), and from the first stop
    string, or from an end that may begin one."""
    kept = _outdented(ask, text)
    if kept is None:
        kept, line = text, text.rfind("\n") + 1
        if ask.n_indent and line and not text[line:].strip():
            kept = text[:line]
    end = len(kept)
    for stop in ask.stop:
        if (at := kept.find(stop)) >= 0:
            end = min(end, at)
        begun = next((n for n in range(min(len(stop) - 1, len(kept)), 0, -1) if kept.endswith(stop[:n])), 0)
        end = min(end, len(kept) - begun)
    return kept[:end]


def timings(done: Done) -> dict:
    per_token = done.ms / done.tokens if done.tokens else 0.0
    return {"predicted_n": done.tokens, "predicted_ms": round(done.ms, 3),
            "predicted_per_token_ms": round(per_token, 3),
            "predicted_per_second": round(1000 / per_token, 3) if per_token else 0.0}


def infill_answer(done: Done, model: str, fields: list[str] | None, streamed: bool = False) -> dict:
    """llama.cpp's /infill answer, or the last event of a stream (`streamed`: its text came before)."""
    answer = {
        "index": 0, "content": "" if streamed else done.text, "id_slot": 0, "stop": True, "model": model,
        "tokens_predicted": done.tokens, "has_new_line": "\n" in done.text, "truncated": False,
        "stop_type": done.reason, "stopping_word": done.stopping_word, "tokens_cached": 0,
        "timings": timings(done),
        "dg": engine_figures(done),
    }
    return answer if fields is None else pick(answer, fields)


def pick(answer: dict, fields: list[str]) -> dict:
    """llama.cpp's `response_fields`: only the named fields, a nested one under its slash path."""
    out = {}
    for path in fields:
        value, found = answer, True
        for key in path.split("/"):
            if not isinstance(value, dict) or key not in value:
                found = False
                break
            value = value[key]
        if found and path:
            out[path] = value
    return out


def infill_chunk(text: str) -> dict:
    return {"index": 0, "content": text, "stop": False}


FINISH_REASONS = {"eos": "stop", "word": "stop", "limit": "length"}


def completion_id() -> str:
    return f"cmpl-{time.time_ns():x}"


def completion_answer(id: str, created: int, model: str, text: str | None, reason: str | None) -> dict:
    """OpenAI's text_completion: the whole answer, or one chunk of a stream (reason None until the last)."""
    return {"id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": 0, "text": text or "", "logprobs": None,
                         "finish_reason": None if reason is None else FINISH_REASONS[reason]}]}


def chat_id() -> str:
    return f"chatcmpl-{time.time_ns():x}"


# OpenAI's logprob for a token of probability 0, whose log JSON cannot carry.
NO_LOGPROB = -9999.0


def token_logprobs(done: Done) -> list[dict]:
    """OpenAI's `logprobs.content`: each token of the text, with the log of its confidence."""
    r, out, start = done.result, [], 0
    if r is None:
        return out
    for conf, end in zip(r.token_confidences, r.token_ends):
        if end > len(done.text):
            break
        token = done.text[start:end]
        out.append({"token": token, "logprob": math.log(conf) if conf > 0 else NO_LOGPROB,
                    "bytes": list(token.encode()), "top_logprobs": []})
        start = end
    return out


def engine_figures(done: Done) -> dict | None:
    """This engine's own figures, for a client that knows them (the remote engine reads them)."""
    r = done.result
    return None if r is None else {"steps": r.steps, "tokens_per_forward": r.tokens_per_forward,
                                   "mean_confidence": r.mean_confidence, "min_confidence": r.min_confidence,
                                   "cached_prefix": r.cached_prefix, "ms": r.ms}


def chat_answer(id: str, created: int, model: str, done: Done, logprobs: bool) -> dict:
    """OpenAI's chat.completion."""
    return {"id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": done.text},
                         "logprobs": {"content": token_logprobs(done)} if logprobs else None,
                         "finish_reason": FINISH_REASONS[done.reason]}],
            "dg": engine_figures(done)}


def chat_chunk(id: str, created: int, model: str, delta: dict, reason: str | None = None,
               logprobs: list[dict] | None = None) -> dict:
    """One chunk of a streamed chat.completion (reason None until the last)."""
    return {"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta,
                         "logprobs": None if logprobs is None else {"content": logprobs},
                         "finish_reason": None if reason is None else FINISH_REASONS[reason]}]}


def model_list(status: p.Status, created: int) -> dict:
    """OpenAI's model list; `dg` carries what a client's judge needs of the model (its languages and
    calibrated gate), which the remote engine reads."""
    return {"object": "list", "data": [{
        "id": status.model, "object": "model", "created": created, "owned_by": "dg-lsp",
        "dg": {"languages": status.languages, "min_confidence": status.min_confidence,
               "max_lines": status.max_lines, "layout": status.layout}}]}


# HTTP status and OpenAI error type for each engine error code.
STATUS = {
    p.BAD_REQUEST: (400, "invalid_request_error"),
    p.TOO_LARGE: (413, "invalid_request_error"),
    p.UNAUTHORIZED: (401, "authentication_error"),
    p.CANCELLED: (499, "cancelled"),
    p.SUPERSEDED: (409, "cancelled"),
    p.DEADLINE: (504, "timeout_error"),
    p.SHUTTING_DOWN: (503, "unavailable_error"),
    p.LOAD_FAILED: (503, "unavailable_error"),
    p.INTERNAL: (500, "server_error"),
    p.UNAVAILABLE: (503, "unavailable_error"),
    p.TIMEOUT: (504, "timeout_error"),
}


def error_body(code: str, message: str) -> tuple[int, dict]:
    """The HTTP status and body of an engine error: OpenAI's shape, which llama.cpp's also follows."""
    status, kind = STATUS[code]
    return status, {"error": {"code": code, "message": message, "type": kind}}
