"""`/usage` and what an LLM model costs: usage per channel and subscription, today / 7 / 30 days,
for managers only; a model with no price is counted at REDIGEST_LLM_DEFAULT_PRICE or refused by
the spend cap, never counted as free; start-up says which."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _console, app
from bot.core import Engines
from bot.core.usage import NO_USAGE
from bot.settings import SettingsError, load_settings
from bot.storage import Storage
from digest.llm import LLMAnalyzer
from digest.pipeline import DigestEngine
from digest.pricing import DEFAULT_PRICES, Pricing
from digest.report import Depth
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.llm_servers import FakeOpenAI, Usage
from tests.support.harness import SCORER, Harness
from tests.test_discord_adapter import MANAGE_GUILD
from tests.test_discord_adapter import running_bot as discord_bot
from tests.test_slack_adapter import MetaSlack
from tests.test_slack_adapter import running as slack_bot

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _llm_engines(h: Harness, model: str, pricing: Pricing) -> Engines:
    """The harness's engines with the scripted LLM writing as `model`, priced by `pricing`."""
    models = dict.fromkeys(Depth, model)
    llm = LLMAnalyzer(h.llm, models=models, prices=pricing.prices, default_price=pricing.default)
    return Engines(
        {
            "offline": h.core.engines.by_name["offline"],
            "anthropic": DigestEngine(llm, scorer=SCORER),
        },
        "offline",
        pricing,
    )


async def _digest(h: Harness, post_id: str, channel: str = "C1", **kw: object) -> None:
    token = f"{post_id}-{channel}-{h.clock.now.isoformat()}"
    await h.core.handle_request(
        h.request(
            "digest", f"https://redd.it/{post_id}", channel_id=channel, reply_token=token, **kw
        )
    )
    await h.run_jobs()


async def _usage(h: Harness, text: str = "", **kw: object) -> str:
    reply = await h.core.handle_request(h.request("usage", text, **kw))
    assert reply is not None
    assert reply.ephemeral
    return reply.text


# ----------------------------------------------------------------------------- unpriced models


async def test_an_unpriced_model_without_a_default_price_is_refused_not_free(h: Harness) -> None:
    h.core.engines = _llm_engines(h, "local-7b", Pricing(DEFAULT_PRICES, None))
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    await _digest(h, "aaa111")
    [post] = h.chat.public()
    report = post.delivery.report
    assert report is not None
    assert report.analyzer == "offline"
    assert any("local-7b has no price" in n for n in report.notes), report.notes
    assert h.llm.requests == []  # never called: its cost could not be counted
    assert await h.core.storage.spent_today("fake", "S1") == 0


async def test_an_unpriced_model_is_counted_at_the_default_price_and_capped(h: Harness) -> None:
    h.core.engines = _llm_engines(h, "local-7b", Pricing(DEFAULT_PRICES, (3.0, 15.0)))
    h.llm.usage = (100_000, 10_000, 0, 0)  # $0.30 + $0.15 at US$3/15 per million
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    await h.core.handle_request(h.request("settings", "spend-cap 0.40"))
    await _digest(h, "aaa111")
    await _digest(h, "bbb222")
    analyzers = [p.delivery.report.analyzer for p in h.chat.public() if p.delivery.report]
    assert analyzers == ["anthropic", "offline"]  # the first one's cost reached the cap
    assert await h.core.storage.spent_today("fake", "S1") == pytest.approx(0.45)
    last = h.chat.public()[-1].delivery.report
    assert last is not None
    assert any("LLM budget" in n for n in last.notes)


def test_pricing_says_how_each_model_is_counted() -> None:
    listed = Pricing(DEFAULT_PRICES, None)
    assert listed.startup_line("claude-haiku-5-5") == (
        "LLM model claude-haiku-5-5: priced at US$1/5 per million tokens in/out."
    )
    assert listed.startup_line("local-7b") == (
        "LLM model local-7b has no price and no REDIGEST_LLM_DEFAULT_PRICE: the spend cap refuses "
        "it (offline analyser used) — set one of them, or price it in REDIGEST_LLM_PRICES."
    )
    assert Pricing(DEFAULT_PRICES, (3, 15)).startup_line("local-7b") == (
        "LLM model local-7b has no price: counted at the default US$3/15 per million tokens "
        "in/out (REDIGEST_LLM_DEFAULT_PRICE)."
    )
    assert listed.startup_lines({"openai": {Depth.BRIEF: "b", Depth.DEEP: "b"}}) == [
        listed.startup_line("b")
    ]


