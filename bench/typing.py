"""Typing replay over LSP: the latency a user feels, keystroke by keystroke.

Starts the real `dg-lsp --stdio`, opens modules of the Python standard library with a stretch of a
function body cut out, and types the stretch back one character at a time: a didChange and an
inlineCompletion per keystroke, each keystroke sent once the previous answer arrived (plus --pause-ms,
to leave the engine time between keystrokes as a typist does). Prints p50/p95 latency per keystroke,
the share of keystrokes served by typing-through and by the answer cache, model calls per 100
keystrokes, and the time from process start to the `initialize` answer (fresh processes).

The engine runs on a socket of its own in a temporary directory (so a user's daemon is not touched)
and is shut down at the end, unless --engine-socket names a running one.

    python -m bench.typing                       # 3 modules x 200 keystrokes
    python -m bench.typing --keystrokes 50 --modules textwrap.py
    python -m bench.typing --no-engine           # the server's own share of the latency
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from engine import protocol as p
from engine.client import EngineClient, EngineUnavailable

STDLIB = Path(os.__file__).parent
MODULES = ("textwrap.py", "shlex.py", "fnmatch.py")
SERVER = [sys.executable, "-m", "lsp_server", "--stdio", "--log-level", "WARNING"]
READY_TIMEOUT_S = 600.0
GOALS_MS = {"p50": 50.0, "p95": 150.0}
INITIALIZE_GOAL_MS = 1000.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def stretch(text: str, keystrokes: int) -> tuple[int, int]:
    """A stretch of about `keystrokes` characters that starts a line inside the body of the file's
    middle function, so the typing has code on both sides as in an edit."""
    starts = [i for i in range(len(text)) if text.startswith("\n    def ", i) or text.startswith("\ndef ", i)]
    at = starts[len(starts) // 2] if starts else len(text) // 2
    body = text.index("\n", text.index(":\n", at) + 1) + 1
    end = min(len(text), body + keystrokes)
    return body, end


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__("dg-bench", "1")
        self.messages: list[str] = []

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)
            print(f"  [server] {params.message}", file=sys.stderr)

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def log(params: types.LogMessageParams) -> None:
            pass


def initialize_params(settings: dict) -> types.InitializeParams:
    return types.InitializeParams(
        process_id=os.getpid(), root_uri=None,
        capabilities=types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities())),
        initialization_options=settings)


async def start(settings: dict) -> tuple[Client, float]:
    """A fresh server; the milliseconds from spawning it to the initialize answer."""
    client = Client()
    started = time.perf_counter()
    await client.start_io(*SERVER)
    await client.initialize_async(initialize_params(settings))
    ms = (time.perf_counter() - started) * 1000
    client.initialized(types.InitializedParams())
    return client, ms


async def stop(client: Client) -> None:
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


async def status(client: Client) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="dg.status"))


async def wait_ready(client: Client) -> dict:
    """Until the engine serves its steady state: loaded, and its compiled model swapped in (on a CPU)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        st = await status(client)
        engine = st["engine"]["status"]
        if st["state"] == "ready" and engine and p.status_from_dict(engine).settled:
            return st
        if st["state"] == "failed":
            raise SystemExit(f"the engine did not start: {st['engine']['error']}")
        await asyncio.sleep(0.2)
    raise SystemExit(f"the engine was not ready within {READY_TIMEOUT_S:.0f}s")


async def replay(client: Client, path: Path, keystrokes: int, pause_s: float) -> list[float]:
    text = path.read_text(encoding="utf-8")
    start, end = stretch(text, keystrokes)
    uri = path.as_uri()
    doc = text[:start] + text[end:]
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=doc)))
    line = doc.count("\n", 0, start)
    column = start - (doc.rfind("\n", 0, start) + 1)
    latencies = []
    for version, char in enumerate(text[start:end], start=2):
        here = types.Position(line=line, character=column)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=here, end=here),
                                                                     text=char)]))
        line, column = (line + 1, 0) if char == "\n" else (line, column + 1)
        began = time.perf_counter()
        await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=column),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
        latencies.append((time.perf_counter() - began) * 1000)
        if pause_s:
            await asyncio.sleep(pause_s)
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    return latencies


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or "unknown CPU")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, load average {load}; Python {platform.python_version()}"


# Nothing listens on the discard port, and the server starts no daemon for a TCP address: with it,
# every keystroke runs the server's whole path up to the model call, and no model.
NO_ENGINE = "tcp://127.0.0.1:9"


