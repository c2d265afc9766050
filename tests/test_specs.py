"""Subscription filters as a reader means them (issue 16: keyword filters matched inside words)."""

from __future__ import annotations

import pytest

from bot.specs import ScheduleSpec
from tests.support.harness import Harness, make_thread


def _passes(keywords: tuple[str, ...], title: str, body: str = "") -> bool:
    post = make_thread("kw0001", title=title, selftext=body).post
    spec = ScheduleSpec(("LocalLLaMA",), "daily 09:00 UTC", 3, keywords=keywords)
    return spec.passes(post)


@pytest.mark.parametrize(
    ("keywords", "title", "expected"),
    [
        (("ai",), "He said nothing new", False),  # once matched inside "said"
        (("ai",), "New AI model released", True),
        (("ai",), "The AI's answer", True),
        (("llama",), "Three llamas walk into a bar", True),  # a plural is the same word
        (("llama",), "llamacpp 2.0 is out", False),
        (("local llama",), "Local-LLaMA news of the week", True),  # a phrase, any punctuation
        (("local llama",), "a llama, locally grown", False),
        (("c++",), "Why C++ still matters", True),
        (("qwen", "mistral"), "Mistral's new model", True),
    ],
)
def test_keywords_match_whole_words_and_phrases(
    keywords: tuple[str, ...], title: str, expected: bool
) -> None:
    assert _passes(keywords, title) is expected


def test_a_keyword_in_the_body_counts_too() -> None:
    assert _passes(("vllm",), "Which server?", "I run vLLM on two GPUs")


async def test_subscribe_and_the_list_show_the_filters(h: Harness) -> None:
    """Before: neither the answer nor /subscriptions said which filters a subscription has."""
    await h.core.handle_request(
        h.request(
            "subscribe",
            'r/LocalLLaMA daily 09:00 top 3 min-score 100 flair "New Model" keywords qwen,"local llama"',
        )
    )
    answer = h.chat.ephemeral()[-1].text
    filters = ', min-score 100, flair "New Model", keywords qwen, "local llama"'
    assert answer.startswith("Subscribed #1: r/LocalLLaMA, daily at 09:00"), answer
    assert f"top 3{filters}. Next run" in answer, answer
    await h.core.handle_request(h.request("subscriptions", ""))
    assert f"top 3{filters}; next" in h.chat.ephemeral()[-1].text
