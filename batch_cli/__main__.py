"""`dg-infill`: fill code holes across files and directories, headless, with the editor's pipeline.

    dg-infill src/                       # a diff for every <FILL> under src/
    dg-infill src/ --write               # apply it, file by file, atomically
    dg-infill --at app.py:12:9 --json    # one spot, one JSON record
    dg-infill --span app.py:20-28        # regenerate lines 20 to 28

Exit status: engine/exit_status.py, shared with dg-engine (and --help). A run stopped by SIGINT or
SIGTERM leaves every file either written whole or untouched.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from engine import DEFAULT_MODEL_DIR, exit_status
from engine.protocol import EngineError, Status
from engine.remote import check_url
from engine.modeldir import ModelDirError, check_dir
from batch_cli.atomic import ChangedOnDisk, leftovers, replace_if_unchanged
from batch_cli.collect import Spot, UsageError, collect
from batch_cli.engines import open_engine
from batch_cli.files import Filters
from batch_cli.plan import CHANGED, ENGINE_ERROR, WRITE_FAILED, FilePlan, leave_uncovered, mark_unwritten
from batch_cli.report import Reporter, plural
from batch_cli.run import fill_all
from batch_cli.textfile import TextFile
from infill.languages import LANGUAGES
from engine.spec import ModelSpec
from infill.settings import MAX_LINES_LIMIT, Settings

DEFAULT_MARKER = "<FILL>"
DEFAULT_JOBS = 16
DEFAULT_MAX_BYTES = 1_000_000
# Generous: on a CPU a hole may wait for several batches of others before its own is denoised.
DEFAULT_TIMEOUT_S = 600.0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _max_lines(value: str) -> int:
    number = int(value)
    if not 1 <= number <= MAX_LINES_LIMIT:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_LINES_LIMIT}, not {number}")
    return number


def _confidence(value: str) -> float:
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {value}")
    return number


def parser() -> argparse.ArgumentParser:
    languages = sorted({lang.name for lang in LANGUAGES} | {"text"})
    ap = argparse.ArgumentParser(
        prog="dg-infill", description="Fill code holes across files with the dg-lsp diffusion model.",
        epilog=exit_status.table("dg-infill"))
    ap.add_argument("paths", nargs="*", metavar="PATH", help="files and directories to search for holes")
    holes = ap.add_argument_group("holes")
    holes.add_argument("--marker", default=DEFAULT_MARKER, metavar="TEXT",
                       help=f"text that marks a hole (default: {DEFAULT_MARKER})")
    holes.add_argument("--at", action="append", default=[], metavar="FILE:LINE:COL",
                       help="fill at one position (1-based line and column); repeatable")
    holes.add_argument("--span", action="append", default=[], metavar="FILE:START-END",
                       help="regenerate lines START to END (1-based, inclusive); repeatable")
    files = ap.add_argument_group("files")
    files.add_argument("--lang", action="append", default=[], metavar="LANG",
                       help=f"only files in these languages, comma-separated: {', '.join(languages)}")
    files.add_argument("--glob", action="append", default=[], metavar="GLOB",
                       help="only files matching GLOB (gitignore syntax; '!GLOB' excludes); repeatable")
    files.add_argument("--no-ignore", action="store_true", help="do not skip files that .gitignore ignores")
    files.add_argument("--max-bytes", type=_positive, default=DEFAULT_MAX_BYTES, metavar="N",
                       help=f"skip files larger than N bytes (default: {DEFAULT_MAX_BYTES})")
    files.add_argument("--encoding", default="latin-1", metavar="ENC",
                       help="encoding of files that are neither UTF-8 nor marked by a BOM (default: latin-1)")
    output = ap.add_argument_group("output")
    output.add_argument("--write", action="store_true", help="write the changes instead of printing a diff")
    output.add_argument("--json", action="store_true", help="print one JSON record per hole instead of a diff")
    output.add_argument("--allow-parse-errors", action="store_true",
                        help="keep completions that make the file fail to parse")
    output.add_argument("--min-confidence", type=_confidence, metavar="X",
                        help="fill a hole as far as the model's joint confidence reaches X, as the editor shows "
                             "it (default: the model's own, `dg-engine status` shows it)")
    output.add_argument("--max-lines", type=_max_lines, metavar="N",
                        help="longest completion for a block hole, in lines (default: the model's own)")
    output.add_argument("--no-progress", action="store_true", help="plain progress lines even on a terminal")
    output.add_argument("--trace", action="store_true",
                        help="add to each JSON record what the model saw: its encoder prompt as text and its "
                             "starting canvas (flanks in clear, each gap slot as '·'); implies --json")
    engine = ap.add_argument_group("engine")
    engine.add_argument("--jobs", "-j", type=_positive, default=DEFAULT_JOBS, metavar="N",
                        help=f"holes in flight at once, batched by the engine (default: {DEFAULT_JOBS})")
    engine.add_argument("--model", type=Path, metavar="DIR", help="model directory (default: the embedded dg-tiny)")
    engine.add_argument("--socket", metavar="PATH", help="engine socket, or tcp://HOST:PORT (default: per model)")
    engine.add_argument("--in-process", action="store_true", help="run the engine in this process, without a daemon")
    engine.add_argument("--engine-url", metavar="URL",
                        help="use an OpenAI-compatible server as the engine, http(s)://HOST:PORT/v1 (vLLM serving "
                             "DiffusionGemma, or dg-engine serve --http), through its chat completions")
    engine.add_argument("--token-file", type=Path, metavar="PATH",
                        help="read the engine's token from PATH (default: $DG_ENGINE_TOKEN)")
    engine.add_argument("--token", help="the engine's token on the command line, where `ps` shows it (avoid)")
    engine.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"seconds to wait for one answer, queueing included (default: {DEFAULT_TIMEOUT_S:.0f})")
    return ap


def write_file(file_plan: FilePlan, reporter: Reporter) -> bool:
    """Write a composed file over the original; False (and its holes left) when it cannot."""
    file: TextFile = file_plan.file
    try:
        replace_if_unchanged(file.path, file.encode(file_plan.new_text), file.snapshot)
    except ChangedOnDisk as exc:
        reporter.error(str(exc))
        mark_unwritten(file_plan, CHANGED, "the file changed since it was read; not written")
        return False
    except OSError as exc:
        reporter.error(f"{file_plan.display}: cannot write: {exc.strerror or exc}")
        mark_unwritten(file_plan, WRITE_FAILED, f"cannot write: {exc.strerror or exc}")
        return False
    return True


async def run(args, reporter: Reporter, plans: list[FilePlan]) -> int:
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)

    def on_file(position: int, file_plan: FilePlan) -> None:
        # No await in here: a signal is handled between files, never halfway through a write.
        written = False
        if args.write and file_plan.changed:
            written = write_file(file_plan, reporter)
        reporter.file_done(position, file_plan, written)

    reporter.start(sum(len(p.holes) for p in plans), len(plans))
    unreachable: list[EngineError] = []
    try:
        try:
            # No engine when every hole was left before asking (a language the model does not cover).
            asking = any(request is not None for file_plan in plans for request in file_plan.requests)
            async with (open_engine_of(args) if asking else contextlib.nullcontext()) as engine:
                await fill_all(engine, plans, jobs=args.jobs, min_confidence=args.min_confidence,
                               allow_parse_errors=args.allow_parse_errors, on_answer=reporter.answered,
                               on_file=on_file, trace=args.trace)
        except* EngineError as group:
            # fill_all lets only an unreachable engine through; each other error stays with its hole.
            unreachable.extend(_leaves(group))
    except asyncio.CancelledError:
        if not received:
            raise
        return interrupted(args, reporter, received[0])
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    reporter.stop()
    if unreachable:
        reporter.flush()
        reporter.error(f"engine unavailable: {unreachable[0]}")
        return exit_status.ENGINE
    reporter.summary()
    if reporter.statuses[ENGINE_ERROR]:
        return exit_status.ENGINE
    return exit_status.HOLES_LEFT if reporter.holes_left else exit_status.OK


def open_engine_of(args):
    return open_engine(model_dir=args.model, socket=args.socket, in_process=args.in_process, timeout=args.timeout,
                       engine_url=args.engine_url, token=args.token, token_file=args.token_file)


def model_defaults(args) -> tuple[tuple[str, ...], float | None, int | None]:
    """The languages, gate and max lines of the model that fills the holes: the remote server's (its
    model list says them), else the model directory's spec. EngineError when the server cannot say."""
    if args.engine_url:
        status = asyncio.run(_remote_status(args))
        return tuple(status.languages), status.min_confidence, status.max_lines
    spec = ModelSpec.read(args.model or DEFAULT_MODEL_DIR)
    return spec.languages, spec.min_confidence, spec.max_lines


