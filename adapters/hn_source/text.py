"""HN's HTML (comment and story text) → the markdown-ish plain text the digest engine reads.

HN writes a small, fixed subset: paragraphs as `<p>` (never closed), `<a href="…"
rel="nofollow">shown</a>` (the shown text of a long URL cut with "..."), `<i>`, `<pre><code>`,
and entities (`&#x27;`, `&#x2F;`, `&quot;`, `&gt;` …). Paragraphs become blank-line breaks,
`<i>` becomes `*…*`, code blocks become fenced blocks, and a link becomes its URL when the shown
text is (a cut of) the URL, else `[shown](url)`: every link the text carries stays a URL the
engine finds. Anything else is dropped to its text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SAFE_SCHEMES = ("http://", "https://")


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._href: str | None = None
        self._shown: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "p":
            self.out.append("\n\n")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "i" and self._href is None and not self._in_pre:
            self.out.append("*")
        elif tag == "pre":
            self._in_pre = True
            self.out.append("\n\n```\n")
        elif tag == "a":
            href = dict(attrs).get("href") or ""
            self._href = href if href.startswith(_SAFE_SCHEMES) else ""
            self._shown = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "i" and self._href is None and not self._in_pre:
            self.out.append("*")
        elif tag == "pre":
            self._in_pre = False
            if self.out and not self.out[-1].endswith("\n"):
                self.out.append("\n")
            self.out.append("```\n\n")
        elif tag == "a" and self._href is not None:
            self.out.append(_link("".join(self._shown), self._href))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._shown.append(data)
        else:
            self.out.append(data)


def _link(shown: str, href: str) -> str:
    shown = shown.strip()
    if not href:
        return shown
    cut = shown.removesuffix("...").removesuffix("…")
    if not shown or href.startswith(cut) or cut.startswith(href):
        return href
    return f"[{shown}]({href})"


def html_to_text(html: str | None) -> str:
    """HN's HTML as text: paragraphs apart by a blank line, links kept as URLs."""
    if not html:
        return ""
    parser = _Converter()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
