"""Exit statuses, shared by dg-engine and dg-infill so that one failure exits the same in both."""

from __future__ import annotations

import signal

OK = 0
HOLES_LEFT = 1  # dg-infill finished, and left some holes (each record says why)
USAGE = 2  # the command line or the model directory cannot work; the message says what to change
ENGINE = 3  # the engine is unreachable, failed to load its model, or refused a request


def stopped_by(signum: int) -> int:
    """The shell's convention: a run stopped by signal N exits with 128 + N."""
    return 128 + signum


def table(command: str) -> str:
    """The statuses `command` can exit with, for its --help epilog."""
    filling = command == "dg-infill"
    rows = [f"{OK} success"] + ([f"{HOLES_LEFT} some holes left"] if filling else [])
    rows += [f"{USAGE} usage or model directory error", f"{ENGINE} engine error"]
    if filling:
        # A daemon stopped by a signal has done what was asked of it, and exits 0.
        rows.append(f"{stopped_by(signal.SIGINT)} or {stopped_by(signal.SIGTERM)} stopped by SIGINT or SIGTERM "
                    "(every file then written whole or untouched)")
    return "Exit status: " + "; ".join(rows) + "."
