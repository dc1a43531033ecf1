"""What a run tells the user: diffs or JSON records on stdout, progress and messages on stderr.

Output for files is emitted in the order the files were given, whatever order they finish in, so
two runs over the same tree print the same way.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from batch_cli.plan import FILLED, FilePlan

_LINES = re.compile(r"[^\n]*\n|[^\n]+$")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split at "\\n" only (str.splitlines also splits at form feeds)."""
    return _LINES.findall(text)


def unified_diff(file_plan: FilePlan) -> bytes:
    """A `git apply`-able diff of the file, its lines in the file's own encoding (and BOM)."""
    file = file_plan.file
    # Patch tools read lines of bytes split at b"\n": a UTF-16 or UTF-32 file cannot be patched, so
    # its diff is shown in UTF-8, for reading.
    patchable = "+\n".encode(file.encoding) == b"+\n"
    encoding = file.encoding if patchable else "utf-8"
    # The BOM is part of the first line's bytes, so a patch tool matches it there.
    bom = file.bom.decode(file.encoding) if patchable else ""
    old, new = split_lines(bom + file.text), split_lines(bom + (file_plan.new_text or ""))
    out = []
    name = file_plan.display
    for line in difflib.unified_diff(old, new, f"a/{name}", f"b/{name}", lineterm="\n"):
        if line.startswith(("---", "+++", "@@")):
            out.append(line.encode("utf-8", "surrogateescape"))
            continue
        out.append(line.encode(encoding))
        if not line.endswith("\n"):
            out.append(b"\n\\ No newline at end of file\n")
    return b"".join(out)


def records(file_plan: FilePlan) -> list[dict]:
    return [{
        "file": file_plan.display,
        "line": outcome.hole.line,
        "col": outcome.hole.col,
        "text": outcome.text,
        "steps": outcome.steps,
        "confidence": None if outcome.confidence is None else round(outcome.confidence, 4),
        "ms": round(outcome.ms, 1),
        "status": outcome.status,
        **({"message": outcome.message} if outcome.message else {}),
        **(outcome.trace or {}),
    } for outcome in file_plan.outcomes]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Reporter:
    def __init__(self, *, as_json: bool, write: bool, progress: bool | None = None):
        self.as_json = as_json
        self.write = write
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.progress_bar = self.err.is_terminal if progress is None else progress
        self._progress: Progress | None = None
        self._task = None
        self._ready: dict[int, FilePlan] = {}
        self._next = 0
        self.statuses: Counter[str] = Counter()
        self.files_written = 0
        self.files_with_holes = 0

    # Messages -----------------------------------------------------------------------------------

    def _print(self, markup: str) -> None:
        (self._progress.console if self._progress else self.err).print(markup)

    def error(self, message: str) -> None:
        self._print(f"[bold red]error[/]: {escape(message)}")

    def warning(self, message: str) -> None:
        self._print(f"[bold yellow]warning[/]: {escape(message)}")

    def hint(self, message: str) -> None:
        self._print(f"[bold cyan]hint[/]: {escape(message)}")

    # Progress -----------------------------------------------------------------------------------

    def start(self, holes: int, files: int) -> None:
        self.files_with_holes = files
        if self.progress_bar:
            self._progress = Progress(TextColumn("Filling"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("holes"), TimeElapsedColumn(), console=self.err)
            self._progress.start()
            self._task = self._progress.add_task("fill", total=holes)
        else:
            self.err.print(f"Filling {plural(holes, 'hole')} in {plural(files, 'file')}")

    def answered(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    # Results ------------------------------------------------------------------------------------

    def file_done(self, position: int, file_plan: FilePlan, written: bool) -> None:
        """Report a finished file; its diff or records wait for the files given before it."""
        self.files_written += written
        for outcome in file_plan.outcomes:
            self.statuses[outcome.status] += 1
            where = f"{file_plan.display}:{outcome.hole.line}:{outcome.hole.col}"
            if outcome.status != FILLED:
                self._print(f"{escape(where)}: [yellow]{outcome.status}[/]: {escape(outcome.message)}")
            elif not self.progress_bar:
                confidence = f", confidence {outcome.confidence:.2f}" if outcome.confidence is not None else ""
                self._print(f"{escape(where)}: filled ({outcome.steps} steps{confidence}, {outcome.ms:.0f} ms)")
        self._ready[position] = file_plan
        while self._next in self._ready:
            self._emit(self._ready.pop(self._next))
            self._next += 1

    def flush(self) -> None:
        """Emit every finished file still waiting for an unfinished one (the run was cut short)."""
        for position in sorted(self._ready):
            self._emit(self._ready.pop(position))

    def _emit(self, file_plan: FilePlan) -> None:
        if self.as_json:
            # JSON is UTF-8 whatever the locale says stdout is.
            out = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records(file_plan))
            self._stdout(out.encode("utf-8", "surrogatepass"))
        elif not self.write and file_plan.changed:
            self._stdout(unified_diff(file_plan))

    def _stdout(self, data: bytes) -> None:
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            # The reader went away (`dg-infill | head`): the run goes on, files are still written
            # with --write, and what would be printed goes nowhere instead of raising at every file.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)

    # Summary ------------------------------------------------------------------------------------

    @property
    def holes_left(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != FILLED)

    def summary(self) -> None:
        total = sum(self.statuses.values())
        filled = self.statuses[FILLED]
        line = f"Filled {filled} of {plural(total, 'hole')} in {plural(self.files_with_holes, 'file')}"
        left = {status: count for status, count in sorted(self.statuses.items()) if status != FILLED}
        if left:
            line += " (" + ", ".join(f"{count} {status}" for status, count in left.items()) + " left)"
        self.err.print(line + ".")
        if self.write:
            self.err.print(f"Wrote {plural(self.files_written, 'file')}.")
        elif filled and not self.as_json:
            self.hint("apply the diff with --write")