async def _remote_status(args) -> Status:
    async with open_engine_of(args) as engine:
        await engine.connect()
        return await engine.status()


def check_engine_args(args, reporter: Reporter) -> None:
    """UsageError for engine options that do not go together."""
    if args.token:
        reporter.warning("--token shows in `ps` to every user of this machine; prefer $DG_ENGINE_TOKEN or "
                         "--token-file")
    if not args.engine_url:
        return
    try:
        args.engine_url = check_url(args.engine_url)
    except ValueError as exc:
        raise UsageError(f"--engine-url: {exc}") from None
    clash = [flag for flag, given in (("--in-process", args.in_process), ("--socket", args.socket),
                                      ("--model", args.model), ("--trace", args.trace)) if given]
    if clash:
        raise UsageError(f"--engine-url uses the server's model, and cannot go with {', '.join(clash)}")


def interrupted(args, reporter: Reporter, signum: int) -> int:
    reporter.stop()
    reporter.flush()
    name = signal.Signals(signum).name
    if args.write:
        reporter.error(f"interrupted by {name}: {plural(reporter.files_written, 'file')} written in full, "
                       "the others untouched")
    else:
        reporter.error(f"interrupted by {name}; no file was changed")
    return exit_status.stopped_by(signum)


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    """The exceptions in a (nested) exception group, as TaskGroups inside TaskGroups raise them."""
    out = []
    for exc in group.exceptions:
        out.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    reporter = Reporter(as_json=args.json or args.trace, write=args.write,
                        progress=False if args.no_progress else None)
    try:
        if not args.paths and not args.at and not args.span:
            raise UsageError("no paths given; pass files or directories to search for holes, or --at/--span")
        if not args.marker:
            raise UsageError("--marker must not be empty")
        known = {lang.name for lang in LANGUAGES} | {"text"}
        languages = {name.strip() for value in args.lang for name in value.split(",") if name.strip()}
        unknown = sorted(languages - known)
        if unknown:
            raise UsageError(f"unknown language {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}")
        try:
            "".encode(args.encoding)
        except LookupError:
            raise UsageError(f"unknown encoding {args.encoding!r}") from None
        check_engine_args(args, reporter)
        if args.model is not None or args.in_process:
            check_dir(args.model or DEFAULT_MODEL_DIR)
        model_languages, model_confidence, model_lines = model_defaults(args)
        # What the user left unset comes from the model's spec, as in the editor.
        chosen = Settings(min_confidence=args.min_confidence, max_lines=args.max_lines)
        resolved = chosen.for_model(model_confidence, model_lines)
        args.min_confidence, args.max_lines = resolved.min_confidence, resolved.max_lines
        spots = [Spot.parse("--at", spec) for spec in args.at] + [Spot.parse("--span", spec) for spec in args.span]
        plans = collect(args.paths, spots, Filters.create(languages, args.glob, not args.no_ignore), reporter,
                        marker=args.marker, max_bytes=args.max_bytes, encoding=args.encoding,
                        max_lines=args.max_lines)
        for file_plan in plans:
            leave_uncovered(file_plan, model_languages)
            for stale in leftovers(file_plan.file.path):
                stale.unlink(missing_ok=True)
                reporter.warning(f"removed {stale}, a temporary file an interrupted run left (the file beside it is whole)")
    except (UsageError, ModelDirError) as exc:
        reporter.error(str(exc))
        return exit_status.USAGE
    except EngineError as exc:
        reporter.error(f"engine unavailable: {exc}")
        return exit_status.ENGINE
    if not plans:
        reporter.err.print(f"No holes found (looked for {args.marker!r}).", markup=False)
        return exit_status.OK
    try:
        return asyncio.run(run(args, reporter, plans))
    except KeyboardInterrupt:
        # Ctrl-C while the run's own handler was not installed (starting up or summing up).
        return interrupted(args, reporter, signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
