"""Keystroke replay over a 5,000-line Python file: incremental parsing against a full reparse.

Each keystroke is an edit (with the editor's auto-closed brackets), then `build_request` at the
cursor and `postprocess` of a plausible completion (the rest of the line the user goes on to type).
The same keystrokes are replayed on a document that is reparsed from scratch on each one.
Times are wall clock (one replay, and per keystroke the best of three) and thread CPU time: on a
shared machine the first is inflated by preemption, which the other two leave out.

    .venv/bin/python -m bench.infill
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

from infill import Document, build_request, postprocess  # noqa: E402
from infill.syntax import literal_at  # noqa: E402

STDLIB = Path(os.__file__).parent
# shlex has non-ASCII text, so str <-> byte offset conversion is on the measured path.
MODULES = ("shlex.py", "argparse.py", "difflib.py")
LINES = 5000
TYPED = ("result = self.helper(value, key=name)", "if not items:", "return sorted(found)",
         "total += len(chunk)", "raise ValueError(msg % (name,))", "for index, line in enumerate(lines):",
         "self._cache[key] = [item.strip() for item in parts]", "print('done', file=sys.stderr)",
         "assert isinstance(value, str), value", "names = {n: v for n, v in pairs}")
SPOTS = tuple(i / 10 + 0.05 for i in range(10))
REPEATS = 3


def source() -> str:
    lines = "".join((STDLIB / name).read_text(encoding="utf-8") for name in MODULES).splitlines(keepends=True)
    return "".join(lines[:LINES])


def spot(doc: Document, fraction: float) -> int:
    """End of the first simple statement 8 columns deep at or after `fraction` of the file that the
    next line continues at the same depth: a new line typed there extends a function body."""
    lines = doc.text.splitlines(keepends=True)
    row = int(len(lines) * fraction)
    while True:
        offset = sum(len(line) for line in lines[:row]) + len(lines[row].rstrip("\n"))
        if _simple(lines[row]) and _simple(lines[row + 1]) and literal_at(doc, offset) is None:
            return offset
        row += 1


def _simple(line: str) -> bool:
    code = line.rstrip()
    return (line.startswith(" " * 8) and line[8] not in " #\n" and not code.endswith((":", "\\", "(", ",", "["))
            and not any(quote in code for quote in "'\""))


# What an editor inserts with each opening bracket or quote, and lets the user type over.
AUTO_CLOSE = {"(": ")", "[": "]", "{": "}", "'": "'"}


def keystrokes(offset: int, indent: str, typed: str):
    """(start, end, new_text, cursor after, completion the model would give) per keystroke."""
    yield offset, offset, "\n" + indent, offset + 1 + len(indent), typed
    cursor = offset + 1 + len(indent)
    closers = ""
    for i, char in enumerate(typed):
        rest = typed[i + 1:]
        if closers and char == closers[0]:
            closers = closers[1:]
            yield cursor, cursor, "", cursor + 1, rest
        elif char in AUTO_CLOSE:
            closers = AUTO_CLOSE[char] + closers
            yield cursor, cursor, char + AUTO_CLOSE[char], cursor + 1, rest
        else:
            yield cursor, cursor, char, cursor + 1, rest
        cursor += 1


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


STEPS = ("edit+parse", "build_request", "postprocess", "request+postprocess", "keystroke")


def replay(text: str, incremental: bool, clock) -> dict[str, list[float]]:
    doc = Document(text, "python", "bench.py")
    doc.tree  # noqa: B018 - the first parse is not a keystroke's
    times: dict[str, list[float]] = {step: [] for step in STEPS}
    spots = [spot(doc, fraction) for fraction in SPOTS]
    shift = 0
    for offset, typed in zip(spots, TYPED):
        for start, end, new_text, cursor, raw in keystrokes(offset + shift, " " * 8, typed):
            t0 = clock()
            if incremental:
                doc.apply_change(start, end, new_text)
            else:
                doc.replace_all(doc.text[:start] + new_text + doc.text[end:])
            doc.tree  # noqa: B018 - the reparse, done lazily, belongs to the edit
            t1 = clock()
            request = build_request(doc, cursor)
            t2 = clock()
            postprocess(request, raw, doc)
            t3 = clock()
            for step, value in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t3 - t1, t3 - t0)):
                times[step].append(value * 1000)
        shift = len(doc.text) - len(text)
    return times


def report(title: str, incremental: dict[str, list[float]], full: dict[str, list[float]]) -> None:
    print(f"{title + ', ms':22}{'incremental p50':>17}{'p95':>8}{'full reparse p50':>18}{'p95':>8}")
    for step in STEPS:
        (ip50, ip95), (fp50, fp95) = percentiles(incremental[step]), percentiles(full[step])
        print(f"{step:22}{ip50:17.3f}{ip95:8.3f}{fp50:18.3f}{fp95:8.3f}")
    (_, i95), (_, f95) = percentiles(incremental["keystroke"]), percentiles(full["keystroke"])
    (_, e95), (_, g95) = percentiles(incremental["edit+parse"]), percentiles(full["edit+parse"])
    goal = percentiles(incremental["request+postprocess"])[1]
    print(f"ratio full/incremental at p95: keystroke {f95 / i95:.1f}x, edit+parse {g95 / e95:.1f}x; "
          f"request+postprocess p95 {goal:.3f} ms, goal < 2 ms {'met' if goal < 2 else 'missed'}")


def processor() -> str:
    # platform.processor() is empty on many Linux machines; /proc/cpuinfo names the model.
    if platform.processor():
        return platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown processor"


def best(runs: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per keystroke, the fastest of several replays: what the code costs without the preemption
    of a shared machine."""
    return {step: [min(run[step][i] for run in runs) for i in range(len(runs[0][step]))] for step in STEPS}


def main() -> None:
    text = source()
    replay(text, True, time.perf_counter)  # warm-up: grammar load, caches, allocator
    print(f"machine: {platform.machine()} {processor()}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    print(f"file: {text.count(chr(10))} lines, {len(text)} chars ({', '.join(MODULES)})")
    incremental = [replay(text, True, time.perf_counter) for _ in range(REPEATS)]
    full = [replay(text, False, time.perf_counter) for _ in range(REPEATS)]
    print(f"{len(incremental[0]['keystroke'])} keystrokes, replayed {REPEATS} times")
    report("wall clock", incremental[0], full[0])
    report(f"wall, best of {REPEATS}", best(incremental), best(full))
    report("thread CPU", replay(text, True, time.thread_time), replay(text, False, time.thread_time))

if __name__ == "__main__":
    main()
