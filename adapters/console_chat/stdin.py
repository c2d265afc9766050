"""The console's standard input: read by a daemon thread, handed to the event loop line by line
(the terminal side of `redigest console`; the chat side is adapters/console_chat/__init__.py)."""

from __future__ import annotations

import asyncio
import codecs
import os
import sys
import threading
from collections.abc import AsyncIterator


class _StdinReader:
    """Standard input, read by a daemon thread with `os.read`, handed to the loop line by line.

    Not the loop's default executor: a thread blocked in `sys.stdin.readline` there is joined
    when the loop closes, so Ctrl-C looked like a hang until Enter was pressed. This thread is
    never joined (it dies with the process) and, reading the file descriptor directly, holds no
    lock of `sys.stdin` that the interpreter would wait for at exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop = loop
        self._fd = fd
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        thread = threading.Thread(target=self._read, name="redigest-stdin", daemon=True)
        thread.start()

    def _hand(self, line: str) -> bool:
        try:
            self._loop.call_soon_threadsafe(self.lines.put_nowait, line)
        except RuntimeError:  # the loop is closed: nobody reads any more
            return False
        return True

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = ""
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            pending += decoder.decode(chunk, final=not chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                if not self._hand(line + "\n"):
                    return
            if not chunk:
                if pending:
                    self._hand(pending)
                self._hand("")  # the end of input
                return


async def stdin_lines(prompt: str = "> ") -> AsyncIterator[str]:
    """Lines from standard input without blocking the event loop (nor its shutdown)."""
    reader = _StdinReader(asyncio.get_running_loop(), sys.stdin.fileno())
    tty = sys.stdin.isatty()
    while True:
        if tty and reader.lines.empty():
            sys.stdout.write(prompt)
            sys.stdout.flush()
        line = await reader.lines.get()
        if not line:
            return
        yield line
