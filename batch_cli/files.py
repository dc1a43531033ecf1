"""Which files a run looks at: the paths given, with directories walked the way git sees them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from batch_cli.gitignore import IgnoreRules, Pattern, compile_pattern
from infill.languages import resolve


@dataclass(frozen=True)
class Filters:
    # Language names (as in infill.languages, "text" for files no grammar knows); empty: all.
    languages: frozenset[str] = frozenset()
    # --glob patterns, read like .gitignore lines; a leading "!" excludes.
    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    respect_gitignore: bool = True

    @classmethod
    def create(cls, languages=(), globs=(), respect_gitignore: bool = True) -> Filters:
        patterns = [p for p in (compile_pattern(glob) for glob in globs) if p is not None]
        return cls(frozenset(languages), tuple(p for p in patterns if not p.negate),
                   tuple(p for p in patterns if p.negate), respect_gitignore)

    def accepts(self, rel_path: str) -> bool:
        """Whether a file found by walking (path relative to the walked directory) is processed."""
        if self.languages:
            lang = resolve(path=rel_path)
            if (lang.name if lang else "text") not in self.languages:
                return False
        if self.include and not any(p.matches(rel_path, False) for p in self.include):
            return False
        return not any(p.matches(rel_path, False) for p in self.exclude)


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
    prefix = ""
    if repo is not None:
        rules.add_file(repo / ".git" / "info" / "exclude", "")
        # The .gitignore files from the repository's root down to the walked directory apply too.
        parts = top.relative_to(repo).parts
        for depth in range(len(parts) + 1):
            base = "/".join(parts[:depth])
            rules.add_file(repo.joinpath(*parts[:depth]) / ".gitignore", base)
        prefix = "/".join(parts) + "/" if parts else ""
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
