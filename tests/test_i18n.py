"""Issue 19, scope 2: digests in the channel's language.

The catalogues (digest/locales/*.po) translate every msgid the code uses, keep its placeholders
and give each language its plural forms; every renderer (brief and deep; Markdown, text, JSON,
Discord embeds, Slack blocks, a bundle) writes no English fixed phrase in another language; an
English report reads exactly as before (test_source_neutral_reddit.py and the goldens pin that).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adapters.discord_chat.layout import render_report
from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from adapters.slack_chat.layout import report_messages
from digest.i18n import LANGUAGES, Words, catalogue, parse_po, plural_index, valid, words
from digest.llm import LLMAnalyzer, StructuredRequest
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.render.document import bundle_document, document
from digest.render.json_report import render_json
from digest.render.markdown import markdown_of, text_of
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.source import HACKER_NEWS, chat
from tests.support.i18n_extract import msgids
from tests.support.scripted_llm import ScriptedLLM, grounded_answer
from tests.support.synthetic import post_data, thread_json

SCORER = make_scorer()
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "selfhosted_thread.json"
OTHERS = [lang for lang in LANGUAGES if lang != "en"]
LOCALES = Path(__file__).resolve().parents[1] / "digest" / "locales"
NARRATIVE = "§"  # what the scripted model writes in the neutral answer (no language at all)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# ---------------------------------------------------------------- the catalogues themselves


@pytest.mark.parametrize("lang", OTHERS)
def test_every_msgid_is_translated_with_the_same_placeholders(lang: str) -> None:
    cat = catalogue(lang)
    used = msgids()
    assert len(used) > 100
    for msgid in used:
        if isinstance(msgid, tuple):
            forms = cat.plural.get(msgid)
            assert forms is not None, f"{lang}: no plural forms for {msgid}"
            assert len(forms) == (1 if lang == "ja" else 2), (lang, msgid, forms)
            for form in forms:
                assert _fields(form) == _fields(msgid[0]) | _fields(msgid[1]) or (
                    _fields(form) | {"n"} == _fields(msgid[0]) | {"n"}
                ), (lang, msgid, form)
        else:
            assert msgid in cat.singular, f"{lang}: {msgid!r} is not translated"
            assert _fields(cat.singular[msgid]) == _fields(msgid), (lang, msgid)
    # Nothing stale: every entry is a msgid the code uses.
    assert set(cat.singular) | set(cat.plural) <= set(used)


@pytest.mark.parametrize("lang", OTHERS)
def test_the_po_file_declares_its_language_and_plural_forms(lang: str) -> None:
    text = (LOCALES / f"{lang}.po").read_text("utf-8")
    assert f'"Language: {lang}\\n"' in text
    nplurals = 1 if lang == "ja" else 2
    assert f"Plural-Forms: nplurals={nplurals};" in text


def test_the_po_parser_reads_escapes_continuations_and_skips_fuzzy_entries() -> None:
    cat = parse_po(
        'msgid ""\nmsgstr ""\n"Language: de\\n"\n\n'
        '#: x.py\nmsgid "Say \\"hi\\""\nmsgstr ""\n"Sag "\n"\\"hallo\\""\n\n'
        '#, fuzzy\nmsgid "Maybe"\nmsgstr "Vielleicht"\n\n'
        'msgid "Empty"\nmsgstr ""\n\n'
        'msgid "{n} cat"\nmsgid_plural "{n} cats"\nmsgstr[0] "{n} Katze"\nmsgstr[1] "{n} Katzen"\n'
    )
    assert cat.singular == {'Say "hi"': 'Sag "hallo"'}
    assert cat.plural == {("{n} cat", "{n} cats"): ("{n} Katze", "{n} Katzen")}


@pytest.mark.parametrize(
    ("lang", "one", "two", "zero"),
    [
        ("en", "1 comment", "2 comments", "0 comments"),
        ("de", "1 Kommentar", "2 Kommentare", "0 Kommentare"),
        ("fr", "1 commentaire", "2 commentaires", "0 commentaire"),
        ("es", "1 comentario", "2 comentarios", "0 comentarios"),
        ("pt", "1 comentário", "2 comentários", "0 comentários"),
        ("ja", "1件のコメント", "2件のコメント", "0件のコメント"),
    ],
)
def test_counts_take_each_languages_plural_form(lang: str, one: str, two: str, zero: str) -> None:
    w = words(lang)
    assert [w.ntr("{n} comment", "{n} comments", n) for n in (1, 2, 0)] == [one, two, zero]
    assert w.ntr("{n} comment", "{n} comments", 12_345).startswith("12,345")  # numbers as today


def test_plural_rules_and_english_fallback() -> None:
    assert [plural_index("fr", n) for n in (0, 1, 2)] == [0, 0, 1]
    assert [plural_index("de", n) for n in (0, 1, 2)] == [1, 0, 1]
    assert {plural_index("ja", n) for n in (0, 1, 2, 100)} == {0}
    de = Words("de")
    assert de.tr("A phrase no catalogue has, {x}.", x=1) == "A phrase no catalogue has, 1."
    assert de.ntr("{n} unknown", "{n} unknowns", 2) == "2 unknowns"
    assert de.mood("positive") == "positiv"
    assert de.mood("sehr gut") == "sehr gut"  # an analyser's own word stays
    assert words("xx") == words(None) == Words("en")
    assert [valid(c) for c in ("de", "DE", "de-AT", "pt_BR", "ja", "klingon", "")] == [
        "de",
        "de",
        "de",
        "pt",
        "ja",
        None,
        None,
    ]


# ---------------------------------------------------------------- every renderer, every language


def _english_phrases(lang: str) -> list[re.Pattern[str]]:
    """The English text of every msgid that `lang` translates differently, as patterns: the
    parts between placeholders with at least two words, and whole one-word labels of five
    letters or more (case-insensitive: the text renderer writes headings in capitals)."""
    cat = catalogue(lang)
    pieces: set[str] = set()
    for msgid in msgids():
        texts = list(msgid) if isinstance(msgid, tuple) else [msgid]
        translated = " ".join(
            cat.plural[msgid] if isinstance(msgid, tuple) else [cat.singular[msgid]]
        ).lower()
        for text in texts:
            for part in re.split(r"\{[^}]*\}", text):
                part = part.strip(" .,;:()·—…")
                if part.lower() in translated:  # the translation keeps it ("Upvotes")
                    continue
                words_in = len(re.findall(r"[A-Za-z]+", part))
                label = re.fullmatch(r"[A-Za-z]{5,}", part) and part.lower() not in _SAME_WORDS
                if words_in >= 2 or label:
                    pieces.add(part)
    return [re.compile(rf"(?i)(?<![\w/-]){re.escape(p)}(?![\w-])") for p in sorted(pieces)]


# Words a translation may keep (a name, a loanword the reader's Reddit uses too).
_SAME_WORDS = {"reddit", "subreddit", "thread", "flair", "score", "spoiler", "informativo"}


def _strip_untranslatable(text: str, report: Report) -> str:
    """What the renderer was not asked to translate taken out: quotes, the thread's own words
    (title, flair, names), URLs, the analyser's narrative marker and the model's name."""
    text = re.sub(r"“[^”]*”", "", text)
    text = re.sub(r"https?://\S+", "", text)
    for own in (report.thread.title, report.thread.flair or "", report.analyzer):
        if own:  # as written, or in capitals (a plain-text heading)
            text = re.sub(re.escape(own), "", text, flags=re.I)
    return text


def _neutral_answer(request: StructuredRequest) -> dict[str, Any]:
    """The scripted model's grounded answer with its narrative blanked (`NARRATIVE`): what is
    left in a rendered report is the renderers' own words, quotes and names."""
    answer = grounded_answer(request)

    def blank(obj: Any, key: str = "") -> Any:
        if isinstance(obj, dict):
            return {k: (blank(v, k) if k != "quote" or not isinstance(v, str) else v)
                    for k, v in obj.items()}  # fmt: skip
        if isinstance(obj, list):
            return [blank(v, key) for v in obj]
        if isinstance(obj, str) and key in (
            "text", "name", "summary", "sentiment_reading", "reason", "note", "observations",
            "tldr",
        ):  # fmt: skip
            return NARRATIVE
        return obj

    out = blank(answer)
    assert isinstance(out, dict)
    for item in out.get("summary", []) + out.get("takeaways", []):  # quotes keep their words
        if isinstance(item.get("quote"), dict):
            item["quote"]["text"] = grounded_quote(answer, item["quote"]["comment_id"])
    return out


