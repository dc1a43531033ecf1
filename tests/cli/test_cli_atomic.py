"""Atomic replacement: the new bytes whole, the mode kept, and nothing written over a changed file."""

import os

import pytest

from batch_cli.atomic import ChangedOnDisk, replace_if_unchanged
from batch_cli.textfile import read


def _read(path):
    return read(path, max_bytes=1 << 20)


def _leftovers(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".dg-infill")]


def test_replaces_bytes_and_keeps_mode(tmp_path):
    path = tmp_path / "run.sh"
    path.write_bytes(b"#!/bin/sh\necho <FILL>\n")
    path.chmod(0o751)
    file = _read(path)
    replace_if_unchanged(path, b"#!/bin/sh\necho hi\n", file.snapshot)
    assert path.read_bytes() == b"#!/bin/sh\necho hi\n"
    assert path.stat().st_mode & 0o7777 == 0o751
    assert _leftovers(tmp_path) == []


def test_refuses_a_file_edited_since_it_was_read(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = <FILL>\n")
    file = _read(path)
    path.write_bytes(b"x = 42  # edited meanwhile\n")
    with pytest.raises(ChangedOnDisk, match="changed since it was read"):
        replace_if_unchanged(path, b"x = 1\n", file.snapshot)
    assert path.read_bytes() == b"x = 42  # edited meanwhile\n"
    assert _leftovers(tmp_path) == []


def test_refuses_a_file_saved_again_with_the_same_bytes(tmp_path):
    # Same content, new time stamp: someone saved it, so what they see may not be what was read.
    path = tmp_path / "a.py"
    path.write_bytes(b"x = <FILL>\n")
    file = _read(path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ChangedOnDisk):
        replace_if_unchanged(path, b"x = 1\n", file.snapshot)
    assert path.read_bytes() == b"x = <FILL>\n"


def test_refuses_a_file_removed_since_it_was_read(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = <FILL>\n")
    file = _read(path)
    path.unlink()
    with pytest.raises(ChangedOnDisk):
        replace_if_unchanged(path, b"x = 1\n", file.snapshot)
    assert not path.exists()
    assert _leftovers(tmp_path) == []


def test_writes_through_a_symbolic_link_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.py"
    target.write_bytes(b"x = <FILL>\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    file = _read(link)
    replace_if_unchanged(link, b"x = 1\n", file.snapshot)
    assert link.is_symlink()
    assert target.read_bytes() == b"x = 1\n"


def test_refuses_a_file_whose_mode_changed(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = <FILL>\n")
    path.chmod(0o644)
    file = _read(path)
    path.chmod(0o600)
    with pytest.raises(ChangedOnDisk):
        replace_if_unchanged(path, b"x = 1\n", file.snapshot)
    assert path.read_bytes() == b"x = <FILL>\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_keeps_the_owner_when_run_as_root(tmp_path):
    path = tmp_path / "a.py"
    path.write_bytes(b"x = <FILL>\n")
    os.chown(path, 4321, 4321)
    file = _read(path)
    replace_if_unchanged(path, b"x = 1\n", file.snapshot)
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4321)
    assert path.read_bytes() == b"x = 1\n"


def test_a_temporary_file_an_interrupted_run_left_is_removed_with_a_warning(cli, tmp_path):
    # A language dg-tiny does not cover: the run needs no engine to reach the cleanup.
    target = tmp_path / "a.js"
    target.write_text("const x = <FILL>;\n")
    stale = tmp_path / ".a.js.k2j3h4.dg-infill"
    stale.write_text("half a file")
    other = tmp_path / ".b.js.k2j3h4.dg-infill"  # beside another file: not this run's business
    other.write_text("half")
    done = cli.run("--json", "a.js", cwd=tmp_path)
    assert not stale.exists() and other.exists()
    assert b"removed" in done.stderr and b".a.js.k2j3h4.dg-infill" in done.stderr
    assert target.read_text() == "const x = <FILL>;\n"
