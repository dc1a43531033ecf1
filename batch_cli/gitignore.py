"""gitignore matching, as git does it (gitignore(5)): the walk skips what `git status` would.

Patterns are compiled to regular expressions over slash-separated paths relative to the directory
of the file that holds them. The same compiler serves `--glob`, so both read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    # The pattern's directory relative to the walk's root ("" for the root itself).
    base: str

    def matches(self, rel_path: str, is_dir: bool) -> bool:
        """Whether the pattern matches `rel_path` (relative to the root, slash-separated)."""
        if self.dir_only and not is_dir:
            return False
        if self.base:
            if not rel_path.startswith(self.base + "/"):
                return False
            rel_path = rel_path[len(self.base) + 1:]
        return self.regex.fullmatch(rel_path) is not None


def compile_pattern(line: str, base: str = "") -> Pattern | None:
    """One line of a .gitignore file; None for blank lines and comments."""
    line = _strip_trailing_spaces(line.rstrip("\n").rstrip("\r"))
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate:
        line = line[1:]
    dir_only = line.endswith("/") and not line.endswith("\\/")
    line = line.rstrip("/") if dir_only else line
    if not line:
        return None
    # A slash at the start or in the middle anchors the pattern to its directory; otherwise it
    # matches at any depth below it.
    anchored = "/" in line
    body = _translate(line.lstrip("/") if anchored else line)
    return Pattern(re.compile(body if anchored else f"(?:.*/)?{body}", re.DOTALL), negate, dir_only, base)


def _strip_trailing_spaces(line: str) -> str:
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    return line


def _split_segments(pattern: str) -> list[str]:
    """Split at "/", except a "/" escaped or inside a bracket expression ("[!/]" is one class)."""
    segments, current = [], []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            current.append(pattern[i:i + 2])
            i += 2
        elif char == "[":
            _, end = _translate_class(pattern, i)
            current.append(pattern[i:end])
            i = end
        elif char == "/":
            segments.append("".join(current))
            current = []
            i += 1
        else:
            current.append(char)
            i += 1
    segments.append("".join(current))
    return segments


def _translate(pattern: str) -> str:
    segments = _split_segments(pattern)
    out = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        if segment == "**":
            if i == last:
                out.append(".*")
            else:
                # "**/" in front or "/**/" in between: zero or more whole directories.
                out.append("(?:.*/)?")
            continue
        out.append(_translate_segment(segment))
        if i != last:
            out.append("/")
    return "".join(out)


def _translate_segment(segment: str) -> str:
    out = []
    i, n = 0, len(segment)
    while i < n:
        char = segment[i]
        if char == "\\" and i + 1 < n:
            out.append(re.escape(segment[i + 1]))
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            klass, i = _translate_class(segment, i)
            out.append(klass)
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def _translate_class(segment: str, start: int) -> tuple[str, int]:
    """A bracket expression at segment[start] ("["); an unclosed "[" is a literal."""
    i = start + 1
    negate = i < len(segment) and segment[i] in "!^"
    if negate:
        i += 1
    members = []
    first = True
    while i < len(segment):
        if segment[i] == "]" and not first:
            # A class never matches "/", negated or not; one with no members matches nothing.
            body = "".join(members)
            if negate:
                return f"[^/{body}]", i + 1
            return (f"(?!/)[{body}]" if body else "(?!)"), i + 1
        low, i = _class_char(segment, i)
        first = False
        if i + 1 < len(segment) and segment[i] == "-" and segment[i + 1] != "]":
            high, i = _class_char(segment, i + 1)
            # git matches nothing for a reversed range such as "z-a".
            if low <= high:
                members.append(f"{re.escape(low)}-{re.escape(high)}")
        else:
            members.append(re.escape(low))
    return re.escape("["), start + 1


def _class_char(segment: str, i: int) -> tuple[str, int]:
    if segment[i] == "\\" and i + 1 < len(segment):
        return segment[i + 1], i + 2
    return segment[i], i + 1


class IgnoreRules:
    """The patterns in force for a walk: .git/info/exclude, then each .gitignore from the top down.

    Later patterns take precedence, so a deeper .gitignore overrides a shallower one, and the last
    matching pattern decides.
    """

    def __init__(self) -> None:
        self._patterns: list[Pattern] = []

    def add_file(self, path: Path, base: str) -> None:
        try:
            lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError:
            return
        self.add_lines(lines, base)

    def add_lines(self, lines, base: str = "") -> None:
        for line in lines:
            pattern = compile_pattern(line, base)
            if pattern is not None:
                self._patterns.append(pattern)

    def ignored(self, rel_path: str, is_dir: bool) -> bool:
        """Whether `rel_path` itself is ignored (its directories are the walk's business)."""
        for pattern in reversed(self._patterns):
            if pattern.matches(rel_path, is_dir):
                return not pattern.negate
        return False
