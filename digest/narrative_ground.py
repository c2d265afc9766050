"""An analyser's narrative checked against the thread before it reaches a report.

Whoever wrote it (the offline analyser, or an LLM whose answer digest.llm_check has already
checked once), the same rules hold here: a quote is verbatim and rightly attributed, a cited
comment exists, a URL is one the thread holds, a mood is one of the labels, and a link note is
one plain line about a link of the thread. What breaks a rule is dropped and listed.
"""

from __future__ import annotations

import re
from dataclasses import replace

from digest.grounding import check_quote, url_in_thread
from digest.model import Thread
from digest.report import MAX_LINK_NOTE_CHARS, MOODS, LinkNote, Narrative, Quote, Theme
from digest.stats import link_key
from digest.text import find_urls, normalize_ws, plural

# A ping on Discord or Slack, or the start of one: @everyone/@here (also glued to more letters,
# as the renderers defuse them), <@user>, <!channel>, <#channel>.
MENTION = re.compile(r"@(everyone|here)|<[@!#]", re.IGNORECASE)
_BARE_URL = re.compile(r"://|\bwww\.", re.IGNORECASE)  # what find_urls does not take for a URL


def _scrub_urls(thread: Thread, text: str) -> tuple[str, int]:
    """Remove URLs that the thread does not contain (an analyser must not invent links)."""
    removed = 0
    for url in set(find_urls(text)):
        if not url_in_thread(thread, url):
            text = text.replace(url, "[link removed]")
            removed += 1
    return text, removed


def link_note_problem(note: str) -> str | None:
    """Why a link note (already on one line) cannot be shown, or None: it must say something,
    in one short line, with no link of its own and nothing that pings."""
    if not note:
        return "is empty"
    if len(note) > MAX_LINK_NOTE_CHARS:
        return f"is {len(note)} characters, over {MAX_LINK_NOTE_CHARS}"
    if next(find_urls(note), None) is not None or _BARE_URL.search(note):
        return "holds a URL of its own"
    if MENTION.search(note):
        return "holds a mention"
    return None


def _links(
    thread: Thread, notes: tuple[LinkNote, ...], problems: list[str]
) -> tuple[LinkNote, ...]:
    out: list[LinkNote] = []
    seen: set[str] = set()
    for i, item in enumerate(notes):
        where = f"links[{i}]"
        if not url_in_thread(thread, item.url):
            problems.append(f"{where}: a note on a link the thread does not hold")
            continue
        note = normalize_ws(item.note)
        problem = link_note_problem(note)
        if problem is not None:
            problems.append(f"{where}: the note {problem}")
            continue
        key = link_key(item.url)
        if key not in seen:
            seen.add(key)
            out.append(LinkNote(item.url, note))
    return tuple(out)


def ground(thread: Thread, narrative: Narrative) -> tuple[Narrative, list[str]]:
    """Drop every quote that is not verbatim or misattributed, every citation of a comment that
    does not exist, every invented URL, a mood that is not a label and every link note that
    breaks its rules. Returns the cleaned narrative and what was dropped."""
    problems: list[str] = []
    by_id = thread.by_id

    def ok(quote_owner: str, quote: Quote | None) -> bool:
        if quote is None:
            return True
        problem = check_quote(thread, quote)
        if problem:
            problems.append(f"{quote_owner}: quote {problem}")
        return problem is None

    summary = tuple(p for p in narrative.summary if ok("summary", p.quote))
    notable = tuple(n for n in narrative.notable if ok("notable comments", n.quote))
    takeaways = tuple(t for t in narrative.takeaways if ok("takeaways", t.quote))
    themes: list[Theme] = []
    for theme in narrative.themes:
        known = tuple(i for i in theme.comment_ids if i in by_id)
        if len(known) < len(theme.comment_ids):
            problems.append(f"theme {theme.name!r}: cited comments that do not exist")
        if known or not theme.comment_ids:
            themes.append(replace(theme, comment_ids=known))
    stances = {k: v for k, v in narrative.stances.items() if k in by_id}

    def scrub(text: str, where: str) -> str:
        clean, removed = _scrub_urls(thread, text)
        if removed:
            problems.append(f"{where}: removed {plural(removed, 'link')} not found in the thread")
        return clean

    summary = tuple(replace(p, text=scrub(p.text, "summary")) for p in summary)
    themes = [replace(t, summary=scrub(t.summary, "themes")) for t in themes]
    takeaways = tuple(replace(t, text=scrub(t.text, "takeaways")) for t in takeaways)
    notable = tuple(
        replace(n, reason=scrub(n.reason, "notable comments") if n.reason else None)
        for n in notable
    )
    observations = tuple(scrub(o, "observations") for o in narrative.observations)
    reading = scrub(narrative.sentiment_reading, "sentiment")
    mood = narrative.mood
    if mood is not None and mood not in MOODS:
        problems.append(f"mood: {mood[:40]!r} is not one of {', '.join(MOODS)}")
        mood = None
    return (
        Narrative(
            summary=summary,
            themes=tuple(themes),
            sentiment_reading=reading,
            stances=stances,
            notable=notable,
            takeaways=takeaways,
            observations=observations,
            tldr=scrub(narrative.tldr, "tldr"),
            mood=mood if reading.strip() else None,  # no label without the reading it sums up
            links=_links(thread, narrative.links, problems),
        ),
        problems,
    )
