"""The "Deep analysis" buttons of a bundle of several threads: one beside each thread, its value
the thread's Reddit post id. Pressing one is a `block_actions` payload whose action_id starts
with `PICK_ACTION`, turned here into the Reaction that picks that thread (nothing is kept in
memory: it works on any bundle the bot ever posted)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from adapters.slack_chat.config import PLATFORM
from adapters.slack_chat.events import message_text
from bot.chat import MessageRef, PickHint, Reaction

PICK_ACTION: Final = "redigest_deep_pick"  # + "_<position>": unique within the message
PICK_ACTIONS: Final = re.compile(rf"^{PICK_ACTION}_\d+$")
BUTTON_TEXT: Final = "Deep analysis"
PICK_HINT: Final = PickHint(
    f"Press “{BUTTON_TEXT}” beside the one you want in that digest.", shows_choices=True
)
MAX_VALUE: Final = 2000  # a button's value


def pick_button(position: int, post_id: str) -> dict[str, Any]:
    """The button beside a bundle's thread `position` (a section's accessory)."""
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": BUTTON_TEXT},
        "action_id": f"{PICK_ACTION}_{position}",
        "value": post_id[:MAX_VALUE],
        "accessibility_label": f"Deep analysis of thread {position}",
    }


def reaction_from_pick(
    payload: Mapping[str, Any], *, emoji: str, bot_user_id: str | None
) -> Reaction | None:
    """A `block_actions` payload from one of the buttons → the Reaction picking that thread
    (None when it is not one of them, or says no message)."""
    actions = [a for a in payload.get("actions") or () if isinstance(a, Mapping)]
    action = next((a for a in actions if PICK_ACTIONS.match(str(a.get("action_id") or ""))), None)
    value = action.get("value") if action is not None else None
    container = payload.get("container") or {}
    message = payload.get("message") or {}
    channel = str(container.get("channel_id") or (payload.get("channel") or {}).get("id") or "")
    ts = str(container.get("message_ts") or message.get("ts") or "")
    if not isinstance(value, str) or not value or not channel or not ts:
        return None
    thread_ts = container.get("thread_ts") or message.get("thread_ts")
    user = str((payload.get("user") or {}).get("id") or "")
    team = payload.get("team") or {}
    return Reaction(
        message=MessageRef(
            PLATFORM, channel, ts, str(thread_ts) if thread_ts and thread_ts != ts else None
        ),
        emoji=emoji,
        user_id=user,
        server_id=str(team.get("id") or team.get("enterprise_id") or ""),
        by_bot=bool(bot_user_id) and user == bot_user_id,
        message_text=message_text(message) if message else None,
        requested=True,  # pressed by name: the workspace's flag emoji does not matter
        pick=value,
        pick_hint=PICK_HINT,
    )
