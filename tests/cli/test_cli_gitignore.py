"""gitignore matching, checked case by case and against git itself."""

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_cli.files import Filters, walk
from batch_cli.gitignore import IgnoreRules


def rules(*lines: str, base: str = "") -> IgnoreRules:
    r = IgnoreRules()
    r.add_lines(lines, base)
    return r


@pytest.mark.parametrize("pattern, path, is_dir, ignored", [
    ("*.pyc", "a/b/c.pyc", False, True),
    ("*.pyc", "c.pyc.txt", False, False),
    ("/build", "build", True, True),
    ("/build", "src/build", True, False),
    ("build/", "src/build", True, True),
    ("build/", "src/build", False, False),
    ("doc/*.txt", "doc/a.txt", False, True),
    ("doc/*.txt", "doc/sub/a.txt", False, False),
    ("**/logs", "x/y/logs", True, True),
    ("a/**/b", "a/b", False, True),
    ("a/**/b", "a/x/y/b", False, True),
    ("abc/**", "abc/x/y", False, True),
    ("abc/**", "abc", True, False),
    ("f?o", "fxo", False, True),
    ("f?o", "f/o", False, False),
    ("[a-c].txt", "b.txt", False, True),
    ("[!a-c].txt", "b.txt", False, False),
    ("[!a-c].txt", "d.txt", False, True),
    ("\\#lit", "#lit", False, True),
    ("# comment", "# comment", False, False),
    ("\\!bang", "!bang", False, True),
    ("trailing   ", "trailing", False, True),
    ("sp\\ ", "sp ", False, True),
])
def test_single_patterns(pattern, path, is_dir, ignored):
    assert rules(pattern).ignored(path, is_dir) is ignored


def test_last_match_wins_and_negation_reincludes():
    r = rules("*.log", "!keep.log")
    assert r.ignored("x.log", False)
    assert not r.ignored("keep.log", False)


def test_deeper_file_overrides_and_applies_only_below_itself():
    r = rules("*.gen")
    r.add_lines(["!*.gen"], base="src")
    assert r.ignored("top.gen", False)
    assert not r.ignored("src/a.gen", False)
    r.add_lines(["/local"], base="src")
    assert r.ignored("src/local", False)
    assert not r.ignored("local", False)


# Against git: random patterns over a small alphabet, so they often hit the random paths.
segment = st.text("ab*?[]!-", min_size=1, max_size=4)
pattern_lines = st.builds(
    lambda neg, lead, segs, trail: ("!" if neg else "") + ("/" if lead else "") + "/".join(segs) + ("/" if trail else ""),
    st.booleans(), st.booleans(), st.lists(st.one_of(segment, st.just("**")), min_size=1, max_size=3), st.booleans())
path_names = st.lists(st.lists(st.text("ab", min_size=1, max_size=3), min_size=1, max_size=3), min_size=1, max_size=5)


@settings(max_examples=80, deadline=None)
@given(st.lists(pattern_lines, min_size=1, max_size=4), path_names)
def test_walk_sees_the_files_git_sees(lines, paths):
    """The walk yields exactly the files `git ls-files --others --exclude-standard` lists."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / ".gitignore").write_text("\n".join(lines) + "\n")
        files = sorted({"/".join(parts) for parts in paths})
        # A path cannot be both a file and a directory: keep those no other path goes through.
        files = [f for f in files if not any(other.startswith(f + "/") for other in files)]
        for f in files:
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            (repo / f).touch()
        listed = subprocess.run(["git", "-C", str(repo), "ls-files", "--others", "--exclude-standard", "-z"],
                                capture_output=True, text=True, check=True).stdout.split("\0")
        walked = [p.relative_to(repo).as_posix() for p in walk(repo, Filters.create())]
    assert sorted(walked) == sorted(name for name in listed if name), lines
