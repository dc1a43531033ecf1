"""Batch infill throughput: holes per second with holes sent concurrently (the daemon micro-batches
them into shared forward passes) against one at a time, in one run, through the real `dg-infill`.

Holes are cut from real standard-library modules: the rest of a code line after its first tokens
becomes a <FILL>. The two modes get different holes of the same kind (the engine's prefix KV cache
would otherwise serve the second mode from the first one's work).

    python -m bench.batch                       # 200 holes each way, the embedded dg-tiny
    python -m bench.batch --holes 40 --jobs 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from engine import DEFAULT_MODEL_DIR
from engine.client import EngineClient
from engine.protocol import EngineError

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<FILL>"
HOLES_PER_FILE = 4
_CODE_LINE = re.compile(r"^(\s*)(\w[^#\n]{12,70})$")


def make_holes(directory: Path, count: int, rng: random.Random, sources: list[Path]) -> None:
    """Write files under `directory` holding `count` holes in all, HOLES_PER_FILE a file."""
    made = 0
    while made < count:
        source = rng.choice(sources)
        lines = source.read_text(encoding="utf-8", errors="replace").split("\n")
        candidates = [i for i, line in enumerate(lines) if _CODE_LINE.match(line)]
        if len(candidates) < HOLES_PER_FILE:
            continue
        take = min(HOLES_PER_FILE, count - made)
        for i in rng.sample(candidates, take):
            indent, code = _CODE_LINE.match(lines[i]).groups()
            cut = rng.randrange(len(code) // 3, 2 * len(code) // 3)
            # Cut at a word boundary, so no hole falls inside a word (no completion there).
            while cut > 0 and (code[cut - 1].isalnum() or code[cut - 1] == "_"):
                cut -= 1
            lines[i] = indent + code[:cut] + MARKER
        (directory / f"h{made:04d}_{source.name}").write_text("\n".join(lines), encoding="utf-8")
        made += take


def start_engine(sock: Path, log: Path, model: Path) -> tuple[subprocess.Popen, EngineClient]:
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--model", str(model), "--socket", str(sock),
                             "--log-file", str(log)], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = EngineClient(sock, autostart=False, timeout=120)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if client.status().settled:  # the steady state: compiled and warmed
                return proc, client
        except EngineError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"error: the engine did not start; see {log}")


def fill(directory: Path, sock: Path, jobs: int) -> tuple[float, dict[str, int]]:
    """Wall seconds for `dg-infill` over `directory`, and the count of each hole status."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "batch_cli.__main__", str(directory), "--json", "--no-progress",
                          "--socket", str(sock), "--jobs", str(jobs), "--timeout", "3600"],
                         cwd=ROOT, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if out.returncode not in (0, 1):
        sys.exit(f"error: dg-infill exited with {out.returncode}:\n{out.stderr.decode()}")
    statuses: dict[str, int] = {}
    for line in out.stdout.decode().splitlines():
        status = json.loads(line)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    return seconds, statuses


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--holes", type=int, default=200, help="holes for each mode (default: 200)")
    ap.add_argument("--jobs", type=int, default=16, help="holes in flight in the concurrent mode (default: 16)")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sources = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    with tempfile.TemporaryDirectory(prefix="dg-bench-batch-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o700)
        batched_dir, serial_dir = tmp / "batched", tmp / "serial"
        for directory in (batched_dir, serial_dir):
            directory.mkdir()
            make_holes(directory, args.holes, rng, sources)
        sock = tmp / "engine.sock"
        proc, client = start_engine(sock, tmp / "engine.log", args.model)
        try:
            status = client.status()
            batched_s, batched = fill(batched_dir, sock, args.jobs)
            serial_s, serial = fill(serial_dir, sock, 1)
            after = client.status()
        finally:
            client.shutdown()
            proc.wait(timeout=60)

    batched_rate, serial_rate = args.holes / batched_s, args.holes / serial_s
    print(f"machine: {machine()}")
    print(f"engine: {status.model} on {status.device} ({status.dtype}); {after.ms_per_step:.1f} ms per step, "
          f"{after.steps_per_infill:.1f} steps per infill over the run")
    print(f"concurrent (--jobs {args.jobs}): {args.holes} holes in {batched_s:.1f} s = {batched_rate:.2f} holes/s  {batched}")
    print(f"one at a time (--jobs 1): {args.holes} holes in {serial_s:.1f} s = {serial_rate:.2f} holes/s  {serial}")
    print(f"ratio concurrent / one at a time: {batched_rate / serial_rate:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
