"""Which files an ingestion reads, and reading them: what is followed, what is skipped, and why."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from assistant.errors import IngestError
from ingest.report import FileResult


def file_key(path: Path) -> str:
    """The name a file is stored under: its resolved absolute path."""
    return str(path.resolve())


def is_under(key: str, root: str) -> bool:
    """Is the stored file `key` the path `root` (a file_key) or inside that folder?"""
    return key == root or key.startswith(root.rstrip(os.sep) + os.sep)


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileResult]]:
    """Files under the given paths (recursively, hidden ones excepted), and the paths that
    cannot be ingested. Symbolic links met inside a folder are skipped, not followed: they
    can lead outside the folder being ingested, or loop; a link named as a path is followed.
    Only regular files are read: a FIFO or a device would block the run or never end."""
    files: list[Path] = []
    problems: list[FileResult] = []

    def add(path: Path, named: bool) -> None:
        try:
            str(path).encode()
        except UnicodeEncodeError:
            shown = os.fsencode(path).decode("utf-8", "backslashreplace")
            problems.append(FileResult(shown, "failed", "the file name is not valid UTF-8; rename it"))
            return
        if not named and path.is_symlink():
            problems.append(FileResult(str(path), "skipped", "symbolic link, not followed (name it as "
                                                             "a PATH to ingest what it points to)"))
        elif not path.is_file():
            problems.append(FileResult(str(path), "skipped", "not a regular file"))
        else:
            files.append(path)

    for p in map(Path, paths):
        if p.is_dir():
            for root, dirs, names in os.walk(p, onerror=lambda e: problems.append(
                    FileResult(str(e.filename), "failed", f"cannot open folder ({e.strerror})"))):
                # os.walk lists linked folders but never descends into them: report them
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                links = [d for d in dirs if Path(root, d).is_symlink()]
                dirs[:] = [d for d in dirs if d not in links]
                for n in sorted(names + links):
                    if not n.startswith("."):
                        add(Path(root, n), named=False)
        elif p.exists():
            add(p, named=True)
        else:
            problems.append(FileResult(str(p), "failed", "no such file or folder"))
    return list(dict.fromkeys(f.absolute() for f in files)), problems


def read_file(path: Path, max_mb: float) -> tuple[bytes, int]:
    """The file's bytes and size. Opened without blocking and checked on the open handle, so
    a file swapped for a FIFO or a device after discovery cannot hang or flood the run."""
    limit = int(max_mb * 1024 * 1024)
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IngestError("not a regular file")
        data = fh.read(limit + 1) if info.st_size <= limit else b""  # it may grow meanwhile
        if max(info.st_size, len(data)) > limit:
            raise IngestError(f"file is {max(info.st_size, len(data)) / 2**20:.0f} MB, over the "
                              f"{max_mb:g} MB limit (setting max_file_mb)")
        return data, len(data)


def read_or_failure(path: Path, max_mb: float) -> tuple[bytes, int] | FileResult:
    """`read_file`, or the failed FileResult that says why the file cannot be read."""
    key = file_key(path)
    try:
        return read_file(path, max_mb)
    except PermissionError:
        return FileResult(key, "failed", "permission denied")
    except FileNotFoundError:
        return FileResult(key, "failed", "gone before it could be read (deleted or moved meanwhile)")
    except IngestError as e:
        return FileResult(key, "failed", str(e))
    except OSError as e:
        return FileResult(key, "failed", f"cannot read ({e.strerror or e})")
