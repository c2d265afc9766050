"""Where Slack text is escaped: untrusted text as inert mrkdwn, and Reddit Markdown as mrkdwn.

Untrusted text (everything that came from Reddit, and anything a person typed) is escaped for
mrkdwn (`&`, `<`, `>`), broadcast words are defused and stray formatting markers are neutralised,
so a thread can neither ping (`<!channel>`, `<@U…>`) nor link (`<#C…>`) nor break our formatting.
Reddit markdown in quotes (bold, italic, strike, code, links) becomes mrkdwn; a link is rendered
as `<url|label>` only when the report itself lists that URL (so it comes from the thread).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from digest.stats import link_key
from digest.text import unescape_markdown

ZWSP: Final = "\u200b"
_WS = re.compile(r"\s+")
_BROADCAST = re.compile(r"@(channel|here|everyone)", re.IGNORECASE)  # also glued to a link
# Formatting markers a piece of text could use to start bold/italic/strike/code of its own; a
# marker that is not inside a word is replaced by a look-alike that Slack does not interpret.
_MARKER_LOOKALIKES: Final = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"}
_ESCAPABLE: Final = set("\\`*_{}[]()#+-.!|~>^")
_URL = re.compile(r"https?://[^\s<>\[\]\"'`|{}^]+", re.IGNORECASE)
_LINK = re.compile(
    r"\[(?P<label>[^\[\]\n]{1,300})\]\(\s*<?(?P<url>https?://[^\s<>]+?)>?"
    r"(?:\s+\"[^\"\n]*\")?\s*\)",
    re.IGNORECASE,
)
_URL_TRAILING: Final = ".,;:!?*_~'\""


def _escape_entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def defuse_broadcasts(text: str) -> str:
    """`@channel`, `@here`, `@everyone` shown but never parsed as a mention."""
    return _BROADCAST.sub(lambda m: "@" + ZWSP + m.group(1), text)


def _neutralise_markers(text: str) -> str:
    if not any(ch in text for ch in _MARKER_LOOKALIKES):
        return text
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        lookalike = _MARKER_LOOKALIKES.get(ch)
        if lookalike is not None and not (
            0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()
        ):
            out.append(lookalike)  # snake_case and 5*3 stay; anything that could pair changes
        else:
            out.append(ch)
    return "".join(out)


def escape_mrkdwn(text: str) -> str:
    """Untrusted text as inert, one-line mrkdwn: no mentions, links or formatting of its own."""
    return _neutralise_markers(defuse_broadcasts(_escape_entities(_WS.sub(" ", text))))


def escape_answer(text: str) -> str:
    """The core's own answers (they may echo what someone typed): escaped, newlines and the
    core's backtick code kept."""
    return defuse_broadcasts(_escape_entities(text))


def channel_mentions(text: str, channel_ids: Sequence[str]) -> str:
    """`#ID` of each of these channels (ids the core vouches for) as a live channel mention."""
    if not channel_ids:
        return text
    ids = "|".join(re.escape(c) for c in sorted(channel_ids, key=len, reverse=True))
    return re.sub(rf"#({ids})(?![\w-])", r"<#\1>", text)


def _plain_text(text: str, limit: int) -> str:
    """For plain_text objects: nothing is parsed there, but keep angle brackets out anyway."""
    flat = _WS.sub(" ", text).strip().replace("<", "‹").replace(">", "›")
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """At most `limit` characters, cut where no entity (`&amp;`) or link (`<…>`) is split."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    amp = text.rfind("&", max(0, cut - 6), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        cut = amp
    lt = text.rfind("<", 0, cut)
    if lt != -1 and ">" not in text[lt:cut]:
        cut = lt
    return text[:cut].rstrip() + "…"


def _wrap(marker: str, text: str) -> str:
    """`text` in a formatting marker, whitespace kept outside (Slack ignores `* x *`)."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def _url_for_link(url: str) -> str:
    return (
        url.replace("&", "&amp;")
        .replace("<", "%3C")
        .replace(">", "%3E")
        .replace("|", "%7C")
        .replace(" ", "%20")
    )


def short_url(url: str, limit: int = 70) -> str:
    """A readable label for a link: no scheme, no www., at most `limit` characters."""
    label = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE).rstrip("/")
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _link_label(label: str) -> str:
    return escape_mrkdwn(label).replace("|", "¦").strip() or "link"


def is_listed(url: str, allowed: frozenset[str]) -> bool:
    """Whether the report lists this URL (`allowed` holds link_key()s)."""
    return link_key(url) in allowed


def link_mrkdwn(url: str, label: str | None, allowed: frozenset[str]) -> str:
    """`<url|label>` for a URL the report lists; escaped text for anything else."""
    if is_listed(url, allowed):
        return f"<{_url_for_link(url)}|{_link_label(label or short_url(url))}>"
    if label and label.strip() != url:
        return f"{escape_mrkdwn(label)} ({escape_mrkdwn(url)})"
    return escape_mrkdwn(url)


