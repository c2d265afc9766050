"""An analyser's narrative checked against the thread before it reaches a report.

Whoever wrote it (the offline analyser, or an LLM whose answer digest.llm_check has already
checked once), the same rules hold here: a quote is verbatim and rightly attributed, a cited
comment exists, a URL is one the thread holds, a mood is one of the labels. What breaks a rule
is dropped and listed.
"""

from __future__ import annotations

from dataclasses import replace

from digest.grounding import check_quote, url_in_thread
from digest.model import Thread
from digest.report import MOODS, Narrative, Quote, Theme
from digest.text import find_urls, plural


def _scrub_urls(thread: Thread, text: str) -> tuple[str, int]:
    """Remove URLs that the thread does not contain (an analyser must not invent links)."""
    removed = 0
    for url in set(find_urls(text)):
        if not url_in_thread(thread, url):
            text = text.replace(url, "[link removed]")
            removed += 1
    return text, removed


def ground(thread: Thread, narrative: Narrative) -> tuple[Narrative, list[str]]:
    """Drop every quote that is not verbatim or misattributed, every citation of a comment that
    does not exist, every invented URL and a mood that is not a label. Returns the cleaned
    narrative and what was dropped."""
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
        ),
        problems,
    )
