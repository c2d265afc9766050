"""What every fake server shares: an aiohttp application on 127.0.0.1 at a free port.

    async with FakeSomething() as fake:   # start(): bind, serve
        ...fake.base_url...               # http://127.0.0.1:PORT
                                          # close(): the subclass's _stopping(), then stop serving

A subclass adds its routes in `_add_routes`, may prepare per start in `_started` and release
its connections in `_stopping`; class attributes tune the server.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web


class LocalServer:
    shutdown_timeout: float = 1.0  # seconds aiohttp waits for open requests at close
    backlog: int = 128  # the listen queue (a burst of new connections needs more)
    client_max_size: int = 1024**2  # the largest request body accepted

    _runner: web.AppRunner | None = None
    _base_url: str | None = None

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _started(self) -> None:
        """Called after each start."""

    async def _stopping(self) -> None:
        """Called at close, before the server stops (close sockets, release waiters)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind ``127.0.0.1`` on a free port and start serving."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=self.client_max_size)
        self._add_routes(app)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=self.shutdown_timeout
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=self.backlog).start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{host}:{port}"
        await self._started()

    async def close(self) -> None:
        """Stop serving (after the subclass's `_stopping`)."""
        await self._stopping()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url
