"""A chat thread's decisions and open questions (digest.decisions): found in the messages' own
words, attributed, shown as the deep report's ninth section and a brief's Decided:/Open: lines;
Reddit reports are what they were."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import _console
from bot.settings import load_settings
from digest import codec
from digest.decisions import find_decisions, is_decision, is_open_question
from digest.llm import LLMAnalyzer, RetryPolicy
from digest.model import Comment, Post, Thread
from digest.pipeline import DigestEngine
from digest.render.document import document
from digest.render.json_report import report_to_dict
from digest.render.markdown import markdown_of, render_markdown, text_of
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.source import chat
from digest.text import normalize_ws
from tests.fakes.slack_server import thread_export
from tests.support.scripted_llm import ScriptedLLM, grounded_answer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_THREAD = SHARED / "reddit" / "praw" / "announcements_fo7p5b_2020.json"
REDDIT_FILES = sorted((SHARED / "reddit" / "localllama").glob("*.json"))[:2]
needs_real_data = pytest.mark.skipif(
    not REAL_THREAD.is_file() or not REDDIT_FILES,
    reason=f"the real threads are not under {SHARED} (../shared/data lives beside the repo)",
)
SLACK = chat("slack", "#eng")
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
ENGINE = DigestEngine(scorer=make_scorer())
MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}


def made(*messages: tuple[str, str] | tuple[str, str, str | None] | tuple[str, str, str | None, int],
         starter: str = "ann", first: str = "Which database for the new billing service?") -> Thread:  # fmt: skip
    """A Slack thread: `first` by `starter`, then (author, text[, parent id[, reactions]])
    messages m1…, flat unless a parent is given."""
    post = Post(id="slack:C1:1", subreddit="", title=first[:90], author=starter, url="s:1",
                permalink="s:1", body=first, score=2, upvote_ratio=None,
                num_comments=len(messages), created=T0, domain="slack")  # fmt: skip
    comments = []
    for i, m in enumerate(messages, 1):
        author, body = m[0], m[1]
        parent = m[2] if len(m) > 2 else None
        score = m[3] if len(m) > 3 else 0
        depth = 1 if parent is None else 2
        comments.append(Comment(f"m{i}", parent, author, body, score,
                                T0 + timedelta(minutes=i), depth,
                                is_submitter=author == starter))  # fmt: skip
    return Thread(post, tuple(comments), origin=SLACK)


# --------------------------------------------------------------------------- the detector


def test_a_decision_by_the_thread_starter_comes_first() -> None:
    thread = made(
        ("bob", "I'd lean Postgres, we know it well and the ops story is solid."),
        ("cat", "Mongo would be quicker to start with, honestly."),
        ("dan", "Fine by me, let's go with whatever ann picks.", None, 1),
        ("ann", "OK, we decided to go with Postgres for billing. Migration starts Monday."),
        ("bob", "Agreed, sounds good."),
    )
    found = find_decisions(thread)
    assert [q.text for q in found.decided] == [
        "OK, we decided to go with Postgres for billing.",
        "Fine by me, let's go with whatever ann picks.",
    ]
    assert (found.decided[0].comment_id, found.decided[0].author) == ("m4", "ann")
    assert found.decided_total == 2


@pytest.mark.parametrize(
    "sentence",
    [
        "We haven't decided on the database yet.",  # negated
        "Should we go with Postgres for billing?",  # asked
        'He said "we decided to ship on Friday" but nobody remembers that.',  # quoted words
        "Agreed.",  # too short to say what was decided
        "I like Postgres a lot for this kind of work.",  # an opinion
        "Then someone decided to put backspace right next to enter.",  # a story
        "I'll use old reddit or quit the site altogether.",  # one person's intention
        "If they drop the old API, we will switch to the new one.",  # a condition
        "I like where you're going with this idea.",
        "We're going to need every dime of that budget.",
    ],
)
def test_what_is_not_a_decision(sentence: str) -> None:
    thread = made(("bob", sentence))
    assert not find_decisions(thread).decided


@pytest.mark.parametrize(
    "sentence",
    [
        "We decided to ship on Friday after the freeze.",
        "The team agreed on Postgres for the billing service.",
        "OK, let's go with the blue-green deploy then.",
        "We'll go with option B and revisit in Q3.",
        "We're going to start enforcing a 1 year expiration on refresh tokens.",
        "Final decision: the export moves to the nightly batch.",
        "The plan is to migrate tenants in three waves.",
        "The budget for the new cluster was approved yesterday.",
    ],
)
def test_what_is_a_decision(sentence: str) -> None:
    assert is_decision(sentence)


def test_a_question_answered_by_a_reply_is_not_open_and_an_unanswered_one_is() -> None:
    thread = made(
        ("bob", "Does the billing service need multi-region failover?"),
        ("cat", "Yes, finance asked for it in the SLA.", "m1"),  # a threaded reply to m1
        ("dan", "Who owns the on-call rotation for billing after launch?", None, 3),
        ("eve", "Platform team owns it, as for every service.", "m3"),
    )
    found = find_decisions(thread)
    assert found.open_questions == ()  # both were replied to by someone else
    # Nobody but dan replied to m3: it is still open.
    tree = made(
        ("bob", "Does the billing service need multi-region failover?"),
        ("cat", "Yes, finance asked for it in the SLA.", "m1"),
        ("dan", "Who owns the on-call rotation for billing after launch?", None, 3),
        ("dan", "Anyone from the platform team?", "m3"),
    )
    found = find_decisions(tree)
    assert [(q.comment_id, q.author, q.score, q.text) for q in found.open_questions] == [
        ("m3", "dan", 3, "Who owns the on-call rotation for billing after launch?")
    ]
    assert found.open_total == 2  # dan's "Anyone from the platform team?" too (one each shown)


def test_in_a_flat_thread_a_later_message_that_answers_closes_a_question() -> None:
    thread = made(
        ("bob", "How long does the nightly invoice export take right now?"),
        ("cat", "The invoice export takes about forty minutes on the big tenants."),  # words
        ("dan", "Can someone review the schema migration before Friday?", None, 2),
        ("eve", "Unrelated, but the coffee machine is fixed."),
        ("fay", "Where are the staging credentials documented these days?", None, 1),
        ("gus", "fay: in the wiki, under Billing → Staging."),  # names the asker
        ("hal", "Is the old cron job still running on the legacy box?"),
        ("ivy", "> still running on the legacy box\nIt was switched off last week."),  # quotes it
        ("jon", "What is the rollback plan if the migration fails halfway?", None, 5),
        ("kim", "Nope, not that I know of."),  # starts as an answer does
    )
    found = find_decisions(thread)
    assert [q.comment_id for q in found.open_questions] == ["m3"]
    assert found.open_total == 1


def test_quoted_rhetorical_and_very_short_questions_are_not_open() -> None:
    thread = made(
        ("bob", "> Should we use Redis for the session cache?\nThat was last year's plan."),
        ("cat", 'Someone asked "should we use Redis for the session cache?" at standup.'),
        ("dan", "Why?"),
        ("eve", "Really?"),
        ("fay", "Who cares about the colour of the dashboard?"),
        ("gus", "Have you seen how slow the old export is?"),
        ("hal", "lol what could go wrong with a Friday deploy?"),
        ("ivy", "```\nwhy does this query time out?\n```\nThe slow log shows a full scan."),
    )
    found = find_decisions(thread)
    assert found.open_questions == ()
    assert found.open_total == 0
    assert is_open_question("Who owns the billing on-call?", "Who owns the billing on-call?")
    assert not is_open_question("Is it?", "Is it?")
    assert is_decision("The plan is to ship the export on Friday.")


def test_the_first_messages_question_is_answered_once_anyone_wrote() -> None:
    assert find_decisions(made(("bob", "Postgres, surely."))).open_questions == ()
    alone = find_decisions(made())
    assert [(q.comment_id, q.author) for q in alone.open_questions] == [(None, "ann")]


# --------------------------------------------------------------------------- the report


def decided_thread() -> Thread:
    return made(
        ("bob", "I'd lean Postgres, we know it well and the ops story is solid.", None, 3),
        (
            "ann",
            "We decided to go with Postgres for billing; the migration starts Monday.",
            None,
            4,
        ),
        ("bob", "Agreed, sounds good to me."),
        ("cat", "Who will own the on-call rotation for billing after launch?", None, 2),
    )


def section(markdown: str, title: str) -> str:
    after = markdown.split(title, 1)[1]
    return after.split("\n## ", 1)[0].split("\n**10.", 1)[0]


def test_a_chat_threads_deep_report_lists_decisions_and_open_questions() -> None:
    report = ENGINE.digest_sync(decided_thread(), Depth.DEEP)
    md = render_markdown(report)
    text = text_of(document(report))
    assert "9. Decisions and open questions" in md
    assert "Actionable takeaways" not in [s.title for s in document(report).sections]
    shown = section(text, "9. DECISIONS AND OPEN QUESTIONS")
    assert "1 decision was stated; 1 question is still open." in shown
    assert (
        "Decided: ann (4 reactions): “We decided to go with Postgres for billing; the migration "
        "starts Monday.”" in shown
    )
    assert "Open: cat (2 reactions): “Who will own the on-call rotation for billing after " \
           "launch?”" in shown  # fmt: skip
    # Every quote of it is verbatim in its author's message.
    d = report.decisions
    assert d is not None
    thread = decided_thread()
    for q in (*d.decided, *d.open_questions):
        assert q.comment_id is not None
        c = thread.by_id[q.comment_id]
        assert c.author == q.author
        assert normalize_ws(q.text) in normalize_ws(c.body)
    assert set(map(id, (*d.decided, *d.open_questions))) <= set(map(id, report.quotes()))
    # JSON: the lists, and a cached report keeps them.
    data = report_to_dict(report)["decisions"]
    assert data["decided_total"] == data["open_total"] == 1
    assert data["decided"][0]["comment_id"] == "m2"
    assert data["open_questions"][0]["author"] == "cat"
    assert codec.loads(Report, codec.dumps(report)).decisions == report.decisions


def test_a_brief_says_what_was_decided_and_what_is_open() -> None:
    report = ENGINE.digest_sync(decided_thread(), Depth.BRIEF)
    md = markdown_of(document(report))
    assert "Decisions and open questions" in md
    assert re.search(r"Decided: \*\*ann\*\* \(4 reactions\): .*We decided to go with Postgres", md)
    assert re.search(r"Open: \*\*cat\*\* \(2 reactions\): .*on-call rotation", md)


def test_none_found_is_said_in_one_line() -> None:
    report = ENGINE.digest_sync(made(("bob", "Postgres, surely.")), Depth.DEEP)
    shown = section(text_of(document(report)), "9. DECISIONS AND OPEN QUESTIONS")
    assert "No decision was stated, and no question was left open." in shown
    brief = markdown_of(document(ENGINE.digest_sync(made(("bob", "Postgres.")), Depth.BRIEF)))
    assert "Decided:" not in brief
    assert "Open:" not in brief


@pytest.mark.parametrize(
    ("lang", "title", "decided"),
    [
        ("de", "Entscheidungen und offene Fragen", "Entschieden:"),
        ("ja", "決定事項と未解決の質問", "決定:"),
    ],
)
def test_the_section_speaks_the_reports_language(lang: str, title: str, decided: str) -> None:
    report = ENGINE.digest_sync(decided_thread(), Depth.DEEP, lang=lang)
    md = render_markdown(report)
    assert f"9. {title}" in md
    assert decided in md
    assert "Decided:" not in md
    assert "question is still open" not in md


async def test_an_llm_report_carries_the_same_computed_lists() -> None:
    llm = ScriptedLLM(default=grounded_answer)
    engine = DigestEngine(LLMAnalyzer(llm, models=MODELS, prices={}, policy=RetryPolicy()),
                          scorer=make_scorer())  # fmt: skip
    report = await engine.digest(decided_thread(), Depth.DEEP)
    assert report.analyzer == "scripted"
    offline = ENGINE.digest_sync(decided_thread(), Depth.DEEP)
    assert report.decisions == offline.decisions
    assert "9. Decisions and open questions" in render_markdown(report)
    assert "Decided: **ann**" in render_markdown(report)
    # Nothing about decisions is asked of the model.
    assert all("decision" not in r.instructions.lower() for r in llm.requests)


# --------------------------------------------------------------------------- real threads


@needs_real_data
async def test_a_300_message_thread_at_the_console(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    export = thread_export(REAL_THREAD, count=300)
    path = tmp_path / "thread.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))

    async def lines() -> AsyncIterator[str]:
        for line in (f":thread {path}", "/digest m1 deep"):
            yield line + "\n"

    out = io.StringIO()
    await _console(load_settings(env_file=None), lines(), out)
    text = out.getvalue()
    shown = text.split("9. DECISIONS AND OPEN QUESTIONS", 1)[1].split("10. OTHER", 1)[0]
    assert re.search(r"questions? (?:is|are) still open", shown), shown
    items = re.findall(r"• (Decided|Open): (\w+) \((\d+) reactions?\): “(.+)”", shown)
    assert items, shown
    names: dict[str, str] = export["users"]
    said: dict[str, list[str]] = {}
    for m in export["messages"]:
        who = m.get("username") or names.get(m.get("user"), "")
        body = m["text"].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        said.setdefault(who, []).append(normalize_ws(body))
    for kind, author, _, quoted in items:
        assert any(normalize_ws(quoted) in body for body in said[author]), (kind, author, quoted)
        if kind == "Open":
            assert quoted.endswith("?")


@needs_real_data
@pytest.mark.parametrize("path", REDDIT_FILES, ids=lambda p: p.stem)
def test_reddit_reports_have_no_such_section(path: Path) -> None:
    from adapters.reddit_source.thread_json import thread_from_json_text

    thread = thread_from_json_text(path.read_text(encoding="utf-8"), source=str(path))
    for depth in Depth:
        report = ENGINE.digest_sync(thread, depth)
        assert report.decisions is None
        data: dict[str, Any] = report_to_dict(report)
        assert "decisions" not in data
        md = render_markdown(report)
        assert "Decisions and open questions" not in md
        assert "Decided:" not in md
        if depth is Depth.DEEP:
            assert "9. Actionable takeaways" in md
