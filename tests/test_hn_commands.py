"""`hn` where a subreddit goes: /subscribe hn … and /watch hn …, and /digest with HN targets."""

from __future__ import annotations

import pytest

from bot.commands import CommandError, DigestCmd, SubscribeCmd, WatchCmd, parse_command
from bot.ports import InvalidSubreddit
from bot.specs import ScheduleSpec, WatchSpec, names


def parse(command: str, text: str) -> object:
    return parse_command(command, text, default_tz="UTC")


@pytest.mark.parametrize(
    ("text", "place", "top"),
    [
        ("hn top 5 daily 09:00", "hn:top", 5),
        ("hn daily 09:00 top 3", "hn:top", 3),
        ("hn:best top 3 daily 09:00", "hn:best", 3),
        ("HN:Show daily 09:00", "hn:show", None),
        ("hn:ask top 2 min-score 50 daily 18:00 Europe/Berlin", "hn:ask", 2),
    ],
)
def test_subscribe_to_a_hacker_news_list(text: str, place: str, top: int | None) -> None:
    cmd = parse("subscribe", text)
    assert isinstance(cmd, SubscribeCmd)
    assert cmd.subreddits == (place,)
    if top is not None:
        assert cmd.top == top


def test_subscribe_hn_keeps_its_filters_and_timezone() -> None:
    cmd = parse("subscribe", "hn:ask top 2 min-score 50 daily 18:00 Europe/Berlin")
    assert isinstance(cmd, SubscribeCmd)
    assert cmd.min_score == 50
    assert cmd.schedule.tz == "Europe/Berlin"


def test_hn_is_subscribed_on_its_own() -> None:
    with pytest.raises(CommandError, match="Hacker News list on its own"):
        parse("subscribe", "hn,selfhosted daily 09:00")
    with pytest.raises(InvalidSubreddit, match="not a Hacker News list"):
        parse("subscribe", "hn:jobs daily 09:00")


def test_watch_hn_new_stories() -> None:
    for text in ("hn min-score 100", "hn:new min-score 100 within 6h"):
        cmd = parse("watch", text)
        assert isinstance(cmd, WatchCmd)
        assert (cmd.subreddit, cmd.min_score) == ("hn", 100)
    with pytest.raises(CommandError, match="new stories on their own"):
        parse("watch", "hn:top min-score 100")


def test_digest_takes_hn_targets() -> None:
    for target in ("hn:8863", "https://news.ycombinator.com/item?id=8863"):
        cmd = parse("digest", f"{target} deep")
        assert isinstance(cmd, DigestCmd)
        assert cmd.target == target


def test_hn_places_read_as_hacker_news() -> None:
    spec = ScheduleSpec(("hn:show",), "daily 09:00 UTC", 3)
    assert names(spec) == "Show HN"
    assert "new posts in Hacker News are posted here" in WatchSpec(("hn",), 100).describe()
