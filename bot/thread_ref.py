"""Every way a person pastes a Reddit thread, turned into a ThreadRef (no network here).

Accepted: www/old/new/np/m/sh hosts with or without scheme, slug, query string or fragment;
/r/SUB/comments/ID/..., /comments/ID, /user/NAME/comments/ID; comment permalinks
(/comments/ID/slug/COMMENT/ and new Reddit's /comments/ID/comment/COMMENT/); redd.it/ID;
bare ids and t3_ fullnames; share links /r/SUB/s/CODE (resolved by the source, with one request).
Hacker News: news.ycombinator.com/item?id=N and bare `hn:N`, as ThreadRef("hn:N") (a story or a
comment: the HN source finds the story).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.ports import InvalidThreadUrl, ThreadRef

EXAMPLE = "https://www.reddit.com/r/LocalLLaMA/comments/1lpl656/glm41vthinking/"
HN_EXAMPLE = "https://news.ycombinator.com/item?id=8863 (or hn:8863)"
_HN_BARE = re.compile(r"^hn:(?P<id>[0-9]{1,12})$", re.IGNORECASE)
_HN_ITEM = re.compile(r"(?:^|&)id=(?P<id>[0-9]{1,12})(?:&|$)")
_ID = r"[a-z0-9]{1,12}"
_HOSTS = re.compile(r"^(?:(?:www|old|new|np|m|sh|i|amp)\.)?reddit\.com$")
_COMMENTS = re.compile(
    rf"^/(?:(?:r|u|user)/(?P<sub>[A-Za-z0-9_-]+)/)?comments/(?P<id>{_ID})"
    rf"(?:/(?:(?P<slug>[^/]*)(?:/(?P<cid>{_ID}))?)?)?/?$",
    re.IGNORECASE,
)
_SHARE = re.compile(r"^/r/(?P<sub>[A-Za-z0-9_]+)/s/(?P<code>[A-Za-z0-9]+)/?$")
_BARE = re.compile(rf"^(?:t3_)?(?P<id>{_ID})$", re.IGNORECASE)
# Reddit URLs inside any text (chat messages, Slack's <url|label> form, markdown links).
_URL_IN_TEXT = re.compile(
    r"(?:https?://)?(?:[a-z]+\.)?(?:reddit\.com|redd\.it|ycombinator\.com)/[^\s<>|()\[\]\"']+",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A share link (`/r/SUB/s/CODE`): only Reddit knows which thread it points to."""

    url: str
    subreddit: str
    code: str


def _invalid(text: str) -> InvalidThreadUrl:
    shown = text if len(text) <= 80 else text[:77] + "…"
    return InvalidThreadUrl(
        f"“{shown}” is not a Reddit thread link. Paste the thread's address, for example {EXAMPLE}"
    )


def parse_thread_text(text: str) -> ThreadRef | ShareLink:
    """Parse what a person pasted; raise InvalidThreadUrl with an example when it is not a thread."""
    raw = text.strip().strip("<>").split("|", 1)[0].strip()
    if not raw:
        raise InvalidThreadUrl(f"Give a Reddit thread link, for example {EXAMPLE}")
    bare = _BARE.match(raw)
    if bare and (raw.lower().startswith("t3_") or any(ch.isdigit() for ch in raw)):
        # A bare word must look like an id (base36 with a digit), not like an ordinary word.
        return ThreadRef(bare.group("id").lower())
    hn_bare = _HN_BARE.match(raw)
    if hn_bare:
        return ThreadRef(f"hn:{int(hn_bare.group('id'))}")
    url = raw if "://" in raw else "https://" + raw
    try:
        parts = urlsplit(url)
    except ValueError:
        raise _invalid(text) from None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https"):
        raise _invalid(text)
    if host in ("news.ycombinator.com", "www.news.ycombinator.com"):
        item = _HN_ITEM.search(parts.query) if parts.path.rstrip("/") == "/item" else None
        if item is None:
            raise InvalidThreadUrl(
                f"“{text.strip()[:80]}” is not a Hacker News discussion: use {HN_EXAMPLE}"
            )
        return ThreadRef(f"hn:{int(item.group('id'))}")
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if host == "redd.it":
        short = re.fullmatch(rf"/({_ID})/?", path, re.IGNORECASE)
        if short:
            return ThreadRef(short.group(1).lower())
        raise _invalid(text)
    if not _HOSTS.match(host):
        raise _invalid(text)
    share = _SHARE.match(path)
    if share:
        return ShareLink(f"https://www.reddit.com{path}", share.group("sub"), share.group("code"))
    m = _COMMENTS.match(path)
    if not m:
        raise _invalid(text)
    slug, cid = m.group("slug"), m.group("cid")
    comment_id = None
    if cid:
        comment_id = cid.lower()
    elif slug and slug.lower() == "comment":
        raise _invalid(text)  # /comments/ID/comment/ with no comment id
    if slug and slug.lower() == "comment" and cid:
        comment_id = cid.lower()
    sub = m.group("sub")
    return ThreadRef(m.group("id").lower(), comment_id, sub)


def is_hn_ref(ref: ThreadRef) -> bool:
    """Whether a reference names a Hacker News item (its id is `hn:N`)."""
    return ref.post_id.startswith("hn:")


def find_thread_urls(text: str) -> list[str]:
    """Reddit thread links in a message, in order, without duplicates (share links included)."""
    out: list[str] = []
    for match in _URL_IN_TEXT.finditer(text):
        candidate = match.group(0).rstrip(".,;:!?*_~")
        try:
            parse_thread_text(candidate)
        except InvalidThreadUrl:
            continue
        if candidate not in out:
            out.append(candidate)
    return out


def hn_ref(text: str) -> ThreadRef | None:
    """The Hacker News thread `text` names (an item link or `hn:N`), or None."""
    try:
        parsed = parse_thread_text(text)
    except InvalidThreadUrl:
        return None
    return parsed if isinstance(parsed, ThreadRef) and is_hn_ref(parsed) else None
