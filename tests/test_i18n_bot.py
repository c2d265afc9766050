"""Issue 19, scope 2 through the bot: `settings language <code>` per server, REDIGEST_LANGUAGE
as the default, the console with an LLM writing German, and Slack applying the setting."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import _console
from bot.commands import CommandError
from bot.commands.settings import parse_settings
from bot.settings import SettingsError, load_settings
from tests.fakes.llm_servers import FakeOpenAI, RecordedRequest, Reply, Usage
from tests.support.scripted_llm import grounded_from
from tests.test_i18n import _english_phrases
from tests.test_slack_adapter import GOOD_URL, MetaSlack, running

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE = EXAMPLES / "selfhosted_thread.json"


def test_a_language_is_one_of_the_catalogues_and_a_bad_one_is_one_sentence() -> None:
    assert parse_settings(["language", "de"], "UTC").value == "de"
    assert parse_settings(["lang", "PT-br"], "UTC").value == "pt"
    with pytest.raises(CommandError) as caught:
        parse_settings(["language", "klingon"], "UTC")
    assert str(caught.value) == (
        "“klingon” is not a language redigest writes: use en, de, fr, es, ja or pt, "
        "like settings language de."
    )


def test_redigest_language_sets_the_default_and_a_bad_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(env_file=None).language == "en"
    monkeypatch.setenv("REDIGEST_LANGUAGE", "ja")
    assert load_settings(env_file=None).language == "ja"
    monkeypatch.setenv("REDIGEST_LANGUAGE", "xx")
    with pytest.raises(SettingsError, match="REDIGEST_LANGUAGE"):
        load_settings(env_file=None)


def _answer(record: RecordedRequest) -> object:
    """The scripted model, behind the OpenAI fake: grounded in the prompt's thread, in German
    when the instructions ask for it."""
    text = record.user_text
    return grounded_from(text, "de" if "in German" in text else "en")


async def _session(out: io.StringIO, *lines: str) -> AsyncIterator[str]:
    """Lines typed one by one; `wait TEXT` waits (bounded) until the output shows TEXT."""
    for line in lines:
        if line.startswith("wait "):
            for _ in range(400):
                if line[5:] in out.getvalue():
                    break
                await asyncio.sleep(0.05)
            continue
        yield line + "\n"


def _bodies(thread_json: Path) -> list[str]:
    raw = json.loads(thread_json.read_text("utf-8"))
    out = [raw[0]["data"]["children"][0]["data"].get("selftext", "")]
    stack = list(raw[1]["data"]["children"])
    while stack:
        data = stack.pop()["data"]
        out.append(data.get("body", ""))
        replies = data.get("replies")
        if isinstance(replies, dict):
            stack += replies["data"]["children"]
    return [" ".join(b.split()) for b in out if b]


async def test_settings_language_de_then_a_deep_digest_with_the_llm_is_german(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance: headings German, the model's narrative German, quotes in the thread's own
    words (English), and no English fixed phrase left."""
    async with FakeOpenAI(default=Reply(_answer), usage=Usage(2000, 400)) as server:
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
                "/settings language klingon",
                "/settings language de",
                "wait language is now de",
                f"/digest {EXAMPLE} deep",
                "wait 10. WEITERE BEOBACHTUNGEN",
            ),
            out,
        )
        assert "in German" in server.requests_to("/v1/chat/completions")[-1].user_text
    text = out.getvalue()
    assert "“klingon” is not a language redigest writes: use en, de, fr, es, ja or pt" in text
    report = text[text.index("1. BEITRAGSDETAILS") :]
    report = report[: report.index("Analysator:")]
    for heading in ("2. ZUSAMMENFASSUNG", "3. HAUPTTHEMEN", "9. KONKRETE RATSCHLÄGE"):
        assert heading in report
    assert "Die Leute diskutieren den Beitrag." in report  # the model's German narrative
    assert "Die Stimmung ist überwiegend positiv." in report
    # Quotes are the thread's own (English) words, verbatim.
    quotes = re.findall(r"“([^”]*)”", report)
    assert len(quotes) >= 5
    bodies = _bodies(EXAMPLE)
    for q in quotes:
        words = q.replace("\u200b", "").rstrip("…").split(" / ")[0]  # @\u200beveryone: defused
        assert any(words in b for b in bodies), q
    # No English fixed phrase outside the quotes, URLs and the thread's own words.
    left = re.sub(r"“[^”]*”|https?://\S+", "", report)
    title = json.loads(EXAMPLE.read_text("utf-8"))[0]["data"]["children"][0]["data"]["title"]
    left = re.sub(re.escape(title), "", left, flags=re.I)
    assert not [p.pattern for p in _english_phrases("de") if p.search(left)]


