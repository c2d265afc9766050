"""A chat thread's report speaks of messages in every language (issues 18 and 19 together).

A Slack or Discord thread has messages, replies and a first message, not comments and a post.
English reports say so through `Origin.say`; the other languages through the catalogues'
`msgctxt "chat"` entries (digest.i18n.CHAT), which `Words(lang, "chat")` prefers. Each catalogue
translates every phrase that needs it (tests.support.i18n_extract.chat_msgids) with the same
placeholders; every renderer of a chat thread's brief and deep report, and the chart, then use
the language's word for a message and never its words for a comment or a post.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.reddit_source.thread_json import thread_from_json_text
from digest.chart_data import alt_text
from digest.chart_text import CHART_TEXT, chart_text
from digest.i18n import CHAT, LANGUAGES, catalogue, parse_po, words
from digest.llm import LLMAnalyzer
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.render.document import document
from digest.render.markdown import markdown_of, text_of
from digest.report import Depth, Report
from digest.select import Coverage
from digest.sentiment import make_scorer
from digest.source import HACKER_NEWS, chat
from tests.support.i18n_extract import chat_msgids, msgids, pot
from tests.support.scripted_llm import ScriptedLLM
from tests.test_i18n import _neutral_answer, _renders, _strip_untranslatable

SCORER = make_scorer()
OTHERS = [lang for lang in LANGUAGES if lang != "en"]
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "selfhosted_thread.json"
# The real thread /tmp/chat300.json-style chat threads are made of (tests/fakes/slack_server.py
# thread_export): Reddit's poll announcement, 297 answers.
REAL = ROOT.parent / "shared" / "data" / "reddit" / "praw" / "announcements_fo7p5b_2020.json"

# Each language's words for a comment and a post (and for commenting): none may stand in a chat
# thread's report where the renderers speak (quotes, titles, links and names left out).
NOT_CHAT = {
    "de": r"(?i)kommentar|kommentier|beitrag",
    "fr": r"(?i)commentaire|comment[ée]|publication",
    "es": r"(?i)comentari|coment[óa]|publicaci[óo]n",
    "ja": r"コメント|投稿",
    "pt": r"(?i)coment[áa]rio|comentou|publica[çc][ãa]o",
}
# ... and each language's word for a message, which it uses instead.
MESSAGE = {
    "de": "Nachricht",
    "fr": "message",
    "es": "mensaje",
    "ja": "メッセージ",
    "pt": "mensag",
}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# ---------------------------------------------------------------- the mechanism


def test_the_po_parser_keeps_each_msgctxt_apart() -> None:
    cat = parse_po(
        'msgid "{n} comment"\nmsgid_plural "{n} comments"\nmsgstr[0] "{n} Kommentar"\n'
        'msgstr[1] "{n} Kommentare"\n\n'
        'msgctxt "chat"\nmsgid "{n} comment"\nmsgid_plural "{n} comments"\n'
        'msgstr[0] "{n} Nachricht"\nmsgstr[1] "{n} Nachrichten"\n\n'
        'msgid "Post details"\nmsgstr "Beitragsdetails"\n\n'
        'msgctxt "chat"\nmsgid "Post details"\nmsgstr "Thread-Details"\n\n'
        '#, fuzzy\nmsgctxt "chat"\nmsgid "Score"\nmsgstr "Reaktionen"\n'
    )
    assert cat.singular == {"Post details": "Beitragsdetails"}
    assert cat.plural == {("{n} comment", "{n} comments"): ("{n} Kommentar", "{n} Kommentare")}
    assert set(cat.contexts) == {CHAT}
    assert cat.contexts[CHAT].singular == {"Post details": "Thread-Details"}
    assert cat.contexts[CHAT].plural[("{n} comment", "{n} comments")][1] == "{n} Nachrichten"


def test_chat_words_prefer_the_chat_context_and_fall_back_to_the_plain_entry() -> None:
    de, chat_de = words("de"), words("de", CHAT)
    assert de.ntr("{n} comment", "{n} comments", 3) == "3 Kommentare"
    assert chat_de.ntr("{n} comment", "{n} comments", 1) == "1 Nachricht"
    assert chat_de.ntr("{n} comment", "{n} comments", 3) == "3 Nachrichten"
    assert chat_de.tr("Summary") == de.tr("Summary") == "Zusammenfassung"  # no chat entry
    assert words("fr", CHAT).ntr("{n} comment", "{n} comments", 0) == "0 message"  # fr: n > 1
    assert words("ja", CHAT).tr("Notable comments") == "注目のメッセージ"
    # English has no catalogue: its chat words are Origin.say's, its report reads as before.
    assert words("en", CHAT) == words("en")
    assert chat("slack", "#x").context == CHAT
    assert HACKER_NEWS.context == ""


@pytest.mark.parametrize("lang", OTHERS)
def test_every_chat_phrase_is_translated_with_the_same_placeholders(lang: str) -> None:
    own = catalogue(lang).contexts[CHAT]
    needed = chat_msgids()
    assert len(needed) > 50
    assert set(needed) <= set(msgids())
    for msgid in needed:
        if isinstance(msgid, tuple):
            forms = own.plural.get(msgid)
            assert forms is not None, f"{lang}: no chat plural forms for {msgid}"
            assert len(forms) == (1 if lang == "ja" else 2), (lang, msgid, forms)
            for form in forms:
                assert _fields(form) | {"n"} == _fields(msgid[0]) | _fields(msgid[1]) | {"n"}, (
                    lang,
                    msgid,
                    form,
                )
        else:
            assert msgid in own.singular, f"{lang}: {msgid!r} has no chat translation"
            assert _fields(own.singular[msgid]) == _fields(msgid), (lang, msgid)
    assert set(own.singular) | set(own.plural) <= set(needed)  # nothing stale
    # The chat words are this language's, never its words for a comment or a post.
    for text in [*own.singular.values(), *(f for fs in own.plural.values() for f in fs)]:
        assert not re.search(NOT_CHAT[lang], text), (lang, text)


def test_the_template_carries_the_chat_entries() -> None:
    template = pot()
    assert template.count('msgctxt "chat"\n') == len(chat_msgids())
    assert 'msgctxt "chat"\nmsgid "Notable comments"\nmsgstr ""' in template


# ---------------------------------------------------------------- every renderer


def _flat(thread: Thread) -> Thread:
    """`thread` as a Slack thread: every answer straight under the first message."""
    comments = tuple(replace(c, parent_id=None, depth=1) for c in thread.comments)
    return replace(thread, comments=comments, origin=chat("slack", "#product"))


def _threads() -> list[Thread]:
    example = thread_from_json_text(EXAMPLE.read_text("utf-8"))
    real = thread_from_json_text(REAL.read_text("utf-8"))
    return [
        replace(example, origin=chat("discord", "#general")),
        _flat(real),
    ]


async def _reports(lang: str) -> list[Report]:
    llm = LLMAnalyzer(
        ScriptedLLM(default=_neutral_answer, name="anthropic"),
        models=dict.fromkeys(Depth, "claude-haiku-5-5"),
    )
    scripted, offline = DigestEngine(llm, scorer=SCORER), DigestEngine(scorer=SCORER)
    return [
        await engine.digest(t, depth, lang=lang)
        for t in _threads()
        for engine in (scripted, offline)
        for depth in Depth
    ]


@pytest.mark.parametrize("lang", OTHERS)
async def test_a_chat_threads_report_says_messages_in_every_renderer(lang: str) -> None:
    reports = await _reports(lang)
    for report in reports:
        for name, text in _renders(report).items():
            left = _strip_untranslatable(text, report)
            found = re.findall(NOT_CHAT[lang], left)
            assert not found, (lang, report.analyzer, report.depth, name, found)
            # Nor in English: the offline analyser's narrative (English in every language)
            # speaks of messages and the first message in a chat thread too.
            english = re.findall(r"(?i)\bcomment(?:s|ed|ers?)?\b|\bthe post\b", left)
            assert not english, (lang, report.analyzer, report.depth, name, english)
            if name in ("markdown", "text"):
                assert MESSAGE[lang] in left, (lang, report.depth, name)
    deep = next(r for r in reports if r.depth is Depth.DEEP)
    md = markdown_of(document(deep))
    w = words(lang, CHAT)
    for heading in ("Post details", "Comment analysis", "Notable comments"):
        assert re.search(rf"^## \d+\. {re.escape(w.tr(heading))}$", md, re.M), heading
        assert w.tr(heading) != words(lang).tr(heading)


async def test_reddit_and_hacker_news_keep_their_words_in_every_language() -> None:
    example = thread_from_json_text(EXAMPLE.read_text("utf-8"))
    engine = DigestEngine(scorer=SCORER)
    for thread in (example, replace(example, origin=HACKER_NEWS)):
        report = await engine.digest(thread, Depth.DEEP, lang="de")
        text = text_of(document(report))
        assert "KOMMENTARANALYSE" in text
        assert "Nachricht" not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_charts_words_and_alt_text_are_of_messages(lang: str) -> None:
    from digest.render import chart_png

    thread = _threads()[0]
    report = DigestEngine(scorer=SCORER).digest_sync(thread, Depth.DEEP, lang=lang)
    data = report.chart
    assert data is not None
    assert data.context == CHAT
    not_chat = NOT_CHAT.get(lang, r"(?i)\bcomment|\bpost\b")
    drawn = [chart_png._t(data, key, place="#x", comments="9", hours=2, hour=1, end=2, count=3,
                          later=4, who="ana", n=3, share="50%", label="x", start_label="x",
                          end_label="y", start="+0.1", turn=1)
             for key in CHART_TEXT]  # fmt: skip
    said = [*drawn, alt_text(data), chart_text("no_chart", lang, CHAT)]
    # Japanese is drawn in English (the bundled font has no Japanese glyphs): in chat words too.
    english = r"(?i)\bcomment|\bthe post\b"
    for text in said:
        assert not re.search(not_chat if lang not in ("en", "ja") else english, text), text
    assert not re.search(not_chat, alt_text(data)), alt_text(data)
    word = "message" if lang in ("en", "ja") else MESSAGE[lang]
    assert word.lower() in chart_png._t(data, "activity_title").lower()
    assert MESSAGE.get(lang, "message") in alt_text(data)
    if lang == "de":  # a chat thread's mood is weighted by reactions, not points
        assert not [text for text in said if "Punkt" in text]
        assert "Reaktionen" in chart_png._t(data, "mood_title")
    plain = replace(data, context="")
    assert chart_png.render_chart(data) != chart_png.render_chart(plain)


# ---------------------------------------------------------------- a flat thread's coverage


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_flat_threads_coverage_names_no_parents(lang: str) -> None:
    w = words(lang, CHAT)
    flat = Coverage(40, 297, 297, 40, 297, "reactions", flat=True)
    branched = replace(flat, flat=False)
    assert flat.describe(w) != branched.describe(w)
    assert w.tr("the top by {what}", what=w.tr("reactions")) in flat.describe(w)
    parents = {"en": "parent", "de": "antworten", "fr": "répondent", "es": "responden",
               "ja": "返信先", "pt": "respondem"}  # fmt: skip
    assert parents[lang] not in flat.describe(w)
    assert parents[lang] in branched.describe(w if lang != "en" else words("en"))


async def test_a_flat_chat_thread_digested_in_part_says_no_parent_messages() -> None:
    thread = _threads()[1]
    engine = DigestEngine(scorer=SCORER)
    for depth in Depth:
        report = await engine.digest(thread, depth, budget=3_000)
        assert report.coverage.flat
        assert report.coverage.analyzed < report.coverage.fetched
        for text in (markdown_of(document(report)), text_of(document(report))):
            assert "analysed" in text
            assert "(the top by reactions" in text
            assert "parent" not in text
    branched = _threads()[0]  # a Discord thread whose messages answer each other
    assert not (await engine.digest(branched, Depth.BRIEF)).coverage.flat
