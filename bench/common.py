"""What several benchmarks share: where the shared data is, the machine line, progress lines on
stderr, percentiles, the four-column table, and a guard that keeps sockets on loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import platform
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

Row = tuple[str, int, str, str]  # what, n, figure, unit (see print_table)


def shared_data_dir() -> Path:
    """../shared/data next to the repository (the repository is bench/'s parent)."""
    return REPO.parent / "shared" / "data"


def machine(extra: str = "") -> str:
    """The machine line a benchmark prints first (`extra` goes after a "; ")."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc={cpus}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
        + (f"; {extra}" if extra else "")
    )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def describe(exc: BaseException) -> str:
    """An exception as one line for a table's notes: its type and the first line of its text."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, `q` in 0..1 (nan when there are none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(q * len(ordered)) - 1, 0))]


def share_pct(share: float) -> str:
    """A share (0..1) as a whole percentage; a dash for nan."""
    return "—" if math.isnan(share) else f"{share * 100:.0f}%"


def print_table(rows: Sequence[Row]) -> None:
    """what / n / figure / unit, the columns as wide as their widest cell."""
    widths = [
        max(len("what"), *(len(r[0]) for r in rows)),
        max(len(str(r[1])) for r in rows) + 1,
        max(len("figure"), *(len(r[2]) for r in rows)),
    ]
    print(f"{'what':<{widths[0]}}  {'n':>{widths[1]}}  {'figure':>{widths[2]}}  unit")
    print("-" * (sum(widths) + 16))
    for what, n, figure, unit in rows:
        print(f"{what:<{widths[0]}}  {n:>{widths[1]}}  {figure:>{widths[2]}}  {unit}")


# --- loopback only ---------------------------------------------------------------------------


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While inside, sockets may connect to (and names resolve for) loopback only."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: Any, address: Any) -> None:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"bench: refusing to connect to {address!r}")
        real_connect(self, address)

    def connect_ex(self: Any, address: Any) -> int:
        if not _is_loopback(address):
            raise ConnectionRefusedError(f"bench: refusing to connect to {address!r}")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback((host,)):
            raise OSError(f"bench: refusing to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