def _trim_url(url: str) -> str:
    while url:
        unbalanced = url[-1] == ")" and url.count(")") > url.count("(")
        if url[-1] not in _URL_TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def _boundary(text: str, start: int, end: int) -> bool:
    """A construct at text[start:end] can be formatted: no letter or digit right outside it."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def _find_closer(text: str, delim: str, start: int) -> int:
    """Where `delim` closes an emphasis whose inner text starts at `start`; -1 when none does.

    The inner text is not empty and does not end in a space; a single `*` or `_` that is half
    of a double one is not a closer.
    """
    j = text.find(delim, start + 1)
    while j != -1:
        if len(delim) == 2:
            while text[j + 2 : j + 3] == delim[0]:
                j += 1  # `***both***`: the bold closes on the last two of the run
            if not text[j - 1].isspace():
                return j
        elif not text[j - 1].isspace() and delim not in (text[j + 1 : j + 2], text[j - 1]):
            return j
        j = text.find(delim, j + 1)
    return -1


_DOUBLE_DELIMS: Final = (("**", "*", "bold"), ("__", "*", "bold"), ("~~", "~", "strike"))


def reddit_to_mrkdwn(
    text: str, allowed: frozenset[str], _styles: frozenset[str] = frozenset()
) -> str:
    """Reddit markdown (one paragraph) as mrkdwn: **bold**, *italic*/_italic_, ~~strike~~,
    `code` and [label](url) keep their meaning; everything else is escaped text."""
    out: list[str] = []
    plain: list[str] = []
    n = len(text)

    def flush() -> None:
        if plain:
            out.append(escape_mrkdwn("".join(plain)))
            plain.clear()

    def styled(marker: str, style: str, start: int, inner: str, end: int) -> int:
        rendered = reddit_to_mrkdwn(inner, allowed, _styles | {style})
        flush()
        if style in _styles or not _boundary(text, start, end):
            out.append(rendered)  # Slack would not format it here: keep the words, drop marks
        else:
            out.append(_wrap(marker, rendered))
        return end

    def code(i: int) -> int | None:
        run = len(text[i:]) - len(text[i:].lstrip("`"))
        close = text.find("`" * run, i + run)
        if close == -1:
            return None
        inner = _WS.sub(" ", text[i + run : close]).strip().replace("`", "ˋ")
        flush()
        if inner:
            out.append(f"`{defuse_broadcasts(_escape_entities(inner))}`")  # never pings
        return close + run

    def link(i: int) -> int | None:
        m = _LINK.match(text, i)
        if m is None:
            return None
        url = unescape_markdown(m.group("url"))
        flush()
        if is_listed(url, allowed) and "link" not in _styles:
            out.append(f"<{_url_for_link(url)}|{_link_label(unescape_markdown(m.group('label')))}>")
        else:
            label = reddit_to_mrkdwn(m.group("label"), frozenset(), _styles | {"link"})
            out.append(f"{label} ({escape_mrkdwn(url)})")
        return m.end()

    def bare_url(i: int) -> int | None:
        m = _URL.match(text, i) if i == 0 or not text[i - 1].isalnum() else None
        if m is None:
            return None
        raw = _trim_url(m.group(0))
        url = unescape_markdown(raw)
        flush()
        if is_listed(url, allowed) and "link" not in _styles:
            out.append(f"<{_url_for_link(url)}|{_link_label(short_url(url))}>")
        else:
            out.append(escape_mrkdwn(url))
        return i + len(raw)

    def emphasis(i: int) -> int | None:
        for delim, marker, style in _DOUBLE_DELIMS:
            if text.startswith(delim, i):
                if i + 2 < n and not text[i + 2].isspace():
                    close = _find_closer(text, delim, i + 2)
                    if close != -1:
                        return styled(marker, style, i, text[i + 2 : close], close + 2)
                return None
        ch = text[i]
        if ch in "*_" and i + 1 < n and not text[i + 1].isspace():
            close = _find_closer(text, ch, i + 1)
            if close != -1 and (ch == "*" or _boundary(text, i, close + 1)):
                return styled("_", "italic", i, text[i + 1 : close], close + 1)
        return None

    def spoiler(i: int) -> int | None:
        close = text.find("!<", i + 2) if text.startswith(">!", i) else -1
        if close == -1:
            return None
        plain.append(text[i + 2 : close])  # a Reddit spoiler: shown as plain words
        return close + 2

    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            plain.append(text[i + 1])
            i += 2
            continue
        after: int | None = None
        if ch == "`":
            after = code(i)
        elif ch == "[":
            after = link(i)
        elif ch in "hH":
            after = bare_url(i)
        elif ch in "*_~":
            after = emphasis(i)
        elif ch == ">":
            after = spoiler(i)
        if after is None:
            plain.append(ch)
            i += 1
        else:
            i = after
    flush()
    return "".join(out)
