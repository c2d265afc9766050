"""Where Discord text is escaped: untrusted text as inert Discord markdown (no formatting, masked
links or mentions of its own), document lines rendered within a size, lengths as Discord counts
them (UTF-16 units)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapters.discord_chat.limits import MAX_DESCRIPTION
from digest.render.document import Line, Span
from digest.render.markdown import ZWSP, defuse_mentions

_WS = re.compile(r"\s+")
_SPECIAL = re.compile(r"([\\*_~`|\[\]#>])")  # what could start formatting or a masked link
# <@1>, <@&1>, <#1>, </x:1>, <:e:1>, <a:e:1>, <t:1>, <id:customize> (a server navigation link)
_MENTION_LIKE = re.compile(r"<(?=[@#/:]|a:|t:|id:)", re.IGNORECASE)
_LINE_START = re.compile(r"^(?:[-+]|\d+[.)])(?=\s|$)")  # list items a line could start
_URL = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?)]}'\"*_~"
_URL_UNSAFE = re.compile(r"[<>\"\\`|{}^]|@(?=everyone|here)", re.IGNORECASE)


def ulen(text: str) -> int:
    """Length as Discord counts it, at worst (UTF-16 code units; never less than code points)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` within `limit` (UTF-16 units), ending with an ellipsis when cut."""
    if ulen(text) <= limit:
        return text
    room = limit - ulen(ellipsis)
    out: list[str] = []
    used = 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > room:
            break
        out.append(ch)
        used += size
    kept = "".join(out).rstrip()
    if kept.endswith("\\") and not kept.endswith("\\\\"):
        kept = kept[:-1]  # a lone escape would swallow what follows
    return kept + ellipsis


def neutralise(text: str) -> str:
    """Mentions shown, never live: `@everyone`/`@here` and `<@1>`, `<@&1>`, `<#1>` get a ZWSP."""
    return _MENTION_LIKE.sub("<" + ZWSP, defuse_mentions(text))


def channel_mentions(text: str, channel_ids: Sequence[str]) -> str:
    """`#ID` of each of these channels (ids the core vouches for) as a live channel mention."""
    if not channel_ids:
        return text
    ids = "|".join(re.escape(c) for c in sorted(channel_ids, key=len, reverse=True))
    return re.sub(rf"#({ids})(?![\w-])", r"<#\1>", text)


def safe_url(url: str) -> str | None:
    """An http(s) URL that cannot close its `<…>` or carry markup; None if it is not one."""
    url = url.strip()
    if not re.match(r"https?://[^\s/]", url, re.IGNORECASE) or any(c.isspace() for c in url):
        return None
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m.group(0)[0]):02X}", url)


def _escape_words(text: str) -> str:
    return neutralise(_SPECIAL.sub(r"\\\1", text))


def escape(text: str) -> str:
    """Untrusted text as inert Discord markdown, on one line. URLs stay links (as `<url>`)."""
    flat = _WS.sub(" ", text)
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(flat):
        url = match.group(0)
        trail = len(url) - len(url.rstrip(_URL_TRAIL))
        if trail:
            url = url[:-trail]
        safe = safe_url(url)
        if safe is None:
            continue
        out.append(_escape_words(flat[pos : match.start()]))
        out.append(f"<{safe}>")
        pos = match.start() + len(url)
    out.append(_escape_words(flat[pos:]))
    return "".join(out)


def _wrap(text: str, mark: str, close: str | None = None) -> str:
    """`mark` + text + `close`, with the text's outer spaces kept outside the marks."""
    inner = text.strip()
    if not inner:
        return text
    lead = " " if text[:1].isspace() else ""
    tail = " " if text[-1:].isspace() else ""
    return f"{lead}{mark}{inner}{mark if close is None else close}{tail}"


def _span(span: Span) -> str:
    if span.style == "link":
        url = safe_url(span.text)
        return f"<{url}>" if url else escape(span.text)
    text = escape(span.text)
    if span.style == "strong":
        return _wrap(text, "**")
    if span.style == "quote":
        return _wrap(text, "“", "”")
    if span.style == "muted":
        return _wrap(text, "*")
    return text


def _guard_start(line: str) -> str:
    """A rendered line may not begin a list, heading or quote of its own."""
    return "\\" + line if _LINE_START.match(line) else line


def render_line(line: Line, limit: int = MAX_DESCRIPTION, *, guard: bool = True) -> str:
    """One line of a document, within `limit`; a span that does not fit is cut (links dropped).
    `guard=False` for titles and field names, where lists and headings do not render."""
    limit -= 1  # room for _guard_start
    parts: list[str] = []
    used = 0
    for span in line:
        piece = _span(span)
        size = ulen(piece)
        if used + size <= limit:
            parts.append(piece)
            used += size
            continue
        room = limit - used - 1
        if span.style != "link" and room > 8:
            parts.append(_cut_span(span, room))
        parts.append("…")
        break
    text = "".join(parts).strip()
    return _guard_start(text) if guard else text


def _heading(text: str, limit: int) -> str:
    return render_line((Span(text),), limit, guard=False)


def _cut_span(span: Span, room: int) -> str:
    """The longest prefix of the span's text that renders within `room`."""
    text = _WS.sub(" ", span.text)
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ulen(_span(Span(text[:mid].rstrip(), span.style))) <= room:
            lo = mid
        else:
            hi = mid - 1
    return _span(Span(text[:lo].rstrip(), span.style)) if lo else ""


def plain(line: Line) -> str:
    """A line as plain text (thread names, where nothing renders): flat, mentions defused."""
    return neutralise(_WS.sub(" ", "".join(s.text for s in line)).strip())