def grounded_quote(answer: dict[str, Any], cid: str) -> str:
    for item in answer["summary"] + answer["takeaways"]:
        q = item.get("quote")
        if isinstance(q, dict) and q["comment_id"] == cid:
            return str(q["text"])
    raise AssertionError(cid)


def _threads() -> Iterator[tuple[str, Thread]]:
    example = thread_from_json_text(EXAMPLE.read_text("utf-8"))
    yield "example", example
    raw = thread_json(60, seed=5, post_id="lng001")
    raw[0]["data"]["children"][0]["data"] = post_data("lng001", 60) | {
        "locked": True,
        "over_18": True,
        "spoiler": True,
        "upvote_ratio": 0.55,
        "num_comments": 400,
    }
    flagged = thread_from_json(raw)
    yield "flagged", flagged
    yield "hn", replace(flagged, origin=HACKER_NEWS)
    yield "slack", replace(example, origin=chat("slack", "#general"))


async def _reports(lang: str) -> list[Report]:
    llm = LLMAnalyzer(
        ScriptedLLM(default=_neutral_answer, name="anthropic"),
        models=dict.fromkeys(Depth, "claude-haiku-5-5"),
    )
    engine = DigestEngine(llm, scorer=SCORER)
    return [await engine.digest(t, depth, lang=lang) for _, t in _threads() for depth in Depth]


