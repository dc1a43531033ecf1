"""Walking directories the way git sees them, with --lang and --glob filters."""

import subprocess

from batch_cli.files import Filters, walk


def _tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _names(root, start=None, **options):
    start = start or root
    return sorted(p.relative_to(start).as_posix() for p in walk(start, Filters.create(**options)))


def test_walk_skips_ignored_files_git_dir_and_links(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _tree(tmp_path, {
        ".gitignore": "build/\n*.log\n",
        "src/a.py": "", "src/b.log": "", "build/out.py": "",
        "src/.gitignore": "gen_*\n!gen_keep.py\n", "src/gen_x.py": "", "src/gen_keep.py": "",
        ".git/info/exclude": "secret.txt\n", "secret.txt": "",
    })
    (tmp_path / "src" / "link.py").symlink_to(tmp_path / "src" / "a.py")
    assert _names(tmp_path) == [".gitignore", "src/.gitignore", "src/a.py", "src/gen_keep.py"]
    assert "build/out.py" in _names(tmp_path, respect_gitignore=False)


def test_gitignore_files_above_the_walked_directory_apply(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    _tree(tmp_path, {".gitignore": "*.tmp\n/pkg/vendor/\n", "pkg/a.py": "", "pkg/b.tmp": "", "pkg/vendor/v.py": ""})
    assert _names(tmp_path, tmp_path / "pkg") == ["a.py"]


def test_without_a_repository_gitignore_files_mean_nothing(tmp_path):
    _tree(tmp_path, {".gitignore": "*.py\n", "a.py": ""})
    assert _names(tmp_path) == [".gitignore", "a.py"]


def test_language_and_glob_filters(tmp_path):
    _tree(tmp_path, {"a.py": "", "b.go": "", "c.md": "", "web/x.min.js": "", "web/x.js": ""})
    assert _names(tmp_path, languages={"python", "go"}) == ["a.py", "b.go"]
    assert _names(tmp_path, languages={"text"}) == ["c.md"]
    assert _names(tmp_path, globs=["*.js", "!*.min.js"]) == ["web/x.js"]
    assert _names(tmp_path, globs=["web/**"]) == ["web/x.js", "web/x.min.js"]
