"""Soak: many keystrokes over varied files, languages, gap sizes and batch mixes, watching memory.

A daemon that served 5,579 varied requests over 90 minutes grew from 0.8 to 2.27 GB RSS, while 2,000
keystrokes in one file stayed flat (issue #20). This replays typing through the real `dg-lsp --stdio`
and the daemon it starts, and samples the resident memory (RSS) of both processes at intervals:
- files of several languages from this repository (Python, TypeScript, Lua, JavaScript, Markdown),
  with stretches cut out and typed back one keystroke at a time (bench.typing's typist: a didChange
  and an inlineCompletion per keystroke, Tab for an exact suggestion);
- 1 to 4 documents typed at once, so the daemon batches requests of different contexts;
- maxLines cycling through 1, 3 and 8, so gaps of several sizes are asked for.
It names the machine, prints RSS at each sample with the share of its bound the daemon's prefix cache
fills, and the least-squares slope after warm-up, in MB per 1,000 keystrokes; a slope under --flat-mb is
flat. Warm-up lasts until that cache is nearly full (or, if it never fills, the first quarter of the
samples): memory that grows while a bounded cache fills is that cache, not a leak. Typing starts once
the daemon serves its steady state (its compiled model swapped in).

What bounds each cache, so that a flat slope is expected:
- the daemon's prefix KV cache: 256 MiB of tensors (engine.serve.kvcache.PrefixCache, least recently used out);
- the daemon's token masks for word ends and token healing: 32 MiB (engine.serve.lead.MASK_CACHE_BYTES);
- oneDNN's primitive cache and ideep's computation cache, keyed by matmul shapes: 256 entries each,
  about 140 MB together (engine.__main__.NATIVE_CACHE_BOUNDS; 1,024 each by default);
- compiled graphs: those of the warm-up, at most 16 per layer, and none after (engine.serve.compiled);
- the server's answer cache: 64 answers (lsp_server.memory.CACHE_SIZE); its latency figures: the last
  500 of each kind (lsp_server.stats.RECENT); one shown suggestion per open document.

    python -m bench.soak                          # 20,000 keystrokes
    python -m bench.soak --keystrokes 1000 --sample-every 100    # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from lsprotocol import types

from bench.typing import Client, Tally, Typist, machine, start, status, stop, wait_ready
from engine.client import EngineClient
from engine.protocol import EngineError

REPO = Path(__file__).resolve().parent.parent
LANGUAGES = {".py": "python", ".ts": "typescript", ".lua": "lua", ".mjs": "javascript", ".md": "markdown"}
SOURCES = ["lsp_server/*.py", "engine/*.py", "infill/*.py", "editors/vscode/src/*.ts", "editors/nvim/**/*.lua",
           "tests/editors/*.mjs", "tests/editors/*.lua", "*.md", "editors/*.md"]
MAX_LINES = (1, 3, 8)
# The prefix cache is warm once it holds this share of its bound (least recently used out from there).
FULL = 0.9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def files() -> list[tuple[Path, str]]:
    found = sorted({f for pattern in SOURCES for f in REPO.glob(pattern) if f.suffix in LANGUAGES})
    return [(f, f.read_text()) for f in found if 20 <= f.read_text().count("\n")]


def stretch(text: str, rng: random.Random, length: int) -> tuple[int, int]:
    """A stretch of about `length` characters from a line start to a line end."""
    starts = [i + 1 for i, c in enumerate(text) if c == "\n" and i + 1 < len(text) - length]
    start = rng.choice(starts) if starts else 0
    while start < len(text) and text[start] in " \t":  # the cursor where auto-indent leaves it
        start += 1
    end = text.find("\n", start + length)
    return start, len(text) if end < 0 else end


def slope_mb_per_1000(samples: list[tuple[int, float]]) -> float:
    """Least-squares slope of RSS (MB) over keystrokes, in MB per 1,000 keystrokes."""
    n = len(samples)
    mx = sum(k for k, _ in samples) / n
    my = sum(m for _, m in samples) / n
    var = sum((k - mx) ** 2 for k, _ in samples)
    return 1000 * sum((k - mx) * (m - my) for k, m in samples) / var if var else 0.0


class Soak:
    def __init__(self, client: Client, args: argparse.Namespace, daemon_pid: int):
        self.client, self.args, self.daemon_pid = client, args, daemon_pid
        self.rng = random.Random(args.seed)
        self.tally = Tally()
        self.sources = files()
        self.samples: list[tuple[int, float, float, float]] = []  # keystrokes, dg-lsp MB, daemon MB, cache fill
        self.next_sample = 0
        self.docs = 0

    async def sample(self) -> None:
        if self.tally.keystrokes >= self.next_sample:
            fill = (await status(self.client))["engine"]["status"]["cache_fill"]
            row = (self.tally.keystrokes, rss_mb(self.client._server.pid), rss_mb(self.daemon_pid), fill)
            self.samples.append(row)
            print(f"  {row[0]:>7,} keystrokes   dg-lsp {row[1]:7.1f} MB   daemon {row[2]:7.1f} MB   "
                  f"prefix cache {fill:4.0%} full", flush=True)
            self.next_sample += self.args.sample_every

    async def type_one(self, path: Path, text: str) -> None:
        self.docs += 1
        uri = f"file:///soak/{self.docs}/{path.name}"
        start, end = stretch(text, self.rng, self.rng.choice([30, 80, 200]))
        doc = text[:start] + text[end:]
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=uri, language_id=LANGUAGES[path.suffix], version=1, text=doc)))
        await Typist(self.client, uri, text, self.tally, 0.0).stretch(doc, start, end)
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))

    async def run(self) -> None:
        round_ = 0
        while self.tally.keystrokes < self.args.keystrokes:
            await self.sample()
            max_lines = MAX_LINES[round_ % len(MAX_LINES)]
            self.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
                settings={"dg": {"maxLines": max_lines, "engineSocket": self.args.engine_socket}}))
            batch = self.rng.sample(self.sources, k=1 + round_ % 4)
            await asyncio.gather(*(self.type_one(path, text) for path, text in batch))
            round_ += 1
        await self.sample()


async def main(args: argparse.Namespace) -> dict:
    tmp = tempfile.TemporaryDirectory(prefix="dg-soak-")
    own_engine = args.engine_socket is None
    args.engine_socket = args.engine_socket or str(Path(tmp.name) / "engine.sock")
    client, _ = await start({"engineSocket": args.engine_socket})
    try:
        st = await wait_ready(client)
        soak = Soak(client, args, st["engine"]["status"]["pid"])
        began = time.perf_counter()
        await soak.run()
        minutes = (time.perf_counter() - began) / 60
        engine = (await status(client))["engine"]["status"]
    finally:
        await stop(client)
        if own_engine:
            try:
                EngineClient(args.engine_socket, autostart=False, timeout=30).shutdown()
            except EngineError:
                pass
        tmp.cleanup()
    full = next((i for i, row in enumerate(soak.samples) if row[3] >= FULL), None)
    after = soak.samples[len(soak.samples) // 4 if full is None else full:]
    return {
        "machine": machine(), "keystrokes": soak.tally.keystrokes, "documents": soak.docs,
        "files": len(soak.sources), "minutes": round(minutes, 1), "shown": soak.tally.shown,
        "engine": {k: engine[k] for k in ("requests", "ms_per_step", "cache_hit_rate", "compiled")},
        "samples": soak.samples, "warm_after_keystrokes": after[0][0],
        "slope_mb_per_1000": {"dg-lsp": round(slope_mb_per_1000([(k, a) for k, a, _, _ in after]), 2),
                              "daemon": round(slope_mb_per_1000([(k, b) for k, _, b, _ in after]), 2)},
    }


def report(r: dict, flat_mb: float) -> None:
    print(f"\n{r['machine']}")
    print(f"{r['keystrokes']:,} keystrokes in {r['documents']:,} documents from {r['files']} files, "
          f"{r['minutes']} min; suggestions shown {r['shown']:,} times")
    e = r["engine"]
    print(f"daemon: {e['requests']:,} requests, {e['ms_per_step']} ms per denoising step, prefix cache hit rate "
          f"{e['cache_hit_rate']:.0%}, compiled {e['compiled']}")
    first, last = r["samples"][0], r["samples"][-1]
    for name, i in (("dg-lsp", 1), ("daemon", 2)):
        slope = r["slope_mb_per_1000"][name]
        verdict = "flat" if abs(slope) < flat_mb else "GROWING"
        print(f"  {name:7} RSS {first[i]:7.1f} -> {last[i]:7.1f} MB; after warm-up ({r['warm_after_keystrokes']:,} "
              f"keystrokes) {slope:+.2f} MB per 1,000 keystrokes ({verdict}, bar {flat_mb} MB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keystrokes", type=int, default=20_000)
    ap.add_argument("--sample-every", type=int, default=1_000, help="keystrokes between RSS samples")
    ap.add_argument("--flat-mb", type=float, default=0.5, help="the largest slope called flat, MB per 1,000 keystrokes")
    ap.add_argument("--engine-socket", help="a running engine to use (default: one of its own, shut down after)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    arguments = ap.parse_args()
    result = asyncio.run(main(arguments))
    report(result, arguments.flat_mb)
    if arguments.json:
        arguments.json.write_text(json.dumps(result, indent=1))