def _renders(report: Report) -> dict[str, str]:
    doc = document(report)
    return {
        "markdown": markdown_of(doc),
        "text": text_of(doc),
        "json": _json_words(json.loads(render_json(report))),
        "discord": "\n".join(_values([m.payload() for m in render_report(report)])),
        "slack": "\n".join(_values([(m.text, m.blocks) for m in report_messages(report)])),
    }


def _values(obj: Any, key: str = "") -> Iterator[str]:
    """The text a chat shows of a payload: its string values, not its keys or kinds."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _values(v, k)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _values(v, key)
    elif isinstance(obj, str) and key not in ("type", "style", "action_id", "block_id", "url"):
        yield obj


def _json_words(out: dict[str, Any]) -> str:
    """The JSON's sentences (keys and enum values are its schema, in English by design)."""
    return "\n".join(
        [out["coverage"]["text"], *out["engagement"], *out["observations"], *out["notes"]]
        + [n.get("reason", "") for n in out["notable_replies"]]
    )


@pytest.mark.parametrize("lang", OTHERS)
async def test_every_renderer_writes_no_english_fixed_phrase(lang: str) -> None:
    phrases = _english_phrases(lang)
    assert len(phrases) > 60
    reports = await _reports(lang)
    for report in reports:
        assert report.lang == lang
        for name, text in _renders(report).items():
            left = _strip_untranslatable(text, report)
            found = [p.pattern for p in phrases if p.search(left)]
            assert not found, (lang, report.thread.origin.kind, report.depth, name, found)
    left = text_of(bundle_document("Top", reports[:3], "a note"))
    for r in reports[:3]:
        left = _strip_untranslatable(left, r)
    assert not [p.pattern for p in phrases if p.search(left)]


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_every_renderer_writes_every_section_in_each_language(lang: str) -> None:
    """Complete output: the ten deep sections and the brief's, headed in `lang`; every line
    that is not the narrative or a quote is in the catalogue's words."""
    w = words(lang)
    reports = await _reports(lang)
    deep = next(r for r in reports if r.depth is Depth.DEEP)
    md = markdown_of(document(deep))
    headings = re.findall(r"^## (.+)$", md, re.M)
    assert headings == [
        f"{i}. {w.tr(t)}"
        for i, t in enumerate(
            [
                "Post details", "Summary", "Key themes", "Sentiment", "Comment analysis",
                "Links and references", "Notable comments", "Engagement insights",
                "Actionable takeaways", "Other observations",
            ],
            1,
        )
    ]  # fmt: skip
    brief = markdown_of(document(reports[0]))
    assert f"## {w.tr('TL;DR')}" in brief
    assert w.tr("Coverage: {text}.", text=deep.coverage.describe(w)) in text_of(document(deep))