async def main(args: argparse.Namespace) -> dict:
    own_engine = args.engine_socket is None and not args.no_engine
    socket = NO_ENGINE if args.no_engine else (
        args.engine_socket or os.path.join(tempfile.mkdtemp(prefix="dg-bench-"), "engine.sock"))
    init_ms = []
    try:
        for _ in range(args.initialize_runs):
            # Completions off: these processes only time initialize and start no engine.
            client, ms = await start({"engineSocket": socket, "enabled": False})
            init_ms.append(ms)
            await stop(client)
        client, ms = await start({"engineSocket": socket})
        init_ms.append(ms)
        loading = time.perf_counter()
        ready = await status(client) if args.no_engine else await wait_ready(client)
        load_s = time.perf_counter() - loading
        latencies: list[float] = []
        for name in args.modules:
            latencies += await replay(client, STDLIB / name, args.keystrokes, args.pause_ms / 1000)
        final = await status(client)
        await stop(client)
    finally:
        if own_engine:
            try:
                EngineClient(socket, autostart=False, timeout=10).shutdown()
            except EngineUnavailable:
                pass
    n = len(latencies)
    sources = final["sources"]
    engine = final["engine"]["status"] or ready["engine"]["status"] or {}
    return {
        "machine": machine(),
        "engine": {k: engine.get(k)
                   for k in ("model", "device", "dtype", "compiled", "ms_per_step", "steps_per_infill")},
        "engine_load_s": round(load_s, 1),
        "initialize_ms": {"median": round(statistics.median(init_ms)), "max": round(max(init_ms)),
                          "runs": len(init_ms)},
        "keystrokes": n,
        "latency_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1),
                       "max": round(max(latencies), 1), "mean": round(statistics.fmean(latencies), 1)},
        "typing_through_share": round(sources.get("typing_through", 0) / n, 3),
        "cache_share": round(sources.get("cache", 0) / n, 3),
        "model_calls_per_100_keystrokes": round(100 * final["model_calls"] / n, 1),
        "keystrokes_with_a_suggestion": round(final["items"] / n, 3),
        "model_latency_ms": final["model_latency_ms"],
        "server_latency_ms_by_source": final["latency_ms_by_source"],
        "sources": sources,
        "messages": client.messages,
    }


def report(r: dict) -> None:
    lat = r["latency_ms"]
    print(f"machine:      {r['machine']}")
    print(f"engine:       {r['engine']} (loaded and compiled in {r['engine_load_s']} s)")
    print(f"initialize:   median {r['initialize_ms']['median']} ms, max {r['initialize_ms']['max']} ms over "
          f"{r['initialize_ms']['runs']} fresh processes (goal <= {INITIALIZE_GOAL_MS:.0f} ms)")
    print(f"keystrokes:   {r['keystrokes']}")
    print(f"latency:      p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms "
          f"(goal p50 <= {GOALS_MS['p50']:.0f}, p95 <= {GOALS_MS['p95']:.0f})")
    print(f"typing-through: {r['typing_through_share']:.1%} of keystrokes; answer cache: {r['cache_share']:.1%}")
    print(f"model calls:  {r['model_calls_per_100_keystrokes']} per 100 keystrokes; model latency "
          f"p50 {r['model_latency_ms']['p50']} ms, p95 {r['model_latency_ms']['p95']} ms")
    print(f"suggestions:  shown on {r['keystrokes_with_a_suggestion']:.1%} of keystrokes; sources {r['sources']}")
    by_source = ", ".join(f"{source} p50 {f['p50']} / p95 {f['p95']} ms ({f['count']})"
                          for source, f in r["server_latency_ms_by_source"].items())
    print(f"in the server, by source: {by_source}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", nargs="+", default=list(MODULES), help="stdlib modules to type in")
    ap.add_argument("--keystrokes", type=int, default=200, help="characters typed per module")
    ap.add_argument("--pause-ms", type=float, default=0.0, help="pause after each answer")
    ap.add_argument("--initialize-runs", type=int, default=3, help="extra fresh processes timed to initialize")
    ap.add_argument("--engine-socket", help="use this running engine instead of starting one")
    ap.add_argument("--no-engine", action="store_true",
                    help="no engine: measure the server's own work per keystroke (everything but the model)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    result = asyncio.run(main(args))
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
