"""Timezones as people type them: the tz database's spelling of a name, and whether a word was
meant as a timezone at all (so a typo gets a timezone message)."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

from bot.schedule.errors import ScheduleError, shown

# Timezone abbreviations people type that are not tz database names (EST, MST, CET are, oddly).
_ABBREVIATIONS = frozenset(
    "pst pdt edt cdt mdt akst akdt hst cest bst ist jst kst aest aedt acst awst nzst nzdt msk "
    "sast wat eat cat".split()
)


@cache
def _timezones() -> dict[str, str]:
    """Lower-cased name → canonical name, for every zone this machine's tz database has."""
    # `localtime` is whatever the host is set to and `Factory` is a placeholder: neither is a place.
    names = available_timezones() - {"localtime", "Factory"}
    return {name.lower(): name for name in names}


def canonical_timezone(name: str) -> str | None:
    """The tz database spelling of `name` (any case), or None when there is no such zone."""
    return _timezones().get(name.strip().lower())


def resolve_timezone(name: str) -> str:
    """The canonical IANA name, or ScheduleError with an example."""
    found = canonical_timezone(name)
    if found is None:
        raise ScheduleError(
            f"Unknown timezone “{shown(name)}”: use an IANA name like Europe/Berlin or UTC."
        )
    return found


def looks_like_timezone(token: str) -> bool:
    """Whether a token was meant as a timezone (so a typo gets a timezone message)."""
    t = token.strip()
    low = t.lower()
    if canonical_timezone(t) is not None or low in _ABBREVIATIONS:
        return True
    if re.fullmatch(r"(?:utc|gmt)[+-][0-9]{1,2}(?::?[0-9]{2})?", low):
        return True
    return bool(
        re.fullmatch(r"[A-Za-z][A-Za-z_+\-]*(?:/[A-Za-z0-9_+\-]+)+", t)
    ) and not low.startswith(("r/", "u/"))
