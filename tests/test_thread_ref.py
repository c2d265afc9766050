"""Every way a person pastes a thread."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ports import InvalidThreadUrl, ThreadRef
from bot.thread_ref import ShareLink, find_thread_urls, parse_thread_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.reddit.com/r/LocalLLaMA/comments/1lpl656/glm41vthinking/",
         ThreadRef("1lpl656", None, "LocalLLaMA")),
        ("https://old.reddit.com/r/LocalLLaMA/comments/1lpl656/", ThreadRef("1lpl656", None, "LocalLLaMA")),
        ("https://new.reddit.com/r/x/comments/1lpl656", ThreadRef("1lpl656", None, "x")),
        ("https://np.reddit.com/r/x/comments/1lpl656/slug/?utm_source=share#frag", ThreadRef("1lpl656", None, "x")),
        ("https://m.reddit.com/r/x/comments/1lpl656/slug", ThreadRef("1lpl656", None, "x")),
        ("http://reddit.com/r/x/comments/1LPL656/slug/", ThreadRef("1lpl656", None, "x")),
        ("www.reddit.com/r/x/comments/1lpl656/slug/", ThreadRef("1lpl656", None, "x")),
        ("reddit.com/comments/1lpl656", ThreadRef("1lpl656")),
        ("https://www.reddit.com/user/someone/comments/1lpl656/t/", ThreadRef("1lpl656", None, "someone")),
        ("https://www.reddit.com/r/x/comments/1lpl656/slug/n0vnreu/", ThreadRef("1lpl656", "n0vnreu", "x")),
        ("https://www.reddit.com/r/x/comments/1lpl656/slug/n0vnreu/?context=3", ThreadRef("1lpl656", "n0vnreu", "x")),
        ("https://www.reddit.com/r/x/comments/1lpl656/comment/n0vnreu/", ThreadRef("1lpl656", "n0vnreu", "x")),
        ("https://redd.it/1lpl656", ThreadRef("1lpl656")),
        ("redd.it/1lpl656/", ThreadRef("1lpl656")),
        ("1lpl656", ThreadRef("1lpl656")),
        ("t3_n49rw", ThreadRef("n49rw")),
        ("T3_abcdef", ThreadRef("abcdef")),
        ("  <https://www.reddit.com/r/x/comments/1lpl656/|the thread>  ", ThreadRef("1lpl656", None, "x")),
    ],
)  # fmt: skip
def test_accepted_forms(text: str, expected: ThreadRef) -> None:
    assert parse_thread_text(text) == expected


def test_share_links_are_recognised() -> None:
    parsed = parse_thread_text("https://www.reddit.com/r/LocalLLaMA/s/AbC123xyz")
    assert parsed == ShareLink(
        "https://www.reddit.com/r/LocalLLaMA/s/AbC123xyz", "LocalLLaMA", "AbC123xyz"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "https://example.com/r/x/comments/abc12/",
        "https://www.reddit.com/r/LocalLLaMA/",
        "https://www.reddit.com/r/x/comments/",
        "https://www.reddit.com/r/x/comments/abc12/slug/cid1/extra/",
        "https://redd.it/",
        "https://www.reddit.com/user/someone/",
        "ftp://reddit.com/r/x/comments/abc12",
        "https://www.reddit.com.evil.example/r/x/comments/abc12/",
    ],
)
def test_rejected_with_an_example(text: str) -> None:
    with pytest.raises(InvalidThreadUrl) as err:
        parse_thread_text(text)
    assert "https://www.reddit.com/r/" in err.value.user_message


@given(st.text(max_size=200))
def test_any_text_gives_a_ref_or_a_clear_error(text: str) -> None:
    message = ""
    try:
        parse_thread_text(text)
    except InvalidThreadUrl as exc:
        message = exc.user_message
        assert message  # a clear sentence, never an empty error
    else:
        assert not message


def test_links_found_in_messages() -> None:
    text = (
        "look <https://www.reddit.com/r/a/comments/abc12/x/|this> and "
        "[that](https://old.reddit.com/r/b/comments/def34/) plus https://redd.it/ghi56. "
        "not https://www.reddit.com/r/a/ and again https://redd.it/ghi56"
    )
    assert find_thread_urls(text) == [
        "https://www.reddit.com/r/a/comments/abc12/x/",
        "https://old.reddit.com/r/b/comments/def34/",
        "https://redd.it/ghi56",
    ]
