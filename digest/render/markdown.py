"""Markdown (and plain text) from a report document.

Reddit text is untrusted: every span is escaped so it cannot add formatting, links, headings or
mentions of its own; only the structure we lay out renders.
"""

from __future__ import annotations

import re

from digest.render.document import Document, Line, document
from digest.report import Report

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")  # what could start formatting mid-line
_WS = re.compile(r"\s+")
_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)  # "@everyone2" too: never a ping
ZWSP = "\u200b"


def defuse_mentions(text: str) -> str:
    """`@everyone`/`@here` shown, never pinging (a zero-width space after the @)."""
    return _MENTION.sub(lambda m: "@" + ZWSP + m.group(1), text)


def escape_md(text: str) -> str:
    flat = _WS.sub(" ", text)
    return defuse_mentions(_MD_SPECIAL.sub(r"\\\1", flat))


def _md_line(line: Line) -> str:
    out = []
    for span in line:
        if span.style == "link":
            out.append(f"<{span.text}>")
        elif span.style == "strong":
            out.append(f"**{escape_md(span.text)}**")
        elif span.style == "quote":
            out.append(f"“{escape_md(span.text)}”")
        elif span.style == "muted":
            lead = " " if span.text[:1].isspace() else ""
            out.append(
                f"{lead}*{escape_md(span.text.strip())}*" if span.text.strip() else span.text
            )
        else:
            out.append(escape_md(span.text))
    return "".join(out).strip()


def render_markdown(report: Report) -> str:
    doc = document(report)
    return markdown_of(doc)


def markdown_of(doc: Document) -> str:
    parts = [f"# {_md_line(doc.title)}", ""]
    for section in doc.sections:
        parts += [f"## {section.title}", ""]
        for block in section.blocks:
            if block.kind == "fields":
                parts += ["| | |", "|---|---|"]
                parts += [
                    f"| {label} | {_md_line(line)} |"
                    for label, line in zip(block.labels, block.lines, strict=True)
                ]
            elif block.kind == "bullets":
                parts += [f"- {_md_line(line)}" for line in block.lines]
            else:
                parts += [_md_line(line) for line in block.lines]
            parts.append("")
    parts += ["---", *[f"*{escape_md(f)}*  " for f in doc.footer]]
    return "\n".join(parts).rstrip() + "\n"


def _text_line(line: Line) -> str:
    out = []
    for span in line:
        text = defuse_mentions(_WS.sub(" ", span.text))
        out.append(f"“{text}”" if span.style == "quote" else text)
    return "".join(out).strip()


def render_text(report: Report) -> str:
    return text_of(document(report))


def text_of(doc: Document) -> str:
    parts = [_text_line(doc.title), ""]
    for section in doc.sections:
        parts += [section.title.upper(), ""]
        for block in section.blocks:
            if block.kind == "fields":
                width = max(len(label) for label in block.labels)
                parts += [
                    f"  {label.ljust(width)}  {_text_line(line)}"
                    for label, line in zip(block.labels, block.lines, strict=True)
                ]
            elif block.kind == "bullets":
                parts += [f"  • {_text_line(line)}" for line in block.lines]
            else:
                parts += [_text_line(line) for line in block.lines]
            parts.append("")
    parts += ["—" * 40, *doc.footer]
    return "\n".join(parts).rstrip() + "\n"