async def test_an_english_report_has_no_language_field_and_the_others_do() -> None:
    en, de = (await _reports("en"))[0], (await _reports("de"))[0]
    assert "language" not in json.loads(render_json(en))
    assert json.loads(render_json(de))["language"] == "de"


async def test_the_offline_analyser_says_its_narrative_is_english_only() -> None:
    thread = thread_from_json_text(EXAMPLE.read_text("utf-8"))
    engine = DigestEngine(scorer=SCORER)
    note = "Die Zusammenfassung ist nur auf Englisch verfügbar (ohne Sprachmodell)."
    for depth in Depth:
        de = await engine.digest(thread, depth, lang="de")
        assert note in markdown_of(document(de))
        en = await engine.digest(thread, depth)
        assert "only available in English" not in markdown_of(document(en))
    ja = await engine.digest(thread, Depth.DEEP, lang="ja")
    text = text_of(document(ja))
    assert "要約は英語のみです（言語モデルなし）。" in text
    assert "1. 投稿の詳細" in text


def test_the_prompt_asks_for_the_language_after_the_cached_thread_blocks() -> None:
    from digest.llm_prompt import LANGUAGE_NAMES, build_prompt

    assert set(LANGUAGE_NAMES) == set(OTHERS)
    thread = thread_from_json_text(EXAMPLE.read_text("utf-8"))
    inp = DigestEngine(scorer=SCORER).prepare(thread, Depth.DEEP)
    shared = inp.shared_selection or inp.selection

    def prompt(lang: str) -> StructuredRequest:
        request, _ = build_prompt(thread, Depth.DEEP, shared, inp.selection, "x", "m", lang=lang)
        return request

    en, ja = prompt("en"), prompt("ja")
    assert ja.blocks == en.blocks
    assert ja.system == en.system
    assert "Japanese" not in en.instructions
    assert "Quotes are the exception" not in en.instructions
    assert "in Japanese, for readers of Japanese" in ja.instructions
    assert "copy them exactly as written in the thread" in ja.instructions


def test_the_chart_speaks_the_reports_language() -> None:
    """Its alt text and the note of a thread too small to chart in any language; its drawn
    words too, except Japanese (the bundled DejaVu has no Japanese glyphs: drawn in English)."""
    from digest.chart_data import alt_text
    from digest.chart_text import chart_text
    from digest.render.chart_png import render_chart

    raw = thread_json(120, seed=3, post_id="chart1")
    thread = thread_from_json(raw)
    report = DigestEngine(scorer=SCORER).digest_sync(thread, Depth.DEEP, lang="de")
    assert report.chart is not None
    assert report.chart.lang == "de"
    assert alt_text(report.chart).startswith("Diagramm von 120 Kommentaren in r/")
    assert alt_text(replace(report.chart, lang="ja")).startswith("r/")
    assert "グラフ" in alt_text(replace(report.chart, lang="ja"))
    assert chart_text("no_chart", "de") == "Kein Diagramm: zu wenige Kommentare."
    assert chart_text("no_chart") == "No chart: too few comments to chart."
    en, ja, de = (render_chart(replace(report.chart, lang=lang)) for lang in ("en", "ja", "de"))
    assert ja == en
    assert de != en
