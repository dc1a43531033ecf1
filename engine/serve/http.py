"""`dg-engine serve --http HOST:PORT`: the HTTP completion APIs other clients already speak, served
by the daemon's own scheduler, so that their requests share forward passes with the socket's.

    POST /infill                 llama.cpp's server (llama.vim, llama.vscode)
    POST /v1/completions         OpenAI's, with `suffix`; `stream` answers in server-sent events
    POST /v1/chat/completions    OpenAI's, carrying an infill as dg-lsp's remote engine sends it
    GET  /health           200 once the model serves, 503 while it loads or after it failed to
    GET  /v1/models        the one model

Bodies are read and answered in `engine.serve.http_api`. With a token, every path but /health
needs `Authorization: Bearer TOKEN`. A body over the wire protocol's MAX_MESSAGE_BYTES, bad JSON or
a bad field gets a 4xx JSON error, and the server keeps serving. A client that disconnects cancels
its request in the scheduler, between denoising steps. A stream sends the middle as it grows: after
each denoising step, the text fixed since the last event (where the order writes from the left), less
what the request's stop strings or indentation rule may still cut; the rest when it is done.

aiohttp, rather than a hand-written server: it is maintained, asyncio-native (it runs in the
daemon's loop beside the socket server), parses HTTP/1.1 with keep-alive and chunked bodies
correctly, bounds the body size while reading it, streams responses, and cancels a handler whose
client went away (`handler_cancellation`), which is what lets a disconnect cancel a request.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from engine import protocol as p
from engine.address import ListenError
from engine.serve import http_api as api
from engine.serve.scheduler import Scheduler

log = logging.getLogger("dg-engine")
OPEN_PATHS = frozenset({"/health"})  # a load balancer's probe carries no token, and this one no data


def dumps(body: dict) -> str:
    # Compact: llama.vim recognises an answer by the regex '"content"\s*:"', no space after the colon.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def json_response(body: dict, status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def error_response(code: str, message: str, status: int | None = None) -> web.Response:
    default, body = api.error_body(code, message)
    return json_response(body, status or default)


class HttpApi:
    def __init__(self, scheduler: Scheduler, address: tuple[str, int], token: str | None = None,
                 on_request: Callable[[bool], None] = lambda busy: None):
        """`on_request(True)` and `on_request(False)` bracket every request (the daemon's idle exit)."""
        self.scheduler = scheduler
        self.address = address
        self.token = token
        self.on_request = on_request
        self.started = int(time.time())
        app = web.Application(client_max_size=p.MAX_MESSAGE_BYTES, middlewares=[self.guard])
        app.router.add_post("/infill", self.infill)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/health", self.health)
        app.router.add_get("/v1/models", self.models)
        self.runner = web.AppRunner(app, handler_cancellation=True, access_log=None)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    async def start(self) -> None:
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, *self.address, shutdown_timeout=1.0).start()
        except OSError as exc:
            await self.runner.cleanup()
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ListenError(f"cannot listen on {self.url}: {reason}") from None

    async def stop(self) -> None:
        await self.runner.cleanup()

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        """Authentication, and aiohttp's own errors (404, 405, 413) as JSON like every other error."""
        if self.token is not None and request.path not in OPEN_PATHS:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            # Bytes: compare_digest refuses str with non-ASCII characters.
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(errors="replace"),
                                                                     self.token.encode()):
                response = error_response(p.UNAUTHORIZED, "send the engine's token as 'Authorization: Bearer TOKEN'")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        self.on_request(True)
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return error_response(p.TOO_LARGE, f"a request body is at most {p.MAX_MESSAGE_BYTES} bytes")
        except web.HTTPException as exc:
            response = error_response(p.BAD_REQUEST, f"{request.method} {request.path}: {exc.reason}", exc.status)
            if "Allow" in exc.headers:  # 405 says which methods the path takes
                response.headers["Allow"] = exc.headers["Allow"]
            return response
        except ConnectionError:
            raise  # the client went away while its answer was written: nobody to answer
        except Exception as exc:  # noqa: BLE001 - every request gets an answer, in JSON like the others
            log.exception("HTTP %s %s failed", request.method, request.path)
            return error_response(p.INTERNAL, f"{type(exc).__name__}: {exc}")
        finally:
            self.on_request(False)

    async def body(self, request: web.Request) -> dict:
        raw = await request.read()  # aiohttp stops reading past client_max_size (413)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise api.bad(f"the body is not JSON: {exc}") from None
        except RecursionError:
            raise api.bad("the body is not JSON: nested too deeply") from None
        if not isinstance(body, dict):
            raise api.bad("the body must be a JSON object")
        return body

    async def complete(self, ask: api.Ask, grown: Callable[[str], None] | None = None) -> api.Done:
        """Run the request on the scheduler (`grown`: Scheduler.submit's); a disconnect (this task
        cancelled) cancels it there."""
        if ask.infill is None:
            return api.finish(ask, None)
        try:
            result = await self.scheduler.submit(ask.infill, grown, ask.predict_ms)
        except asyncio.CancelledError:
            if self.scheduler.cancel(ask.infill.id):
                log.info("request %s cancelled: its HTTP client disconnected", ask.infill.id)
            raise
        return api.finish(ask, result)

    def model(self) -> str:
        return self.scheduler.status().model

    async def infill(self, request: web.Request) -> web.StreamResponse:
        try:
            ask = api.read_infill(await self.body(request))
            if ask.stream:
                return await self.stream(request, ask, [], api.infill_chunk, lambda done: [
                    api.infill_answer(done, self.model(), ask.response_fields, streamed=True)])
            done = await self.complete(ask)
        except p.EngineError as exc:
            return error_response(exc.code, str(exc))
        return json_response(api.infill_answer(done, self.model(), ask.response_fields))

    async def completions(self, request: web.Request) -> web.StreamResponse:
        id, created = api.completion_id(), int(time.time())
        try:
            ask = api.read_completion(await self.body(request))
            if ask.stream:
                def answer(text: str, reason: str | None = None) -> dict:
                    return api.completion_answer(id, created, self.model(), text, reason)
                return await self.stream(request, ask, [answer(ask.echo)] if ask.echo else [], answer,
                                         lambda done: [answer("", done.reason)], done_line=True)
            done = await self.complete(ask)
        except p.EngineError as exc:
            return error_response(exc.code, str(exc))
        return json_response(api.completion_answer(id, created, self.model(), ask.echo + done.text, done.reason))

    async def chat(self, request: web.Request) -> web.StreamResponse:
        id, created = api.chat_id(), int(time.time())
        try:
            ask = api.read_chat(await self.body(request))
            if ask.stream:
                def chunk(delta: dict, reason: str | None = None, logprobs: list[dict] | None = None) -> dict:
                    return api.chat_chunk(id, created, self.model(), delta, reason, logprobs)
                # The tokens' logprobs come with the last chunk: a token's text may span several deltas.
                return await self.stream(
                    request, ask, [chunk({"role": "assistant", "content": ""})], lambda text: chunk({"content": text}),
                    lambda done: [chunk({}, done.reason, api.token_logprobs(done) if ask.logprobs else None)],
                    done_line=True)
            done = await self.complete(ask)
        except p.EngineError as exc:
            return error_response(exc.code, str(exc))
        return json_response(api.chat_answer(id, created, self.model(), done, ask.logprobs))

    async def stream(self, request: web.Request, ask: api.Ask, first: list[dict], delta: Callable[[str], dict],
                     last: Callable[[api.Done], list[dict]], done_line: bool = False) -> web.StreamResponse:
        """Server-sent events: the headers and the `first` events at once; a `delta` event with each new
        piece of the middle as it grows; the rest of its text and the `last` events when it is done (then
        OpenAI's `[DONE]`). An engine error after the headers is an event carrying it."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(body: dict | str) -> None:
            await response.write(f"data: {body if isinstance(body, str) else dumps(body)}\n\n".encode())

        for event in first:
            await send(event)
        texts: asyncio.Queue[str | None] = asyncio.Queue()  # the middle so far; None once it is done

        async def run() -> api.Done:
            try:
                return await self.complete(ask, texts.put_nowait)
            finally:
                texts.put_nowait(None)

        running, sent = asyncio.create_task(run()), ""
        try:
            while (text := await texts.get()) is not None:
                if len(shown := api.settled(ask, text)) > len(sent):
                    await send(delta(shown[len(sent) :]))
                    sent = shown
            done = await running
        except p.EngineError as exc:
            await send(api.error_body(exc.code, str(exc))[1])
        else:
            if done.text[len(sent) :]:
                await send(delta(done.text[len(sent) :]))
            for event in last(done):
                await send(event)
        finally:
            running.cancel()  # a disconnect ends this handler: the request goes with it
        if done_line:
            await send("[DONE]")
        await response.write_eof()
        return response

    async def health(self, request: web.Request) -> web.Response:
        status = self.scheduler.status()
        if status.error:
            return json_response({"status": "error", "error": status.error}, 503)
        if not status.ready:
            return json_response({"status": "loading"}, 503)
        return json_response({"status": "ok", "model": status.model, "compiled": status.compiled})

    async def models(self, request: web.Request) -> web.Response:
        status = self.scheduler.status()
        if not status.ready:
            return error_response(p.LOAD_FAILED if status.error else p.UNAVAILABLE,
                                  status.error or "the model is still loading")
        return json_response(api.model_list(status, self.started))
