"""Reddit's Atom feeds (`/r/SUB/new/.rss`): the public source's way to new posts when its JSON
listings are refused (see public_feed.py), read into the t3-shaped data post_from_data reads.
"""

from __future__ import annotations

import calendar
import io
import re
from typing import Any
from urllib.parse import urlsplit

import feedparser

from bot.ports import RedditUnavailable

POST_ID = re.compile(r"[a-z0-9]{1,12}")


def posts_from_atom(data: bytes, subreddit: str) -> list[dict[str, Any]]:
    """Reddit's Atom feed → t3-shaped data (what post_from_data reads), newest first as served.

    A feed carries no score or comment count: they are 0 here until `/by_id/` says otherwise.
    Raises RedditUnavailable when the answer is not a feed at all.
    """
    # Bytes in a stream: a str would be taken for a file name or a URL by feedparser.
    parsed = feedparser.parse(
        io.BytesIO(data), response_headers={"content-type": "application/atom+xml"}
    )
    if not parsed.get("version") and not parsed.entries:
        raise RedditUnavailable(
            f"Reddit's feed of r/{subreddit} could not be read (it is not a feed); try again later."
        )
    out: list[dict[str, Any]] = []
    for entry in parsed.entries:
        fullname = str(entry.get("id") or "")
        post_id = fullname.removeprefix("t3_")
        if not fullname.startswith("t3_") or not POST_ID.fullmatch(post_id):
            continue
        sub = next(
            (str(t.get("term")) for t in entry.get("tags") or [] if t.get("term")), subreddit
        )
        author = str(entry.get("author") or "").strip().removeprefix("/u/").strip()
        link = str(entry.get("link") or "")
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        out.append(
            {
                "id": post_id,
                "name": fullname,
                "title": str(entry.get("title") or ""),
                "author": author or "[deleted]",
                "subreddit": sub,
                "permalink": urlsplit(link).path or f"/r/{sub}/comments/{post_id}/",
                "url": link,
                "created_utc": float(calendar.timegm(when)) if when else None,
                "score": 0,
                "num_comments": 0,
            }
        )
    return out
