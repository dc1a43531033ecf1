"""What a run works on: the files named or found, and the holes in each (markers, --at, --span)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from batch_cli.files import Filters, walk
from batch_cli.holes import Hole, HoleError, at, find_markers, span
from batch_cli.plan import FilePlan, plan
from batch_cli.report import Reporter
from batch_cli.textfile import Unreadable, read


class UsageError(Exception):
    """A command line that names nothing to do, or something that is not there."""


@dataclass(frozen=True)
class Spot:
    """One --at FILE:LINE:COL or --span FILE:START-END."""

    option: str
    spec: str
    path: Path
    numbers: tuple[int, int]

    @classmethod
    def parse(cls, option: str, spec: str) -> Spot:
        if option == "--at":
            name, *numbers = spec.rsplit(":", 2)
        else:
            name, _, numbers_text = spec.rpartition(":")
            numbers = numbers_text.split("-")
        if not name or len(numbers) != 2 or not all(n.isdigit() for n in numbers):
            shape = "FILE:LINE:COL" if option == "--at" else "FILE:START-END"
            raise UsageError(f"{option} {spec!r}: expected {shape} with 1-based numbers")
        if not Path(name).is_file():
            raise UsageError(f"{option} {spec}: {name}: no such file")
        return cls(option, spec, Path(name), (int(numbers[0]), int(numbers[1])))

    def hole(self, text: str) -> Hole:
        try:
            return (at if self.option == "--at" else span)(text, *self.numbers)
        except HoleError as exc:
            raise UsageError(f"{self.option} {self.spec}: {exc}") from None


@dataclass
class Target:
    path: Path
    markers: bool = False  # search the file for markers (it was given as a PATH or found in one)
    spots: list[Spot] = field(default_factory=list)

    @property
    def display(self) -> str:
        return self.path.as_posix()


def targets(paths: list[str], spots: list[Spot], filters: Filters) -> list[Target]:
    """Every file to look at, once each however many times it is named."""
    found: dict[Path, Target] = {}

    def target(path: Path) -> Target:
        return found.setdefault(path.resolve(), Target(path))

    for name in paths:
        path = Path(name)
        if path.is_dir():
            for file in walk(path, filters):
                target(file).markers = True
        elif path.is_file():
            target(path).markers = True
        else:
            raise UsageError(f"{name}: no such file or directory")
    for spot in spots:
        target(spot.path).spots.append(spot)
    return list(found.values())


def collect(paths: list[str], spots: list[Spot], filters: Filters, reporter: Reporter, *, marker: str,
            max_bytes: int, encoding: str, max_lines: int) -> list[FilePlan]:
    """A plan for every file with holes; files that cannot be read are skipped with a warning."""
    plans = []
    for target in targets(paths, spots, filters):
        try:
            file = read(target.path, max_bytes=max_bytes, fallback_encoding=encoding)
        except (Unreadable, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            if target.spots:
                # The user named a place in this file: not filling it is an error, not a skip.
                raise UsageError(f"{target.display}: {reason}") from None
            reporter.warning(f"{target.display}: skipped: {reason}")
            continue
        holes = [spot.hole(file.text) for spot in target.spots]
        if target.markers:
            holes += find_markers(file.text, marker)
        holes.sort(key=lambda hole: (hole.start, hole.end))
        for first, second in itertools.pairwise(holes):
            # Touching holes would open into one gap, with no text to tell their fills apart.
            if second.start <= first.end:
                raise UsageError(f"{target.display}: holes at {first.line}:{first.col} and "
                                 f"{second.line}:{second.col} overlap or touch; make them one hole")
        if holes:
            plans.append(plan(target.display, file, holes, max_lines=max_lines))
    return plans
