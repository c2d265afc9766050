"""The "Deep analysis of…" select menu under a bundle of several threads: one option per thread,
its value the thread's Reddit post id. Picking one is a component interaction whose custom_id
is `PICK_ID`, answered by `Interactions.pick` from any message that ever carried the menu
(nothing is kept in memory: it survives a restart)."""

from __future__ import annotations

from typing import Any, Final

from adapters.discord_chat.escape import _cut, plain
from adapters.discord_chat.sdk import discord
from bot.chat import Bundle, PickHint
from digest.render.document import Span

PICK_ID: Final = "redigest:deep-pick"  # the select menu's custom_id (Discord allows 100)
PLACEHOLDER: Final = "Deep analysis of…"
MAX_OPTIONS: Final = 25  # a select menu's options
MAX_LABEL: Final = 100  # an option's label and value
PICK_HINT: Final = PickHint(
    f"Pick one in the “{PLACEHOLDER}” menu under it.",
    shows_choices=True,
)

MenuOption = tuple[str, str]  # (value: the post id, label: "2. The thread's title")


def menu_options(bundle: Bundle) -> tuple[MenuOption, ...]:
    """One option per thread of a bundle of several (none for one thread or none)."""
    if len(bundle.reports) < 2:
        return ()
    return tuple(
        (report.thread.id[:MAX_LABEL], _label(i, report.thread.title))
        for i, report in enumerate(bundle.reports[:MAX_OPTIONS], 1)
    )


def _label(position: int, title: str) -> str:
    """Plain text (nothing renders in a label), mentions defused, within 100 characters."""
    return _cut(f"{position}. {plain((Span(title),))}", MAX_LABEL) or str(position)


def components(options: tuple[MenuOption, ...]) -> list[dict[str, Any]]:
    """The menu as Discord's JSON (an action row holding one string select)."""
    return [
        {
            "type": 1,
            "components": [
                {
                    "type": 3,
                    "custom_id": PICK_ID,
                    "placeholder": PLACEHOLDER,
                    "min_values": 1,
                    "max_values": 1,
                    "options": [{"label": label, "value": value} for value, label in options],
                }
            ],
        }
    ]


def menu_view(options: tuple[MenuOption, ...]) -> discord.ui.View:
    """The menu as discord.py sends it. The view is stopped before it is sent, so discord.py
    does not keep it: the pick is handled by its custom_id, whatever message it comes from."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Select(
            custom_id=PICK_ID,
            placeholder=PLACEHOLDER,
            min_values=1,
            max_values=1,
            options=[discord.SelectOption(label=label, value=value) for value, label in options],
        )
    )
    view.stop()
    return view


def picked(data: Any) -> str | None:
    """The post id a component interaction picked from the menu (None: not the menu)."""
    if not isinstance(data, dict) or data.get("custom_id") != PICK_ID:
        return None
    values = data.get("values")
    if not isinstance(values, list) or len(values) != 1 or not isinstance(values[0], str):
        return None
    return values[0]
