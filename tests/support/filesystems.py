"""A small file system the test can fill: a size-limited tmpfs, and a filler file.

tmpfs rather than a loop-mounted image: no loop device to take from a machine others
share, no mkfs; writing past its size fails with ENOSPC as on a full disk.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

from tests.support.host_tools import require_commands, require_root, run

CHUNK = 64 * 1024


@contextmanager
def small_tmpfs(mount_point: Path, size_mib: int) -> Iterator[Path]:
    """A tmpfs of `size_mib` MiB mounted on `mount_point` (made if missing); unmounted on
    exit, even after a failure (lazily if something still holds it open)."""
    require_root("it mounts a file system")
    require_commands({"mount": "mount", "umount": "mount"})
    mount_point.mkdir(parents=True, exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs",
        str(mount_point))
    try:
        yield mount_point
    finally:
        try:
            run("umount", str(mount_point))
        except RuntimeError:
            run("umount", "--lazy", str(mount_point))
            raise


def fill_up(folder: Path) -> Path:
    """Write a filler file in `folder` until its file system has no space left; the file.

    Raises RuntimeError if the file system never says it is full (not a small one).
    """
    filler = folder / "filler"
    written = 0
    with filler.open("wb", buffering=0) as out:
        try:
            while written < 1 << 30:
                written += out.write(b"\0" * CHUNK)
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            with suppress(OSError):  # the last blocks, a byte at a time
                while True:
                    out.write(b"\0")
            return filler
    raise RuntimeError(f"{folder}: still not full after {written} bytes")


def integrity_check(database_file: Path) -> str:
    """SQLite's `PRAGMA integrity_check` of a database file: "ok" when it is sound."""
    with closing(sqlite3.connect(database_file)) as connection:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(row[0]) for row in rows)
