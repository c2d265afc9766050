"""The bot core: commands, persisted jobs, the scheduler, watched subreddits and reaction flags.

`Core` (facade.py) is what adapters call; each concern is a module beside it (see facade.py's
docstring for the map). Every name imported from `bot.core` before the split still is.
"""

from __future__ import annotations

from bot.core.answers import GaveUp, GaveUpUnsure, UserFacing
from bot.core.config import SETTING_DEFAULTS, CoreConfig, Engines
from bot.core.digests import fingerprint as _fingerprint
from bot.core.facade import Core

__all__ = [
    "SETTING_DEFAULTS",
    "Core",
    "CoreConfig",
    "Engines",
    "GaveUp",
    "GaveUpUnsure",
    "UserFacing",
    "_fingerprint",
]
