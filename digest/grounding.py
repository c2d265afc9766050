"""Grounding checks: a report may only quote what was said, by whom, and link what was shared."""

from __future__ import annotations

from dataclasses import dataclass

from digest.model import Thread
from digest.quotes import is_verbatim, quoted_from_others
from digest.report import Quote
from digest.stats import collect_links
from digest.text import unescape_markdown


@dataclass(frozen=True, slots=True)
class Violation:
    where: str
    problem: str


def check_quote(thread: Thread, quote: Quote) -> str | None:
    """None when the quote is grounded; otherwise what is wrong with it."""
    if quote.comment_id is None:
        post = thread.post
        if quote.author != post.author or quote.score != post.score:
            return "attributed to the post with the wrong author or score"
        if not (is_verbatim(quote.text, post.body) or is_verbatim(quote.text, post.title)):
            return "not a verbatim part of the post"
        if not is_verbatim(quote.text, post.title) and quoted_from_others(quote.text, post.body):
            return f"is text the post quotes (a `>` block), not {thread.origin.op_possessive()} own words"
        return None
    comment = thread.by_id.get(quote.comment_id)
    if comment is None:
        return f"cites comment {quote.comment_id}, which is not in the thread"
    if quote.author != comment.author or quote.score != comment.score:
        return f"gives comment {comment.id} the wrong author or score"
    if not is_verbatim(quote.text, comment.body):
        return f"is not a verbatim part of comment {comment.id}"
    if quoted_from_others(quote.text, comment.body):
        return f"is text comment {comment.id} quotes (a `>` block), not its author's own words"
    return None


def thread_urls(thread: Thread) -> set[str]:
    """Every URL the thread itself holds, plus its own permalink."""
    urls = {link.url for link in collect_links(thread)}
    urls.add(thread.post.permalink)
    urls.add(thread.post.url)
    return urls


def url_in_thread(thread: Thread, url: str) -> bool:
    """True when the URL was written in the post or a comment (or is the thread's own)."""
    if url in (thread.post.permalink, thread.post.url):
        return True
    if url in unescape_markdown(thread.post.body):
        return True
    return any(url in unescape_markdown(c.body) for c in thread.comments if "http" in c.body)