@pytest.mark.parametrize(("value", "price"), [("3,15", (3.0, 15.0)), (" 0.5 , 2 ", (0.5, 2.0))])
def test_the_default_price_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, price: tuple[float, float]
) -> None:
    monkeypatch.setenv("REDIGEST_LLM_DEFAULT_PRICE", value)
    settings = load_settings(env_file=None)
    assert settings.llm_default_price == price
    assert settings.pricing().cost(_Tokens(1_000_000, 1_000_000), "local-7b") == sum(price)


@pytest.mark.parametrize("value", ["3", "three,15", "3,15,1", "-1,2"])
def test_a_bad_default_price_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, value: str
) -> None:
    monkeypatch.setenv("REDIGEST_LLM_DEFAULT_PRICE", value)
    with pytest.raises(SettingsError, match="REDIGEST_LLM_DEFAULT_PRICE"):
        load_settings(env_file=None)
    result = CliRunner().invoke(app, ["console"])
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert "REDIGEST_LLM_DEFAULT_PRICE" in line
    assert '"3,15"' in line


class _Tokens:
    def __init__(self, i: int, o: int) -> None:
        self.input_tokens, self.output_tokens = i, o
        self.cache_write_tokens = self.cache_read_tokens = 0


# ----------------------------------------------------------------------------- /usage


async def test_usage_today_7_and_30_days_by_channel_and_subscription(h: Harness) -> None:
    # Haiku prices: 1,000 tokens in and 200 out cost US$0.002 an analysis.
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    start = h.clock.now
    h.clock.now = start - timedelta(days=40)  # too old for the report
    await _digest(h, "ccc333", "C3")
    h.clock.now = start - timedelta(days=20)
    await _digest(h, "aaa111", "C2")
    h.clock.now = start - timedelta(days=3)
    await _digest(h, "bbb222", "C2")
    h.clock.now = start
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 2"))
    h.clock.advance(hours=2, minutes=1)
    assert await h.core.scheduler_tick() == 1
    await h.run_jobs()  # a bundle of aaa111 and bbb222, for subscription #1 in C1
    await _digest(h, "ccc333", "C1")
    text = await _usage(h)
    assert text == "\n".join(
        [
            "LLM usage on this server (UTC days; costs are estimates):",
            "Today: 3 digests with an LLM, 3,000 tokens in / 600 out, US$0.0060",
            "Last 7 days: 4 digests with an LLM, 4,000 tokens in / 800 out, US$0.0080",
            "Last 30 days: 5 digests with an LLM, 5,000 tokens in / 1,000 out, US$0.0100",
            "By channel, last 30 days:",
            "• #C1: 3 digests with an LLM, 3,000 tokens in / 600 out, US$0.0060",
            "• #C2: 2 digests with an LLM, 2,000 tokens in / 400 out, US$0.0040",
            "By subscription, last 30 days:",
            "• asked for (no subscription): 3 digests with an LLM, 3,000 tokens in / 600 out, "
            "US$0.0060",
            "• #1 r/LocalLLaMA: 2 digests with an LLM, 2,000 tokens in / 400 out, US$0.0040",
        ]
    )
    reply = await h.core.handle_request(h.request("usage", ""))
    assert reply is not None
    assert reply.channels == ("C1", "C2")  # each shown as the platform's channel mention


async def test_usage_is_for_managers_only(h: Harness) -> None:
    text = await _usage(h, can_manage=False)
    assert text == "Only people who can manage this server can see its usage and costs."


async def test_usage_without_any_llm_says_so(h: Harness) -> None:
    await _digest(h, "aaa111")  # the offline analyser: no usage
    assert await _usage(h) == NO_USAGE
    assert NO_USAGE == (
        "No LLM usage in the last 30 days: digests were made by the offline analyser."
    )


