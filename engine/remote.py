"""The engine on an OpenAI-compatible server, for teams: `engineUrl = http(s)://HOST:PORT/v1`.

Each infill is one `/v1/chat/completions` request carrying the chat layout's prompt
(engine/chat_prompt.py), with `logprobs`, whose exponents are the tokens' confidences: the client's
confidence gate and post-processing then judge the answer as they judge the daemon's. vLLM serving
google/diffusiongemma-26B-A4B-it renders that message through the checkpoint's chat template, the
prompt the chat layout gives the model here; dg-engine's own `--http` API reads it back into prefix
and suffix and fills the gap with its model's layout. `/v1/models` names the model (vLLM wants it in
every request), proves the token, and, from dg-engine, brings the model's languages and calibrated
gate (its `dg` field).

The same async API as `AsyncEngineClient`, and the same error codes: an engine that does not answer
is UNAVAILABLE (the caller reconnects later), one past the request's deadline is DEADLINE, a token
refused is UNAUTHORIZED. Cancelling a request closes its connection, which both servers take as
cancelling it. Standard library only: a small HTTP/1.1 client over asyncio streams, because
urllib and http.client block, and a blocked thread cannot be cancelled when a keystroke supersedes
its request. Idle connections are kept for the next request (a TLS handshake per keystroke costs
round trips); one the server has closed meanwhile is replaced once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import logging
import math
import os
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from engine import chat_prompt
from engine import protocol as p

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30.0
MAX_ANSWER_BYTES = 4 * p.MAX_MESSAGE_BYTES  # a server answering more is not answering an infill


def check_url(url: str) -> str:
    """`url` without a trailing slash; ValueError, saying what to write, when it is not http(s)://HOST..."""
    parts = urlsplit(url.strip())
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"an engine URL is http(s)://HOST:PORT/v1, not {url!r}")
    return url.strip().rstrip("/")


