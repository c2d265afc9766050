"""The command parser: every form, every error, and a fuzz that only our errors come out."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import (
    COMMANDS,
    HELP_TEXT,
    Command,
    CommandError,
    DigestCmd,
    HelpCmd,
    PauseCmd,
    ResumeCmd,
    SettingsCmd,
    SubscribeCmd,
    SubscriptionsCmd,
    UnsubscribeCmd,
    WatchCmd,
    parse_command,
    split_words,
    usage,
)
from bot.ports import InvalidSubreddit
from bot.schedule import Schedule, ScheduleError
from digest.errors import DigestError
from digest.report import Depth

URL = "https://www.reddit.com/r/LocalLLaMA/comments/1lpl656/glm41vthinking/"
BERLIN = "Europe/Berlin"
DAILY_9 = Schedule("daily", minute=0, hour=9, tz="UTC")


def parse(command: str, text: str = "", tz: str = "UTC") -> Command:
    return parse_command(command, text, default_tz=tz)


def error_of(command: str, text: str = "") -> DigestError:
    with pytest.raises(DigestError) as caught:
        parse(command, text)
    return caught.value


def assert_one_sentence(message: str) -> None:
    assert message
    assert message.endswith(".")
    assert "\n" not in message
    assert "Traceback" not in message


# ---------------------------------------------------------------------- platforms


@pytest.mark.parametrize(
    ("command", "text"),
    [
        ("digest", URL),
        ("/digest", URL),
        ("DIGEST", URL),
        ("redigest", f"digest {URL}"),
        ("/redigest", f"digest {URL}"),
        ("/redigest", f"/digest {URL}"),
        ("/redigest digest", URL),  # a platform that keeps the subcommand in the command
        ("", f"digest {URL}"),
        ("/redigest", URL),  # a bare link means digest it
        ("redigest", f"  digest   {URL}  "),
    ],
)
def test_every_platform_form_reaches_the_same_command(command: str, text: str) -> None:
    assert parse(command, text) == DigestCmd(URL, None)


def test_redigest_alone_is_help() -> None:
    assert parse("/redigest", "") == HelpCmd(None)
    assert parse("redigest", "   ") == HelpCmd(None)


# ---------------------------------------------------------------------- digest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (URL, DigestCmd(URL, None)),
        (f"{URL} deep", DigestCmd(URL, Depth.DEEP)),
        (f"{URL} BRIEF", DigestCmd(URL, Depth.BRIEF)),
        (f"deep {URL}", DigestCmd(URL, Depth.DEEP)),
        (f"{URL} --deep", DigestCmd(URL, Depth.DEEP)),
        ("1lpl656", DigestCmd("1lpl656", None)),
        (f"<{URL}|{URL}> deep", DigestCmd(f"<{URL}|{URL}>", Depth.DEEP)),  # Slack's link form
        ("not-a-link", DigestCmd("not-a-link", None)),  # checked later, where the network is
    ],
)
def test_digest(text: str, expected: DigestCmd) -> None:
    assert parse("digest", text) == expected


@pytest.mark.parametrize(
    ("text", "named"),
    [("", "Give a thread"), ("   ", "Give a thread"), ("deep", "Give a thread"),
     (f"{URL} {URL}", "one thread"), (f"{URL} deeper", "“"), ('"', "never closed")],
)  # fmt: skip
def test_digest_errors(text: str, named: str) -> None:
    error = error_of("digest", text)
    assert isinstance(error, CommandError)
    assert named in error.user_message
    assert_one_sentence(error.user_message)
    assert "digest https://" in error.user_message or "like" in error.user_message


# ---------------------------------------------------------------------- subscribe


def test_subscribe_with_every_option() -> None:
    text = (
        "r/LocalLLaMA,r/selfhosted+homelab daily 09:00 Europe/Berlin top 5 min-score 50 "
        'flair "New Model" exclude-flair Meme keywords llama,qwen nsfw'
    )
    assert parse("subscribe", text) == SubscribeCmd(
        subreddits=("LocalLLaMA", "selfhosted", "homelab"),
        schedule=Schedule("daily", minute=0, hour=9, tz=BERLIN),
        top=5,
        min_score=50,
        flairs=("New Model",),
        exclude_flairs=("Meme",),
        keywords=("llama", "qwen"),
        nsfw=True,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("r/LocalLLaMA daily 09:00", SubscribeCmd(("LocalLLaMA",), DAILY_9)),
        ("LocalLLaMA daily 9am", SubscribeCmd(("LocalLLaMA",), DAILY_9)),
        ("/r/LocalLLaMA daily 09:00", SubscribeCmd(("LocalLLaMA",), DAILY_9)),
        ("r/ab, r/cd daily 09:00", SubscribeCmd(("ab", "cd"), DAILY_9)),
        ("r/ab r/cd daily 09:00", SubscribeCmd(("ab", "cd"), DAILY_9)),
        ("r/ab+cd+AB daily 09:00", SubscribeCmd(("ab", "cd"), DAILY_9)),
        ("r/ab hourly", SubscribeCmd(("ab",), Schedule("hourly"))),
        ("r/ab hourly :30 top 3", SubscribeCmd(("ab",), Schedule("hourly", minute=30), top=3)),
        ("r/ab weekly fri 17:00 America/New_York",
         SubscribeCmd(("ab",), Schedule("weekly", minute=0, hour=17, weekday=4, tz="America/New_York"))),
        ('r/ab cron "0 */6 * * *" top 10', SubscribeCmd(("ab",), Schedule("cron", cron="0 */6 * * *"), top=10)),
        ("r/ab cron 0 */6 * * * UTC", SubscribeCmd(("ab",), Schedule("cron", cron="0 */6 * * *"))),
        ("r/ab cron `0 9 * * mon-fri`", SubscribeCmd(("ab",), Schedule("cron", cron="0 9 * * mon-fri"))),
        # options in any order, a timezone after them, names in different quotes
        ("r/ab daily 09:00 nsfw top 1 min-score 0 Europe/Berlin",
         SubscribeCmd(("ab",), Schedule("daily", minute=0, hour=9, tz=BERLIN), top=1, min_score=0, nsfw=True)),
        ("r/ab daily 09:00 MIN-SCORE 1,000 TOP 2",
         SubscribeCmd(("ab",), DAILY_9, top=2, min_score=1000)),
        ("r/ab daily 09:00 min_score 7", SubscribeCmd(("ab",), DAILY_9, min_score=7)),
        ("r/ab daily 09:00 flair “New Model” flair 'Question | Help'",
         SubscribeCmd(("ab",), DAILY_9, flairs=("New Model", "Question | Help"))),
        ('r/ab daily 09:00 flair "New Model",Discussion flair discussion',
         SubscribeCmd(("ab",), DAILY_9, flairs=("New Model", "Discussion"))),
        ("r/ab daily 09:00 exclude-flair Meme exclude_flair Funny",
         SubscribeCmd(("ab",), DAILY_9, exclude_flairs=("Meme", "Funny"))),
        ('r/ab daily 09:00 keywords "local llama",qwen keyword don\'t',
         SubscribeCmd(("ab",), DAILY_9, keywords=("local llama", "qwen", "don't"))),
    ],
)  # fmt: skip
def test_subscribe_forms(text: str, expected: SubscribeCmd) -> None:
    assert parse("subscribe", text) == expected


def test_subscribe_uses_the_server_timezone_by_default() -> None:
    got = parse("subscribe", "r/ab daily 09:00", tz=BERLIN)
    assert isinstance(got, SubscribeCmd)
    assert got.schedule.tz == BERLIN
    assert got.schedule.describe() == "daily at 09:00 (Europe/Berlin)"


@pytest.mark.parametrize(
    ("text", "error", "named"),
    [
        ("", CommandError, "Name a subreddit"),
        ("daily 09:00", CommandError, "Name a subreddit"),
        ("r/LocalLLaMA", CommandError, "Add a schedule"),
        ("r/LocalLLaMA dialy 09:00", CommandError, "Add a schedule"),
        ("r/a! daily 09:00", InvalidSubreddit, "“r/a!”"),
        ("r/LocalLLaMA daily 25:00", ScheduleError, "“25:00”"),
        ("r/LocalLLaMA daily", ScheduleError, "“daily”"),
        ("r/LocalLLaMA weekly funday 09:00", ScheduleError, "“funday”"),
        ("r/LocalLLaMA hourly :61", ScheduleError, "“:61”"),
        ('r/LocalLLaMA cron "*/5 * * * *"', ScheduleError, "15 minutes"),
        ('r/LocalLLaMA cron "0 9 * *"', ScheduleError, "“0 9 * *”"),
        ("r/LocalLLaMA cron 0 9", ScheduleError, "“0 9”"),
        ("r/LocalLLaMA daily 09:00 Europe/Berlinn", ScheduleError, "“Europe/Berlinn”"),
        ("r/LocalLLaMA daily 09:00 top 5 Europe/Berlinn", ScheduleError, "“Europe/Berlinn”"),
        ("r/LocalLLaMA daily 09:00 UTC Europe/Berlin", CommandError, "one timezone"),
        ("r/LocalLLaMA daily 09:00 top", CommandError, "Give a number of threads"),
        ("r/LocalLLaMA daily 09:00 top 0", CommandError, "“0”"),
        ("r/LocalLLaMA daily 09:00 top 11", CommandError, "“11”"),
        ("r/LocalLLaMA daily 09:00 top five", CommandError, "“five”"),
        ("r/LocalLLaMA daily 09:00 top -1", CommandError, "“-1”"),
        ("r/LocalLLaMA daily 09:00 top 5 top 6", CommandError, "twice"),
        ("r/LocalLLaMA daily 09:00 nsfw nsfw", CommandError, "twice"),
        ("r/LocalLLaMA daily 09:00 min-score -5", CommandError, "“-5”"),
        ("r/LocalLLaMA daily 09:00 min-score 99999999999", CommandError, "“99999999999”"),
        ("r/LocalLLaMA daily 09:00 min-score " + "9" * 5000, CommandError, "is not a minimum score"),
        ("r/LocalLLaMA daily 09:00 min-score", CommandError, "Give a minimum score"),
        ("r/LocalLLaMA daily 09:00 flair", CommandError, "“flair” needs a value"),
        ('r/LocalLLaMA daily 09:00 flair ""', CommandError, "“flair” needs a value"),
        ("r/LocalLLaMA daily 09:00 flair New Model", CommandError, 'quote names with spaces'),
        ('r/LocalLLaMA daily 09:00 flair "New Model', CommandError, "never closed"),
        ("r/LocalLLaMA daily 09:00 keywords " + "x" * 65, CommandError, "too long"),
        ("r/LocalLLaMA daily 09:00 keywords " + ",".join(f"k{i}" for i in range(21)), CommandError, "at most 20"),
        ("r/LocalLLaMA daily 09:00 colour red", CommandError, "“colour” is not a subscribe option"),
    ],
)  # fmt: skip
def test_subscribe_errors(text: str, error: type[DigestError], named: str) -> None:
    caught = error_of("subscribe", text)
    assert type(caught) is error
    assert named in caught.user_message
    assert_one_sentence(caught.user_message)


# ---------------------------------------------------------------------- watch


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("r/LocalLLaMA min-score 200", WatchCmd("LocalLLaMA", 200)),
        ("r/LocalLLaMA min-score 200 within 12 hours", WatchCmd("LocalLLaMA", 200, 12)),
        ("r/LocalLLaMA min-score 200 within 12h", WatchCmd("LocalLLaMA", 200, 12)),
        ("r/LocalLLaMA min-score 200 within 1 hour", WatchCmd("LocalLLaMA", 200, 1)),
        ("r/LocalLLaMA min-score 200 within 12", WatchCmd("LocalLLaMA", 200, 12)),
        ("r/LocalLLaMA min-score 200 within 7 days", WatchCmd("LocalLLaMA", 200, 168)),
        ("r/LocalLLaMA min-score 200 within 2d", WatchCmd("LocalLLaMA", 200, 48)),
        ("r/LocalLLaMA within 168h min-score 0", WatchCmd("LocalLLaMA", 0, 168)),
        ("LocalLLaMA MIN-SCORE 1,500", WatchCmd("LocalLLaMA", 1500)),
    ],
)
def test_watch(text: str, expected: WatchCmd) -> None:
    assert parse("watch", text) == expected


@pytest.mark.parametrize(
    ("text", "error", "named"),
    [
        ("", CommandError, "Name the subreddit"),
        ("min-score 200", CommandError, "Name the subreddit"),
        ("r/LocalLLaMA", CommandError, "what score"),
        ("r/LocalLLaMA min-score", CommandError, "Give a minimum score"),
        ("r/LocalLLaMA min-score lots", CommandError, "“lots”"),
        ("r/LocalLLaMA min-score 5 min-score 6", CommandError, "twice"),
        ("r/LocalLLaMA min-score 5 within", CommandError, "“within” needs"),
        ("r/LocalLLaMA min-score 5 within 0h", CommandError, "“0h”"),
        ("r/LocalLLaMA min-score 5 within 169 hours", CommandError, "“169 hours”"),
        ("r/LocalLLaMA min-score 5 within 8 days", CommandError, "“8 days”"),
        ("r/LocalLLaMA min-score 5 within 12 weeks", CommandError, "“weeks”"),
        ("r/LocalLLaMA min-score 5 within 12y", CommandError, "“12y”"),
        ("r/LocalLLaMA min-score 5 within soon", CommandError, "“soon”"),
        ("r/LocalLLaMA min-score 5 within 1h within 2h", CommandError, "twice"),
        ("r/ab r/cd min-score 5", CommandError, "“r/cd”"),
        ("r/ab,r/cd min-score 5", CommandError, "one subreddit"),
        ("r/LocalLLaMA min-score 5 top 3", CommandError, "“top”"),
        ("r/a! min-score 5", InvalidSubreddit, "“r/a!”"),
    ],
)  # fmt: skip
def test_watch_errors(text: str, error: type[DigestError], named: str) -> None:
    caught = error_of("watch", text)
    assert type(caught) is error
    assert named in caught.user_message
    assert_one_sentence(caught.user_message)


# ---------------------------------------------------------------------- ids, lists, help


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("unsubscribe", "#3", UnsubscribeCmd(3)),
        ("unsubscribe", "3", UnsubscribeCmd(3)),
        ("unsub", " #12 ", UnsubscribeCmd(12)),
        ("pause", "#3", PauseCmd(3)),
        ("pause", "3", PauseCmd(3)),
        ("resume", "#3", ResumeCmd(3)),
        ("resume", "3", ResumeCmd(3)),
        ("subscriptions", "", SubscriptionsCmd()),
        ("subs", "", SubscriptionsCmd()),
        ("list", "", SubscriptionsCmd()),
        ("help", "", HelpCmd(None)),
        ("help", "subscribe", HelpCmd("subscribe")),
        ("help", "/SUBS", HelpCmd("subscriptions")),
        ("help", "nonsense", HelpCmd(None)),  # the whole help lists every command
        ("?", "", HelpCmd(None)),
    ],
)
def test_simple_commands(command: str, text: str, expected: Command) -> None:
    assert parse(command, text) == expected


@pytest.mark.parametrize(
    ("command", "text", "named"),
    [
        ("unsubscribe", "", "Give one subscription number"),
        ("pause", "", "Give one subscription number"),
        ("resume", "#", "“#”"),
        ("resume", "#x", "“#x”"),
        ("unsubscribe", "0", "“0”"),
        ("unsubscribe", "-3", "“-3”"),
        ("unsubscribe", "3 4", "“3 4”"),
        ("unsubscribe", "1" * 12, "“111111111111”"),
        ("subscriptions", "all", "“all”"),
    ],
)
def test_simple_command_errors(command: str, text: str, named: str) -> None:
    caught = error_of(command, text)
    assert isinstance(caught, CommandError)
    assert named in caught.user_message
    assert_one_sentence(caught.user_message)
    assert "like" in caught.user_message or "type just" in caught.user_message


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SettingsCmd(None, None)),
        ("flag-emoji 🔍", SettingsCmd("flag-emoji", "🔍")),
        ("flag-emoji 👍🏽", SettingsCmd("flag-emoji", "👍🏽")),
        ("flag-emoji 🏳️‍🌈", SettingsCmd("flag-emoji", "🏳️‍🌈")),
        ("flag-emoji :mag:", SettingsCmd("flag-emoji", ":mag:")),
        ("flag-emoji <:digest:123456789012345678>", SettingsCmd("flag-emoji", "<:digest:123456789012345678>")),
        ("emoji 👀", SettingsCmd("flag-emoji", "👀")),
        ("default-depth deep", SettingsCmd("default-depth", "deep")),
        ("default_depth BRIEF", SettingsCmd("default-depth", "brief")),
        ("spend-cap 2.50", SettingsCmd("spend-cap", "2.50")),
        ("spend-cap 2.5", SettingsCmd("spend-cap", "2.50")),
        ("spend-cap $3", SettingsCmd("spend-cap", "3.00")),
        ("spend-cap 0", SettingsCmd("spend-cap", "0.00")),
        ("spend-cap 1,25", SettingsCmd("spend-cap", "1.25")),
        ("spend-cap 1000", SettingsCmd("spend-cap", "1000.00")),
        ("analyzer offline", SettingsCmd("analyzer", "offline")),
        ("analyzer Auto", SettingsCmd("analyzer", "auto")),
        ("analyzer anthropic", SettingsCmd("analyzer", "anthropic")),
        ("analyzer openai", SettingsCmd("analyzer", "openai")),
        ("timezone Europe/Berlin", SettingsCmd("timezone", BERLIN)),
        ("timezone europe/berlin", SettingsCmd("timezone", BERLIN)),
        ("tz utc", SettingsCmd("timezone", "UTC")),
        ("quiet post", SettingsCmd("quiet", "post")),
        ("quiet silent", SettingsCmd("quiet", "silent")),
        ("flag-threshold 2", SettingsCmd("flag-threshold", "2")),
        ("flag-threshold 20", SettingsCmd("flag-threshold", "20")),
        ("FLAG-THRESHOLD 1", SettingsCmd("flag-threshold", "1")),
    ],
)  # fmt: skip
def test_settings(text: str, expected: SettingsCmd) -> None:
    assert parse("settings", text) == expected


@pytest.mark.parametrize(
    ("text", "error", "named"),
    [
        ("colour red", CommandError, "“colour” is not a setting"),
        ("spend-cap", CommandError, "Give a value for spend-cap"),
        ("timezone ''", CommandError, "Give a value for timezone"),
        ("spend-cap 2.50 3", CommandError, "one value"),
        ("flag-emoji x", CommandError, "“x” is not an emoji"),
        ("flag-emoji ^", CommandError, "“^” is not an emoji"),
        ("flag-emoji 🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍🔍", CommandError, "is not an emoji"),
        ("default-depth medium", CommandError, "“medium”"),
        ("spend-cap lots", CommandError, "“lots”"),
        ("spend-cap nan", CommandError, "“nan”"),
        ("spend-cap inf", CommandError, "“inf”"),
        ("spend-cap -1", CommandError, "“-1”"),
        ("spend-cap 1000.01", CommandError, "“1000.01”"),
        ("spend-cap 2.505", CommandError, "“2.505”"),
        ("analyzer gpt", CommandError, "“gpt”"),
        ("timezone Europe/Berlinn", ScheduleError, "“Europe/Berlinn”"),
        ("timezone PST", ScheduleError, "“PST”"),
        ("quiet loud", CommandError, "“loud”"),
        ("flag-threshold 0", CommandError, "“0”"),
        ("flag-threshold 21", CommandError, "“21”"),
        ("flag-threshold two", CommandError, "“two”"),
    ],
)  # fmt: skip
def test_settings_errors(text: str, error: type[DigestError], named: str) -> None:
    caught = error_of("settings", text)
    assert type(caught) is error
    assert named in caught.user_message
    assert_one_sentence(caught.user_message)
    assert "like" in caught.user_message


# ---------------------------------------------------------------------- unknown commands, quoting


@pytest.mark.parametrize(("command", "text"), [("frobnicate", ""), ("/redigest", "frobnicate x"),
                                               ("", "frobnicate"), ("unsubscribes", "3")])  # fmt: skip
def test_unknown_command_lists_the_commands(command: str, text: str) -> None:
    caught = error_of(command, text)
    assert isinstance(caught, CommandError)
    assert "“frobnicate”" in caught.user_message or "“unsubscribes”" in caught.user_message
    assert all(name in caught.user_message for name in COMMANDS)
    assert_one_sentence(caught.user_message)


def test_unknown_command_name_is_shortened_and_flattened() -> None:
    caught = error_of("x" * 500 + "\n\x00", "")
    assert "x" * 39 + "…" in caught.user_message
    assert_one_sentence(caught.user_message)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a b  c", ["a", "b", "c"]),
        ('flair "New Model" x', ["flair", "New Model", "x"]),
        ("flair “New Model” x", ["flair", "New Model", "x"]),
        ("flair 'New Model' ‘x y’", ["flair", "New Model", "x y"]),
        ('keywords "a b",c,"d e"', ["keywords", "a b,c,d e"]),
        ("cron `0 9 * * *`", ["cron", "0 9 * * *"]),
        ("don't stop", ["don't", "stop"]),
        ('say ""', ["say", ""]),
        ("", []),
        ("\t\n ", []),
    ],
)
def test_split_words(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize("text", ['"open', "flair “New Model", "'x", "a `b", 'a,"b'])
def test_unbalanced_quotes_are_a_clear_error(text: str) -> None:
    with pytest.raises(CommandError, match="never closed") as caught:
        split_words(text)
    assert_one_sentence(caught.value.user_message)


# ---------------------------------------------------------------------- usage and help


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_has_an_example_that_parses(command: str) -> None:
    line = usage(command)
    assert "\n" not in line
    assert command in line
    sample = line.split("— e.g. ", 1)[1]
    name, _, text = sample.partition(" ")
    assert isinstance(parse(name, text), Command)
    assert sample in HELP_TEXT


def test_usage_accepts_aliases_and_refuses_unknown_names() -> None:
    assert usage("/subs") == usage("subscriptions")
    with pytest.raises(CommandError, match="“nope”"):
        usage("nope")


def test_help_text_covers_every_command_and_setting() -> None:
    for word in (*COMMANDS, "flag-emoji", "default-depth", "spend-cap", "analyzer", "timezone",
                 "quiet", "flag-threshold", "Europe/Berlin", "cron"):  # fmt: skip
        assert word in HELP_TEXT


# ---------------------------------------------------------------------- fuzz

WORDS = [
    "digest", "subscribe", "watch", "unsubscribe", "pause", "resume", "subscriptions", "settings",
    "help", "redigest", "/redigest", "r/LocalLLaMA", "r/ab,r/cd", "hourly", "daily", "weekly",
    "cron", "09:00", "9am", ":15", "mon", "Europe/Berlin", "UTC", "top", "5", "min-score", "50",
    "flair", '"New Model"', "exclude-flair", "keywords", "a,b", "nsfw", "within", "12h", "hours",
    "#3", "flag-emoji", "🔍", "spend-cap", "2.50", "timezone", "quiet", "flag-threshold", "deep",
    '"0 */6 * * *"', "*/15", "*", "0", '"', "“", "'", "`", URL, "-1", "99999999999", "",
]  # fmt: skip
NAMES = ["", "/", "redigest", "/redigest", *COMMANDS, "subs", "unsub", "list", "?", "/digest x"]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_total(command: str, text: str) -> None:
    """parse_command returns a Command or raises one of our errors with a message, nothing else."""
    result: Command | DigestError
    try:
        result = parse_command(command, text, default_tz="UTC")
    except (CommandError, ScheduleError, InvalidSubreddit) as exc:
        result = exc
    if isinstance(result, DigestError):
        assert result.user_message.strip()
        assert "\n" not in result.user_message
    else:
        assert isinstance(result, Command)


@FUZZ
@given(st.text(), st.text())
def test_fuzz_any_command_and_text(command: str, text: str) -> None:
    check_total(command, text)


@FUZZ
@given(st.sampled_from(NAMES), st.text())
def test_fuzz_known_command_any_text(command: str, text: str) -> None:
    check_total(command, text)


@FUZZ
@given(
    st.sampled_from(NAMES),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)), max_size=12),
)
def test_fuzz_known_command_plausible_words(command: str, words: list[str]) -> None:
    check_total(command, " ".join(words))


def test_messages_never_echo_control_characters() -> None:
    caught = error_of("settings", "quiet \x1b[31mloud\x07")
    assert not re.search(r"[\x00-\x1f]", caught.user_message)
