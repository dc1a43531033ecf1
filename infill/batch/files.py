"""Which files a run looks at: the paths given, with directories walked the way git sees them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infill.batch.gitignore import IgnoreRules, compile_pattern
from infill.languages import resolve


@dataclass(frozen=True)
class Filters:
    # Language names (as in infill.languages, "text" for files no grammar knows); empty: all.
    languages: frozenset[str] = frozenset()
    # --glob patterns; a leading "!" excludes. Empty: all.
    globs: tuple[str, ...] = ()
    respect_gitignore: bool = True

    def accepts(self, rel_path: str) -> bool:
        if self.languages:
            lang = resolve(path=rel_path)
            if (lang.name if lang else "text") not in self.languages:
                return False
        if not self.globs:
            return True
        patterns = [compile_pattern(glob) for glob in self.globs]
        positives = [p for p in patterns if p is not None and not p.negate]
        if positives and not any(p.matches(rel_path, False) for p in positives):
            return False
        return not any(p.matches(rel_path, False) for p in patterns if p is not None and p.negate)


def repository_root(start: Path) -> Path | None:
    """The nearest directory at or above `start` that holds a .git."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def walk(root: Path, filters: Filters) -> Iterator[Path]:
    """Files under `root` in a stable order, skipping .git, symbolic links and what git ignores."""
    rules = IgnoreRules()
    top = root.resolve()
    repo = repository_root(top) if filters.respect_gitignore else None
    if repo is not None:
        # Patterns from .gitignore files above the walked directory apply inside it too.
        rules.add_file(repo / ".git" / "info" / "exclude", "")
        for directory in (repo, *reversed(top.relative_to(repo).parents[:-1]), top) if top != repo else (repo,):
            rel = (directory if directory == repo else repo / directory).relative_to(repo).as_posix()
            rules.add_file(repo / rel / ".gitignore", "" if rel == "." else rel)
    prefix = "" if repo is None or top == repo else top.relative_to(repo).as_posix() + "/"
    yield from _walk(root, prefix, "", rules, filters, repo is not None)


def _walk(directory: Path, prefix: str, rel: str, rules: IgnoreRules, filters: Filters,
          gitignore: bool) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    if gitignore and rel:
        rules.add_file(directory / ".gitignore", prefix + rel)
    for entry in entries:
        if entry.is_symlink() or entry.name == ".git":
            continue
        child = f"{rel}/{entry.name}" if rel else entry.name
        is_dir = entry.is_dir()
        if gitignore and rules.ignored(prefix + child, is_dir):
            continue
        if is_dir:
            yield from _walk(Path(entry.path), prefix, child, rules, filters, gitignore)
        elif entry.is_file() and filters.accepts(child):
            yield Path(entry.path)
