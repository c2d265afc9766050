"""The progress port shown on a terminal with rich: one line per stage, a spinner on the one under
way and the time each took. Imported only when standard error is a terminal (bot/cli.py): a
digest into a pipe, CI and the tests never load it.

    with TerminalProgress(console) as shown, reporting(shown):
        await application.digest(...)
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn


class TerminalProgress:
    """`bot.progress.Progress` on a rich console; its lines are gone once the work is done (the
    report, or the one-line error, is what stays)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            redirect_stdout=False,  # the report goes to stdout when the work is done
            redirect_stderr=False,
        )
        self._task: TaskID | None = None
        self._started = False

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _finish(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, total=1, completed=1)
            self._progress.stop_task(self._task)

    def step(self, text: str) -> None:
        if not self._started:  # nothing on the screen until there is something to say
            self._progress.start()
            self._started = True
        self._finish()
        self._task = self._progress.add_task(text, total=None)
        self._progress.refresh()

    def update(self, text: str) -> None:
        if self._task is None:
            self.step(text)
            return
        self._progress.update(self._task, description=text, refresh=True)

    def close(self) -> None:
        if self._started:
            self._finish()
            self._progress.stop()
            self._started = False
