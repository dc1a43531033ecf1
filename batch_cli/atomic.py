"""Replace a file's bytes atomically, and only if nobody changed the file since it was read.

The new bytes go to a temporary file in the same directory (so the rename cannot cross file
systems), get the old file's mode and owner, reach the disk, and then os.replace swaps them in: a reader,
a crash or a signal sees either the whole old file or the whole new one.
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

from batch_cli.textfile import Snapshot


class ChangedOnDisk(Exception):
    """The file is not what was read: someone edited, replaced or removed it meanwhile."""


def current_snapshot(path: Path) -> Snapshot | None:
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return Snapshot.of(handle.read(), stat)
    except FileNotFoundError:
        return None


TEMP_SUFFIX = ".dg-infill"


def leftovers(path: Path) -> list[Path]:
    """Temporary files a run killed mid-write (SIGKILL, power loss) left beside `path`."""
    target = Path(os.path.realpath(path))
    return sorted(target.parent.glob(f".{glob.escape(target.name)}.*{TEMP_SUFFIX}"))


def replace_if_unchanged(path: Path, data: bytes, expected: Snapshot) -> None:
    """Write `data` over `path` atomically, with the mode and owner it had when read;
    ChangedOnDisk (and no write) if the file changed since."""
    # Write through a symbolic link to its target, so the link stays a link.
    target = Path(os.path.realpath(path))
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            stat = os.fstat(handle.fileno())
            if (stat.st_uid, stat.st_gid) != (expected.uid, expected.gid):
                # Run as root over a user's files, the files stay the user's. Without the right to
                # give a file away the new one is ours, as with any editor that saves by rename.
                try:
                    os.fchown(handle.fileno(), expected.uid, expected.gid)
                except PermissionError:
                    pass
            os.fchmod(handle.fileno(), expected.mode)
            os.fsync(handle.fileno())
        # Compared as late as possible: the bytes, not just the time stamp, since an editor may
        # save within the file system's time resolution.
        if current_snapshot(target) != expected:
            raise ChangedOnDisk(f"{path} changed since it was read; not written")
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _sync_directory(target.parent)


def _sync_directory(directory: Path) -> None:
    # The rename is durable once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