async def test_usage_lists_the_top_ten_and_says_which_costs_are_estimates(h: Harness) -> None:
    h.core.engines = _llm_engines(h, "local-7b", Pricing(DEFAULT_PRICES, (3.0, 15.0)))
    storage = h.core.storage
    for i in range(12):
        await storage.record_usage("fake", "S1", "local-7b", 1000 * (i + 1), 100, 0.001 * (i + 1),
                                   channel_id=f"c{i:02}", subscription_id=i + 1)  # fmt: skip
    await storage.record_usage("fake", "S1", "mystery-1", 500, 50, 0.0, channel_id="c00")
    await storage.record_usage("fake", "OTHER", "local-7b", 9, 9, 9.0, channel_id="elsewhere")
    text = await _usage(h)
    lines = text.splitlines()
    channels = lines[lines.index("By channel, last 30 days:") + 1 :][:11]
    assert [c.split(":")[0] for c in channels[:10]] == [f"• #c{i:02}" for i in range(11, 1, -1)]
    assert channels[10] == "  … and 2 more"
    assert "• #12 (removed): 1 digest with an LLM" in text
    assert "elsewhere" not in text  # another server's
    assert (
        "local-7b is not in the price table: its cost is estimated from its tokens at the "
        "default US$3/15 per million in/out (REDIGEST_LLM_DEFAULT_PRICE)." in lines
    )
    # A model counted before it had a price (or with none): its tokens are said, not hidden.
    h.core.engines = _llm_engines(h, "local-7b", Pricing(DEFAULT_PRICES, None))
    notes = (await _usage(h)).splitlines()
    assert (
        "mystery-1 has no price now, so the spend cap refuses it: set REDIGEST_LLM_DEFAULT_PRICE "
        "or price it in REDIGEST_LLM_PRICES." in notes
    )
    assert (
        "500 tokens in / 50 out of mystery-1 were recorded at US$0 (it had no price then): no "
        "cost above includes them." in notes
    )


async def test_usage_takes_nothing_after_it(h: Harness) -> None:
    text = await _usage(h, "30")
    assert text == "“usage” takes nothing after it (got “30”): type just usage."


# ----------------------------------------------------------------------------- the console


async def _session(out: io.StringIO, *lines: str) -> AsyncIterator[str]:
    """Lines typed at the console; a line "wait TEXT" waits until TEXT has been printed."""
    for line in lines:
        if line.startswith("wait "):
            for _ in range(400):
                if line[5:] in out.getvalue():
                    break
                await asyncio.sleep(0.05)
            continue
        yield line + "\n"