async def test_the_language_setting_applies_on_slack(fake: MetaSlack, tmp_path: Path) -> None:
    async with running(fake, tmp_path) as bot:
        await bot.slash("/redigest", "settings language fr", user_id="U0OWNER01")
        await bot.fake.wait_until(lambda: len(bot.fake.ephemerals) == 1)
        assert bot.fake.ephemerals[0].text == "language is now fr."
        await bot.slash("/digest", f"{GOOD_URL} deep", user_id="U0OWNER01")
        call = await bot.fake.wait_for_call("chat.postMessage", timeout=10.0)
        await bot.settle()
    blocks = call.args["blocks"]
    assert blocks[0]["text"]["text"].startswith("Analyse approfondie · r/")
    shown = json.dumps([m.blocks for m in bot.fake.posted], ensure_ascii=False)
    assert "*1. Détails de la publication*" in shown
    assert "Le résumé n'est disponible qu'en anglais (sans modèle de langage)." in shown
    assert "Post details" not in shown
    assert call.args["text"].startswith("Analyse approfondie de r/")


async def test_a_server_without_the_setting_writes_in_redigest_language(
    fake: MetaSlack, tmp_path: Path
) -> None:
    from bot.core import CoreConfig

    async with running(fake, tmp_path) as bot:
        bot.core.config = CoreConfig(default_language="es", workers=2, idle_poll_seconds=0.05)
        await bot.slash("/digest", f"{GOOD_URL} brief", user_id="U0OWNER01")
        call = await bot.fake.wait_for_call("chat.postMessage", timeout=10.0)
        await bot.settle()
    assert call.args["blocks"][0]["text"]["text"].startswith("Resumen · r/")
    assert "*En resumen*" in json.dumps(call.args["blocks"], ensure_ascii=False)


@pytest.fixture
async def fake() -> AsyncIterator[MetaSlack]:
    server = MetaSlack()
    async with server:
        yield server


def test_a_bundles_title_and_empty_text_are_in_the_servers_language() -> None:
    from bot.core.bundles import why_empty
    from digest.i18n import words
    from digest.render.document import bundle_document
    from digest.render.markdown import text_of

    w = words("de")
    when = w.tr("today")
    assert w.tr("Top of {subs} {when}", subs="r/selfhosted", when=when) == (
        "Top-Threads von heute in r/selfhosted"
    )
    said = why_empty("r/selfhosted", when, 12, 0, 0, 7, w)
    assert (
        said
        == "Keine neuen Threads von heute in r/selfhosted bestanden die Filter (12 Threads geprüft)."
    )
    assert why_empty("r/x", "today", 3, 1, 0, 7) == (  # English as it always was
        "Nothing new in r/x today: the 1 thread that pass the filters was already posted here "
        "in the last 7 days."
    )
    text = text_of(bundle_document("Top", [], None, said, lang="de"))
    assert "NICHTS NEUES" in text


async def test_discords_locale_suggests_the_language_in_the_settings_answer(
    tmp_path: Path,
) -> None:
    """The asker's Discord is in German and the server's digests are in English: the settings
    answer says how to have them in German; once they are, it says nothing more."""
    from tests.fakes.discord_server import FakeDiscord
    from tests.test_discord_adapter import make_thread, running_bot

    def settings(key: str = "", value: str = "", locale: str = "de") -> Any:
        options = [{"name": "key", "type": 3, "value": key}] if key else []
        options += [{"name": "value", "type": 3, "value": value}] if value else []
        return discord.slash_command(
            "redigest", [{"name": "settings", "type": 1, "options": options}],
            user=discord.admin, locale=locale,
        )  # fmt: skip

    hint = "Your Discord is in German: /settings language de writes digests in German."
    discord = FakeDiscord()
    async with discord, running_bot(discord, tmp_path, make_thread()) as bot:
        shown = settings()
        await discord.dispatch("INTERACTION_CREATE", shown.payload)
        (answer,) = await bot.answers(shown)
        assert "language: en" in answer
        assert answer.endswith(hint)
        english = settings(locale="en-US")
        await discord.dispatch("INTERACTION_CREATE", english.payload)
        assert hint not in (await bot.answers(english))[0]
        change = settings("language", "de")
        await discord.dispatch("INTERACTION_CREATE", change.payload)
        assert await bot.answers(change) == ["language is now de."]
        again = settings()
        await discord.dispatch("INTERACTION_CREATE", again.payload)
        (answer,) = await bot.answers(again)
        assert "language: de" in answer
        assert hint not in answer


def test_redigest_digest_on_the_command_line_writes_in_redigest_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("REDIGEST_LANGUAGE", "pt")
    result = CliRunner().invoke(app, ["digest", str(EXAMPLE), "--depth", "deep"])
    assert result.exit_code == 0, result.stderr
    assert "## 1. Detalhes da publicação" in result.stdout  # Markdown by default
    assert "O resumo só está disponível em inglês (sem modelo de linguagem)." in result.stdout


def test_why_the_offline_analyser_wrote_a_report_is_said_in_its_language() -> None:
    from bot.core import Engines
    from digest.i18n import words
    from digest.pipeline import DigestEngine

    engines = Engines({"offline": DigestEngine()})
    _, note = engines.pick("anthropic", spend_ok=True, w=words("de"))
    assert note == (
        "Der Analysator anthropic ist auf diesem Bot nicht eingerichtet; dies schrieb der "
        "Analysator offline."
    )
    _, english = engines.pick("anthropic", spend_ok=True)
    assert english == (
        "The anthropic analyser is not configured on this bot; the offline analyser wrote this."
    )
