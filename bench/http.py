"""HTTP against the socket: /infill requests per second and latency p50/p95 with 1, 4 and 16
concurrent clients on loopback, against the same load over the Unix socket, in the same run and on
the same daemon (`dg-engine serve --http`), so the ratio is what HTTP costs.

Each client is one connection (an editor) sending its next request when the last is answered. Both
doors get the same requests, after a pass that warms the prefix KV cache for all of them, so they
ask the model for the same work (a request's completion does not depend on its batch). The daemon
runs its compiled model: the run waits for it to take over (on a CPU a minute or two).

    python -m bench.http                   # 48 requests per door and level, the embedded dg-tiny
    python -m bench.http --requests 16 --clients 1,4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.engine import contexts, pct
from bench.infill import processor
from engine import DEFAULT_MODEL_DIR
from engine.client import AsyncEngineClient, EngineClient
from engine.protocol import EngineError

GAP_TOKENS = 16


async def drive(clients: int, requests: list[tuple[str, str]], ask) -> tuple[float, list[float]]:
    """`clients` workers share `requests`; returns the wall time and each request's latency (ms)."""
    queue: asyncio.Queue = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    latencies: list[float] = []

    async def worker(k: int) -> None:
        async with ask(k) as send:
            while not queue.empty():
                prefix, suffix = queue.get_nowait()
                t0 = time.perf_counter()
                await send(prefix, suffix)
                latencies.append(1000 * (time.perf_counter() - t0))

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(clients)))
    return time.perf_counter() - t0, latencies


def socket_door(sock: Path):
    class Session:
        def __init__(self, k: int):
            self.client = AsyncEngineClient(sock, autostart=False, timeout=600)
            self.k = k

        async def __aenter__(self):
            async def send(prefix: str, suffix: str) -> None:
                # One document per client, as an editor has: no request supersedes another client's.
                await self.client.infill(prefix, suffix, max_tokens=GAP_TOKENS, doc=f"bench-{self.k}")
            return send

        async def __aexit__(self, *exc):
            await self.client.close()

    return Session


def http_door(url: str):
    class Session:
        def __init__(self, k: int):
            # One connection per client, kept alive, as llama.vim's curl or an editor's HTTP client has.
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))

        async def __aenter__(self):
            async def send(prefix: str, suffix: str) -> None:
                async with self.session.post(url, json={"input_prefix": prefix, "input_suffix": suffix,
                                                        "n_predict": GAP_TOKENS}) as r:
                    if r.status != 200:
                        raise SystemExit(f"/infill answered {r.status}: {await r.text()}")
                    await r.json()
            return send

        async def __aexit__(self, *exc):
            await self.session.close()

    return Session


def start_daemon(model: Path, sock: Path, port: int, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", str(model), "--socket",
                                 str(sock), "--http", f"127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT)


def wait_settled(sock: Path, proc: subprocess.Popen, log: Path, timeout: float):
    client = EngineClient(sock, autostart=False, timeout=10)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            status = client.status()
            if status.settled:
                return status
        except EngineError:
            pass
        time.sleep(1)
    raise SystemExit(f"the compiled model did not take over within {timeout:.0f} s; see {log}")


async def measure(sock: Path, url: str, levels: list[int], requests: list[tuple[str, str]]) -> list[dict]:
    await drive(4, requests, socket_door(sock))  # warm the prefix cache for every request
    rows = []
    for clients in levels:
        row = {"clients": clients}
        for name, door in (("socket", socket_door(sock)), ("http", http_door(url))):
            wall, latencies = await drive(clients, requests, door)
            row[name] = dict(rps=len(requests) / wall, p50=pct(latencies, 0.5), p95=pct(latencies, 0.95))
        rows.append(row)
        print_row(row)
    return rows


def print_row(row: dict) -> None:
    s, h = row["socket"], row["http"]
    print(f"{row['clients']:>7} | {s['rps']:>6.2f} {s['p50']:>7.1f} {s['p95']:>7.1f} | {h['rps']:>6.2f} "
          f"{h['p50']:>7.1f} {h['p95']:>7.1f} | {h['rps'] / s['rps']:>8.2f}x {h['p50'] / s['p50']:>8.2f}x "
          f"{h['p95'] / s['p95']:>8.2f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--requests", type=int, default=48, help="requests per door and concurrency level")
    ap.add_argument("--clients", default="1,4,16", help="concurrency levels")
    ap.add_argument("--settle-timeout", type=float, default=900, help="seconds to wait for the compiled model")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        sock, log = Path(tmp) / "engine.sock", Path(tmp) / "engine.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = start_daemon(args.model, sock, port, log)
        try:
            status = wait_settled(sock, proc, log, args.settle_timeout)
            print(f"machine: {platform.machine()} {os.cpu_count()} cores, {processor()}, load average "
                  f"{os.getloadavg()[0]:.1f}; Python {platform.python_version()}, aiohttp {aiohttp.__version__}")
            print(f"model: {status.model} on {status.device} ({status.dtype}, "
                  f"{'compiled' if status.compiled else 'eager'}); /infill n_predict {GAP_TOKENS} "
                  f"(socket: max_tokens {GAP_TOKENS}); {args.requests} requests per door and level, warm cache\n")
            head = (f"{'clients':>7} | {'sock/s':>6} {'p50 ms':>7} {'p95 ms':>7} | {'http/s':>6} {'p50 ms':>7} "
                    f"{'p95 ms':>7} | {'http/sock':>9} {'p50 ratio':>9} {'p95 ratio':>9}")
            print(head)
            print("-" * len(head))
            asyncio.run(measure(sock, f"http://127.0.0.1:{port}/infill", levels,
                                contexts(args.requests, seed=7)))
        finally:
            try:
                EngineClient(sock, autostart=False, timeout=10).shutdown()
                proc.wait(timeout=60)
            except (EngineError, subprocess.TimeoutExpired):
                proc.kill()


if __name__ == "__main__":
    main()