def read_token(token: str | None = None, token_file: str | os.PathLike | None = None) -> str | None:
    """protocol.token_from, with an unreadable token file as an UNAUTHORIZED error saying so."""
    try:
        return p.token_from(token, token_file)
    except OSError as exc:
        raise p.EngineError(p.UNAUTHORIZED, f"cannot read the token file {token_file}: "
                                            f"{exc.strerror or exc}") from None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class RemoteEngine:
    """An OpenAI-compatible server as the engine; `url` ends in /v1."""

    def __init__(self, url: str, token: str | None = None, *, token_file: str | os.PathLike | None = None,
                 timeout: float = REQUEST_TIMEOUT_S):
        self.url = check_url(url)
        parts = urlsplit(self.url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port or (443 if self.https else 80)
        self.base = parts.path
        self.timeout = timeout
        self._token, self._token_file = token, token_file
        self.model: str | None = None
        self.model_info: dict = {}
        self.connected = False
        self.requests = 0
        self._connected_at = 0.0
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._ids = itertools.count(1)
        if not self.https and not _loopback(self.host):
            log.warning("%s is plain HTTP off this machine: the token and the code travel unencrypted", self.url)

    @property
    def address(self) -> str:
        return self.url

    def new_id(self) -> str:
        return f"r{next(self._ids)}"

    async def connect(self) -> None:
        """Ask the server for its model: it answers, and takes the token."""
        body = await self._call("GET", "/models", None, self.timeout)
        try:
            entry = body["data"][0]
            self.model, self.model_info = str(entry["id"]), entry.get("dg") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise self._bad_answer(f"its model list has no model ({exc!r})") from None
        if not isinstance(self.model_info, dict):
            self.model_info = {}
        self.connected, self._connected_at = True, time.monotonic()

    async def infill(self, prefix: str, suffix: str, *, max_tokens: int = 24, doc: str = "",
                     deadline_ms: int | None = None, id: str | None = None, max_lines: int | None = None,
                     gate: float | None = None, word_ends: Sequence[str] = (),
                     trace: bool = False) -> p.InfillResult:
        """The middle between `prefix` and `suffix`. `doc` and `id` are the caller's: a superseded request
        is cancelled by cancelling this call. `gate` is the caller's to apply; dg-engine also stops at it,
        and keeps to `word_ends`, as the daemon does; `max_lines` cuts the text as the daemon does."""
        if trace:
            raise p.EngineError(p.BAD_REQUEST, "a remote engine does not report what its model saw; "
                                               "trace with the local engine")
        try:
            content = chat_prompt.message(prefix, suffix)
        except chat_prompt.NotAnInfill as exc:
            raise p.EngineError(p.BAD_REQUEST, str(exc)) from None
        if self.model is None:
            await self.connect()
        request = {"model": self.model, "messages": [{"role": "user", "content": content}],
                   "max_tokens": max(1, min(max_tokens, p.MAX_GAP_TOKENS)), "logprobs": True, "stream": False,
                   # The chat layout's prompt: the model answers at once, without a thinking channel.
                   "chat_template_kwargs": {"enable_thinking": False},
                   # dg-engine's own: where the middle may end early. vLLM ignores fields it does not know.
                   "dg": {"max_lines": max_lines, "gate": gate, "word_ends": list(word_ends)}}
        limit = self.timeout if deadline_ms is None else deadline_ms / 1000
        started = time.perf_counter()
        try:
            answer = await self._call("POST", "/chat/completions", request, limit)
        except p.EngineError as exc:
            if exc.code == p.TIMEOUT and deadline_ms is not None:
                raise p.EngineError(p.DEADLINE, f"no answer within the request's deadline of {deadline_ms} ms") \
                    from None
            raise
        self.requests += 1
        return self._result(answer, max_lines, round(1000 * (time.perf_counter() - started), 2))

    def _result(self, answer: dict, max_lines: int | None, ms: float) -> p.InfillResult:
        try:
            choice = answer["choices"][0]
            text = choice["message"]["content"] or ""
            reason = choice.get("finish_reason")
            tokens = (choice.get("logprobs") or {}).get("content")
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._bad_answer(f"not a chat completion ({exc!r})") from None
        if not isinstance(tokens, list):
            raise self._bad_answer("no logprobs, which the confidence gate needs (it was asked for them)")
        confidences, ends = _confidences(tokens, text)
        if confidences is None:
            raise self._bad_answer("its logprobs do not spell its text")
        text = p.first_lines(text, max_lines)
        ends = [min(end, len(text)) for end in ends]
        figures = answer.get("dg") if isinstance(answer.get("dg"), dict) else {}
        conf = confidences or [0.0]
        return p.InfillResult(
            text=text, steps=int(figures.get("steps", 0)),
            tokens_per_forward=float(figures.get("tokens_per_forward", 0.0)),
            mean_confidence=round(sum(conf) / len(conf), 4), min_confidence=round(min(conf), 4),
            token_confidences=confidences, token_ends=ends, ended=reason == "stop",
            cached_prefix=bool(figures.get("cached_prefix", False)), ms=ms)

    async def cancel(self, id: str) -> None:
        """Nothing to send: the cancelled call closed its connection, which cancels it on the server."""

    async def status(self) -> p.Status:
        info = self.model_info
        return p.Status(
            model=self.model or "", device=f"remote {self.url}", dtype="", ready=self.connected, queue_depth=0,
            requests=self.requests, ms_per_step=0.0, steps_per_infill=0.0, cache_hit_rate=0.0,
            uptime_s=round(time.monotonic() - self._connected_at, 1) if self.connected else 0.0, pid=0,
            languages=[str(name) for name in info.get("languages") or []],
            min_confidence=info.get("min_confidence"), max_lines=info.get("max_lines"),
            layout=str(info.get("layout") or "chat"))

    async def close(self) -> None:
        self.connected = False
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()

    # -- HTTP --------------------------------------------------------------------------------------

    def _bad_answer(self, what: str) -> p.EngineError:
        return p.EngineError(p.INTERNAL, f"the engine at {self.url} gave a bad answer: {what}")

    async def _call(self, method: str, path: str, body: dict | None, limit: float) -> dict:
        """The JSON answer to one request, or the EngineError its status means."""
        token = read_token(self._token, self._token_file)
        try:
            status, raw = await asyncio.wait_for(self._exchange(method, path, body, token), limit)
        except asyncio.TimeoutError:
            raise p.EngineError(p.TIMEOUT, f"the engine at {self.url} did not answer within {limit:.0f}s") from None
        except ValueError as exc:  # not HTTP, or an answer too long to be an infill's
            raise self._bad_answer(str(exc)) from None
        except (OSError, asyncio.IncompleteReadError, EOFError) as exc:
            self.connected = False
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise p.EngineError(p.UNAVAILABLE, f"no engine answers at {self.url}: {reason}") from None
        try:
            answer = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            answer = None
        if status != 200:
            raise self._refused(status, answer, raw)
        if not isinstance(answer, dict):
            raise self._bad_answer(f"not JSON: {raw[:80]!r}")
        return answer

    def _refused(self, status: int, answer, raw: bytes) -> p.EngineError:
        error = answer.get("error") if isinstance(answer, dict) else None
        # vLLM's error is {"error": {...}} or {"message": ...}; dg-engine's carries its own code.
        message = (error.get("message") if isinstance(error, dict) else None) or \
            (answer.get("message") if isinstance(answer, dict) else None) or raw[:200].decode(errors="replace")
        code = error.get("code") if isinstance(error, dict) else None
        if status in (401, 403):
            self.connected = False
            return p.EngineError(p.UNAUTHORIZED, f"the engine at {self.url} refused the token ({status}): give it "
                                                 f"in ${p.TOKEN_ENV} or a token file")
        if code in p.CODES:
            return p.EngineError(code, str(message))
        if status == 404:
            return p.EngineError(p.BAD_REQUEST, f"{self.url} has no OpenAI API (404 {message}); the engine URL "
                                                "ends in /v1")
        if status in (502, 503, 504):
            self.connected = False
            return p.EngineError(p.UNAVAILABLE, f"the engine at {self.url} is unavailable ({status}): {message}")
        return p.EngineError(p.TOO_LARGE if status == 413 else p.BAD_REQUEST if status < 500 else p.INTERNAL,
                             f"the engine at {self.url} answered {status}: {message}")

    async def _exchange(self, method: str, path: str, body: dict | None, token: str | None) -> tuple[int, bytes]:
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = [f"{method} {self.base}{path} HTTP/1.1", f"Host: {self._host_header()}", "User-Agent: dg-lsp",
                "Accept: application/json", f"Content-Length: {len(data)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"Authorization: Bearer {token}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        while self._idle:
            reader, writer = self._idle.pop()
            if writer.is_closing() or reader.at_eof():
                writer.close()
                continue
            try:
                return await self._round_trip(reader, writer, request)
            except (ConnectionError, asyncio.IncompleteReadError, EOFError):
                continue  # closed by the server while idle: a fresh connection sends it again
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=ssl.create_default_context() if self.https else None,
            limit=MAX_ANSWER_BYTES)
        return await self._round_trip(reader, writer, request)

    def _host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.https else 80) else f"{host}:{self.port}"

    async def _round_trip(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                          request: bytes) -> tuple[int, bytes]:
        """Send `request` and read its answer; the connection goes back to the idle ones if the server
        keeps it, and is closed otherwise, and when this is cancelled (which cancels it on the server)."""
        keep = False
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise EOFError("the server closed the connection")
            version, _, rest = status_line.decode("latin-1").partition(" ")
            status = int(rest.split(" ", 1)[0])
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await _read_body(reader, headers)
            keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            return status, raw
        finally:
            if keep:
                self._idle.append((reader, writer))
            else:
                writer.close()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
            if sum(map(len, chunks)) > MAX_ANSWER_BYTES:
                raise ValueError(f"an answer over {MAX_ANSWER_BYTES} bytes")
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(chunks)
    if "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_ANSWER_BYTES:
            raise ValueError(f"an answer of {length} bytes")
        return await reader.readexactly(length)
    headers["connection"] = "close"  # the body ends where the connection does
    return await reader.read(MAX_ANSWER_BYTES)


def _confidences(tokens: list, text: str) -> tuple[list[float] | None, list[int]]:
    """Each token's confidence and where its text ends in `text` (str offsets), from OpenAI's
    `logprobs.content`; None when the tokens do not spell `text` (tokens past its end, such as an end
    token a server lists, are dropped)."""
    confidences, ends, spelled = [], [], b""
    for token in tokens:
        try:
            raw = bytes(token["bytes"]) if token.get("bytes") is not None else token["token"].encode()
            confidence = math.exp(float(token["logprob"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None, []
        spelled += raw
        # A token may end inside a character (byte-level tokens): it ends where its whole characters do.
        end = len(spelled.decode(errors="ignore"))
        if end > len(text):
            break
        confidences.append(confidence)
        ends.append(end)
    if not text.startswith(spelled.decode(errors="ignore")[: len(text)]):
        return None, []
    return confidences, ends
