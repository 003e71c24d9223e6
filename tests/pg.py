"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, listening on
127.0.0.1 at a free port (and a socket in that folder), trust authentication, stopped and
deleted at the end. PostgreSQL refuses to run as root, so as root it runs as the `postgres`
OS user (`make postgres` installs Debian's package, which creates that user)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else Debian's /usr/lib/postgresql/VERSION/bin (newest)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(debian[-1]).parent if debian else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, bindir: Path, folder: Path, port: int, runner: list[str]) -> None:
        self.bindir, self.folder, self.port, self.runner = bindir, folder, port, runner
        self._databases = 0

    def run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.runner, str(self.bindir / tool), *args], check=True, capture_output=True, timeout=120,
                       env={**os.environ, "LC_ALL": "C"})

    def new_database(self) -> str:
        """A fresh database's URL (postgresql://, which the code maps to psycopg 3)."""
        self._databases += 1
        name = f"test{self._databases}"
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def postgres() -> Iterator[Server]:
    """Raises LookupError when PostgreSQL is not installed (or, as root, there is no postgres user)."""
    bindir = bin_dir()
    if bindir is None:
        raise LookupError("PostgreSQL is not installed (`make postgres` installs it)")
    runner: list[str] = []
    owner = None
    if os.geteuid() == 0:
        import pwd

        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise LookupError("running as root, and there is no `postgres` user to run PostgreSQL as") from None
        runner = ["runuser", "-u", "postgres", "--"]
    folder = Path(tempfile.mkdtemp(prefix="assistant-pg-"))  # under /tmp: pytest's tmp is root's only
    if owner is not None:
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = Server(bindir, folder, _free_port(), runner)
    data, log = folder / "data", folder / "log"
    try:
        server.run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-h 127.0.0.1 -p {server.port} -k {folder} -F"  # -F: no fsync, a test server
        server.run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            yield server
        finally:
            server.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
