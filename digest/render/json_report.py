"""The report as JSON, with a stable schema (docs/report-schema.md). Bump SCHEMA on any change
that is not purely additive."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from digest.i18n import words
from digest.report import CommentNote, Quote, Report
from digest.source import Origin

SCHEMA = "redigest.report/1"


def _time(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def _quote(q: Quote | None) -> dict[str, Any] | None:
    if q is None:
        return None
    return {
        "comment_id": q.comment_id,
        "author": q.author,
        "score": q.score,
        "text": q.text,
        "cut": q.cut,
    }


def _note(n: CommentNote) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": n.quote.comment_id,
        "author": n.quote.author,
        "score": n.quote.score,
        "quote": n.quote.text,
        "quote_cut": n.quote.cut,
        "depth": n.depth,
        "replies": n.replies,
    }
    if n.stance is not None:
        out["stance"] = n.stance
    if n.reason is not None:
        out["reason"] = n.reason
    return out


def _source(o: Origin) -> dict[str, Any]:
    """`thread.source`, only for a thread that is not from Reddit (a Reddit report's JSON stays
    what it always was: no `source` means Reddit)."""
    if o.is_reddit:
        return {}
    return {
        "source": {
            "kind": o.kind,
            "place": o.place,
            "score_unit": o.score_unit[1] if o.score_unit else None,
            "post_score": o.has_post_score and o.score_unit is not None,
            "comment_scores": o.scored,
        }
    }


def _decisions(report: Report) -> dict[str, Any]:
    """`decisions`, only for a chat thread (other reports' JSON stays what it always was)."""
    d = report.decisions
    if d is None:
        return {}
    return {
        "decisions": {
            "decided": [_quote(q) for q in d.decided],
            "open_questions": [_quote(q) for q in d.open_questions],
            "decided_total": d.decided_total,
            "open_total": d.open_total,
        }
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    t, st, s, cov = report.thread, report.stats, report.sentiment, report.coverage
    # `language` only when not English (an English report's JSON stays what it always was).
    language = {} if report.lang == "en" else {"language": report.lang}
    return {
        "schema": SCHEMA,
        "depth": report.depth.value,
        "analyzer": report.analyzer,
        **language,
        "thread": {
            "id": t.id,
            "subreddit": t.subreddit,
            "title": t.title,
            "author": t.author,
            "url": t.url,
            "permalink": t.permalink,
            "score": t.score,
            "upvote_ratio": t.upvote_ratio,
            "num_comments": t.num_comments,
            "created": _time(t.created),
            "flair": t.flair,
            "nsfw": t.nsfw,
            "spoiler": t.spoiler,
            "locked": t.locked,
            "state": t.state.value,
            "crosspost_from": t.crosspost_from,
            **_source(t.origin),
        },
        "coverage": {
            "analyzed": cov.analyzed,
            "fetched": cov.fetched,
            "reported": cov.reported,
            "text": cov.describe(words(report.lang, report.thread.origin.context)),
        },
        "stats": {
            "comments_analyzed": cov.analyzed,
            "comments_fetched": st.comments_present,
            "num_comments": st.num_comments,
            "top_level_comments": st.top_level_comments,
            "replies": st.replies,
            "max_depth": st.max_depth,
            "unique_authors": st.unique_authors,
            "op_comments": st.op_comments,
            "deleted_comments": st.deleted_comments,
            "removed_comments": st.removed_comments,
            "edited_comments": st.edited_comments,
            "median_score": st.median_score,
            "unfetched_stubs": st.unfetched_stubs,
            "unfetched_ids": st.unfetched_ids,
            "first_comment_at": _time(st.first_comment_at),
            "last_comment_at": _time(st.last_comment_at),
            "busiest_hour": _time(st.busiest_hour),
            "busiest_hour_comments": st.busiest_hour_comments,
            "top_decile_score_share": st.top_decile_score_share,
            "links": [
                {
                    "url": link.url,
                    "domain": link.domain,
                    "category": link.category.value,
                    "found_in": [
                        {"comment_id": f.comment_id, "author": f.author, "score": f.score}
                        for f in link.found_in
                    ],
                }
                for link in st.links
            ],
        },
        "link_notes": [
            {"url": link.url, "note": report.link_notes[link.url]}
            for link in st.links
            if link.url in report.link_notes
        ],
        "tldr": report.tldr,
        "summary": [{"text": p.text, "quote": _quote(p.quote)} for p in report.summary],
        "themes": [
            {
                "name": th.name,
                "summary": th.summary,
                "comment_ids": list(th.comment_ids),
                "examples": [_quote(q) for q in th.examples],
            }
            for th in report.themes
        ],
        "sentiment": {
            "label": s.label,
            "computed_label": report.computed_mood or s.label,
            "compound": s.compound,
            "positive": s.positive,
            "neutral": s.neutral,
            "negative": s.negative,
            "early": s.early,
            "late": s.late,
            "shift": s.shift,
            "reading": report.sentiment_reading,
            "branches": [
                {
                    "comment_id": b.comment_id,
                    "author": b.author,
                    "score": b.score,
                    "comments": b.comments,
                    "compound": b.compound,
                    "label": b.label,
                }
                for b in s.branches
            ],
        },
        "top_comments": [_note(n) for n in report.top_comments],
        "notable_replies": [_note(n) for n in report.notable_replies],
        "notable_comments": [_note(n) for n in report.notable],
        "engagement": list(report.engagement),
        "takeaways": [{"text": k.text, "quote": _quote(k.quote)} for k in report.takeaways],
        **_decisions(report),
        "observations": list(report.observations),
        "focus_comment_id": report.focus_comment_id,
        "notes": list(report.notes),
        "usage": {
            "input_tokens": report.usage.input_tokens,
            "output_tokens": report.usage.output_tokens,
            "cache_write_tokens": report.usage.cache_write_tokens,
            "cache_read_tokens": report.usage.cache_read_tokens,
            "model": report.usage.model,
            "latency_ms": report.usage.latency_ms,
            "cost_usd": report.usage.cost_usd,
        },
    }


def render_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), ensure_ascii=False, indent=2) + "\n"