async def test_usage_in_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local model with no price, counted at REDIGEST_LLM_DEFAULT_PRICE: start-up says so, and
    /usage shows what a scheduled run and a digest asked for cost (each a failed LLM answer
    repaired once, then written offline: the tokens were spent all the same)."""
    async with FakeOpenAI(
        usage=Usage(5000, 700)
    ) as server:  # answers {}: repaired, then a fallback
        for key, value in {
            "REDIGEST_DATABASE_PATH": str(tmp_path / "console.sqlite3"),
            "REDIGEST_SAVED_THREADS": str(EXAMPLES),
            "REDIGEST_REDDIT_MODE": "saved",
            "REDIGEST_ANALYZER": "openai",
            "OPENAI_BASE_URL": server.base_url + "/v1",
            "REDIGEST_BRIEF_MODEL": "fake-model",
            "REDIGEST_DEEP_MODEL": "fake-model",
            "REDIGEST_LLM_DEFAULT_PRICE": "3,15",
        }.items():
            monkeypatch.setenv(key, value)
        out = io.StringIO()
        await _console(
            load_settings(env_file=None),
            _session(
                out,
                "/usage",
                "/subscribe r/selfhosted daily 09:00 top 2",
                ":run 1",
                "wait Top of r/selfhosted",
                f"/digest {EXAMPLES / 'selfhosted_thread.json'} deep",  # a second analysis
                "wait 10. OTHER OBSERVATIONS",
                "/usage",
            ),
            out,
        )
    text = out.getvalue()
    assert NO_USAGE in text  # before any digest
    assert "Today: 2 digests with an LLM, 20,000 tokens in / 2,800 out, US$0.1020" in text
    assert "• #general: 2 digests with an LLM" in text
    assert (
        "• #1 r/selfhosted: 1 digest with an LLM, 10,000 tokens in / 1,400 out, US$0.0510" in text
    )
    assert "• asked for (no subscription): 1 digest with an LLM" in text
    assert "fake-model is not in the price table: its cost is estimated" in text
    assert (
        "redigest: LLM model fake-model has no price: counted at the default US$3/15 per million "
        "tokens in/out (REDIGEST_LLM_DEFAULT_PRICE)." in capsys.readouterr().err
    )


# ----------------------------------------------------------------------------- Discord and Slack


async def _seed(storage: Storage, platform: str, server: str, channel: str) -> None:
    await storage.record_usage(platform, server, "claude-haiku-5-5", 1000, 200, 0.002,
                               channel_id=channel)  # fmt: skip


async def test_usage_on_discord_is_private_for_managers_and_names_the_channel(
    tmp_path: Path,
) -> None:
    async with FakeDiscord() as fake, discord_bot(fake, tmp_path) as bot:
        (sync,) = fake.commands_synced
        [command] = [c for c in sync.commands if c["name"] == "usage"]
        assert str(command["default_member_permissions"]) == MANAGE_GUILD
        channel = fake.guild.text_channel.id
        await _seed(bot.core.storage, "discord", str(fake.guild.id), str(channel))
        asked = await bot.slash("usage", user=fake.admin)
        (answer,) = await bot.answers(asked)
        assert answer.startswith("LLM usage on this server")
        assert f"• <#{channel}>: 1 digest with an LLM, 1,000 tokens in / 200 out" in answer
        refused = await bot.slash("usage", user=fake.plain)
        assert await bot.answers(refused) == [
            "Only people who can manage this server can see its usage and costs."
        ]
        for interaction in (asked, refused):
            callback = next(c for c in fake.callbacks if c.interaction_id == interaction.id)
            assert callback.ephemeral


async def test_usage_on_slack_is_private_for_managers_and_names_the_channel(
    tmp_path: Path,
) -> None:
    async with MetaSlack() as fake, slack_bot(fake, tmp_path) as bot:
        await _seed(bot.core.storage, "slack", fake.team_id, "C0GENERAL")
        await bot.slash("/redigest", "usage", user_id="U0OWNER01")
        await fake.wait_until(lambda: len(fake.ephemerals) == 1)
        answer = fake.ephemerals[0]
        assert (answer.via, answer.user) == ("response_url", "U0OWNER01")
        assert "• <#C0GENERAL>: 1 digest with an LLM, 1,000 tokens in / 200 out" in answer.text
        await bot.slash("/redigest", "usage", user_id="U0ALICE01")
        await fake.wait_until(lambda: len(fake.ephemerals) == 2)
        refusal = fake.ephemerals[1]
        assert (refusal.via, refusal.user) == ("response_url", "U0ALICE01")
        assert (
            refusal.text == "Only people who can manage this workspace can see its usage and costs."
        )
        assert fake.posted == []  # nothing in the channel


async def test_a_model_with_no_price_is_refused_in_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeOpenAI() as server:
        for key, value in {
            "REDIGEST_DATABASE_PATH": str(tmp_path / "console.sqlite3"),
            "REDIGEST_SAVED_THREADS": str(EXAMPLES),
            "REDIGEST_REDDIT_MODE": "saved",
            "REDIGEST_ANALYZER": "openai",
            "OPENAI_BASE_URL": server.base_url + "/v1",
            "REDIGEST_BRIEF_MODEL": "fake-model",
            "REDIGEST_DEEP_MODEL": "fake-model",
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("REDIGEST_LLM_DEFAULT_PRICE", raising=False)
        out = io.StringIO()
        await _console(
            load_settings(env_file=None),
            _session(out, f"/digest {EXAMPLES / 'selfhosted_thread.json'}", "wait Analyser:"),
            out,
        )
        assert server.calls() == []
    text = out.getvalue()
    assert "Analyser: offline." in text
    assert (
        "The LLM model fake-model has no price, so the spend cap cannot count it; the offline "
        "analyser wrote this." in text
    )
    assert (
        "redigest: LLM model fake-model has no price and no REDIGEST_LLM_DEFAULT_PRICE: the spend "
        "cap refuses it (offline analyser used)" in capsys.readouterr().err
    )
