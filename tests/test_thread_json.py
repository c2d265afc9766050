"""The converter on small, hand-written inputs: every odd shape Reddit produces."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from adapters.reddit_source.thread_json import (
    loads_iterative,
    thread_from_json,
    thread_from_json_text,
)
from digest.errors import ThreadDataError
from digest.model import ContentState
from tests.support.synthetic import comment_data, nest, post_data


def _thread(comments: list[dict[str, Any]], **post: Any) -> list[dict[str, Any]]:
    p = post_data("abc", len(comments)) | post
    return [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": p}]}},
        {"kind": "Listing", "data": {"children": nest(comments)}},
    ]


def _c(cid: str, parent: str = "t3_abc", **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "author": "someone",
        "body": f"body of {cid}",
        "score": 1,
        "created": 1_700_000_000,
        "depth": 0,
    }
    return comment_data(cid, parent, **(base | kw))


def test_tree_order_parents_and_depths() -> None:
    t = thread_from_json(
        _thread([_c("a"), _c("b", "t1_a", depth=1), _c("c", "t1_b", depth=2), _c("d")])
    )
    assert [c.id for c in t.comments] == ["a", "b", "c", "d"]
    assert [c.parent_id for c in t.comments] == [None, "a", "b", None]
    assert [c.depth for c in t.comments] == [1, 2, 3, 1]
    assert [a.id for a in t.ancestors("c")] == ["b", "a"]
    assert t.top_level_of("c") == "a"


def test_deleted_and_removed_comments_and_authors() -> None:
    t = thread_from_json(
        _thread(
            [
                _c("a", author="[deleted]", body="[deleted]"),
                _c("b", author="[deleted]", body="[removed]"),
                _c("c", author="[deleted]", body="still here"),
            ]
        )
    )
    a, b, c = t.comments
    assert (a.state, a.author, a.body) == (ContentState.DELETED, None, "")
    assert (b.state, b.author, b.body) == (ContentState.REMOVED, None, "")
    assert (c.state, c.author, c.body) == (ContentState.PRESENT, None, "still here")


def test_removed_and_deleted_posts() -> None:
    removed = thread_from_json(_thread([], removed_by_category="moderator", selftext="[removed]"))
    assert removed.post.state is ContentState.REMOVED
    assert removed.post.body == ""
    deleted = thread_from_json(_thread([], selftext="[deleted]", author="[deleted]"))
    assert deleted.post.state is ContentState.DELETED
    assert deleted.post.author is None


def test_html_escaped_dump_is_decoded_but_raw_text_is_kept() -> None:
    escaped = thread_from_json(
        _thread([_c("a", body="Tom &amp; Jerry &gt; quote &lt;tag&gt;")], title="A &amp; B")
    )
    assert escaped.comments[0].body == "Tom & Jerry > quote <tag>"
    assert escaped.post.title == "A & B"
    raw = thread_from_json(_thread([_c("a", body="x > y and I typed &amp; literally")]))
    assert raw.comments[0].body == "x > y and I typed &amp; literally"


def test_more_and_continue_thread_stubs() -> None:
    raw = _thread([_c("a")])
    raw[1]["data"]["children"].append(
        {
            "kind": "more",
            "data": {"count": 7, "id": "m1", "parent_id": "t3_abc", "depth": 0,
                     "children": ["x", "y"]},
        }
    )  # fmt: skip
    a = raw[1]["data"]["children"][0]["data"]
    a["replies"] = {
        "kind": "Listing",
        "data": {"children": [{"kind": "more", "data": {"count": 0, "id": "_",
                                                        "parent_id": "t1_a", "depth": 1,
                                                        "children": []}}]},
    }  # fmt: skip
    t = thread_from_json(raw)
    assert len(t.more) == 2
    cont = next(m for m in t.more if m.is_continue_thread)
    assert cont.parent_id == "a"
    listed = next(m for m in t.more if not m.is_continue_thread)
    assert (listed.count, listed.children, listed.parent_id) == (7, ("x", "y"), None)


def test_missing_fields_get_defaults() -> None:
    raw = [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"id": "z"}}]}},
        {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": {"id": "q"}}]}},
    ]
    t = thread_from_json(raw)
    assert t.post.id == "z"
    assert t.post.upvote_ratio is None
    assert t.comments[0].body == ""
    assert t.comments[0].author is None


def test_edited_false_or_timestamp() -> None:
    t = thread_from_json(_thread([_c("a"), _c("b")]))
    assert t.comments[0].edited is None
    raw = _thread([_c("a")])
    raw[1]["data"]["children"][0]["data"]["edited"] = 1_700_000_100.0
    assert thread_from_json(raw).comments[0].edited is not None


def test_post_listing_alone_is_a_thread_without_comments() -> None:
    t = thread_from_json(_thread([])[:1])
    assert t.comments == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "truncated"),
        ('[{"kind": "Listing", "data": {"chil', "truncated"),
        ("not json at all", "not valid JSON"),
        ('{"kind": "t2", "data": {}}', "is not a Reddit thread"),
        ("[]", "is not a Reddit thread"),
        ('[{"kind": "Listing", "data": {"children": []}}]', "is not a Reddit thread"),
        (
            '[{"kind":"Listing","data":{"children":[{"kind":"t3","data":{"id":"a"}}]}}, 5]',
            "second item is not a listing",
        ),
    ],
)
def test_bad_input_raises_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ThreadDataError) as err:
        thread_from_json_text(text, source="x.json")
    assert message in err.value.user_message
    assert err.value.user_message.startswith("x.json")


def test_binary_garbage_is_reported_as_not_text() -> None:
    with pytest.raises(ThreadDataError, match="not"):
        thread_from_json_text(b"\xff\xfe\x00garbage", source="bin")


def test_duplicate_ids_are_kept_once() -> None:
    raw = _thread([_c("a")])
    raw[1]["data"]["children"].append(json.loads(json.dumps(raw[1]["data"]["children"][0])))
    assert len(thread_from_json(raw).comments) == 1


def _parse_outcome(parse: Any, text: str) -> tuple[Any, ...]:
    try:
        return ("value", json.dumps(parse(text)))  # dumps: NaN equals NaN, key order counts
    except json.JSONDecodeError as exc:
        return ("error", exc.msg, exc.pos)
    except ValueError as exc:
        return ("value error", str(exc))


_SCALARS: tuple[Any, ...] = (
    *(None, True, False, 0, -1, 12, 3.5, -2e-3, 1e300, 10**30),
    *(math.nan, math.inf, -math.inf, "", "x", 'é\n"\\\u2028'),
)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        return rng.choice(_SCALARS)
    if roll < 0.65:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice("abcd"): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_the_iterative_parser_agrees_with_json_loads() -> None:
    """The parser used for threads too deep for json.loads: same values and same errors (kind,
    message, position) on valid documents and on mangled ones."""
    rng = random.Random(3)
    for _ in range(3_000):
        text = json.dumps(_random_json(rng), indent=rng.choice([None, 1, "\t"]))
        if rng.random() < 0.5:
            at = rng.randrange(len(text) + 1)
            roll = rng.random()
            if roll < 0.3:
                text = text[:at]
            elif roll < 0.6:
                text = text[:at] + rng.choice(list(',:[]{}"\\ 0-eE.nNtfIx\x01')) + text[at:]
            else:
                text = text[:at] + text[at + 1 :]
        assert _parse_outcome(loads_iterative, text) == _parse_outcome(json.loads, text), text
    for text in ["", " ", "[1,]", '{"a":1,}', "-Infinity", "-", "01", "1" * 5000, "\ufeff[]"]:
        assert _parse_outcome(loads_iterative, text) == _parse_outcome(json.loads, text), text


def test_numbers_python_cannot_convert_are_defaults_not_crashes() -> None:
    raw = _thread([_c("a"), _c("b"), _c("c")])
    text = json.dumps(raw).replace('"score": 1,', '"score": NaN,', 1)
    text = text.replace('"score": 1,', '"score": Infinity,', 1)
    text = text.replace('"score": 1,', '"score": -1e999,', 1)
    text = text.replace('"upvote_ratio": 0.9', '"upvote_ratio": 1' + "0" * 400)
    text = text.replace('"num_comments": 3', '"num_comments": ' + "9" * 400)
    t = thread_from_json_text(text)
    assert [c.score for c in t.comments] == [0, 0, 0]
    assert t.post.upvote_ratio is None
    assert t.post.num_comments == 10**15  # clamped: arithmetic on it stays finite
    with pytest.raises(ThreadDataError, match=r"^x\.json holds a number too long to read\.$"):
        thread_from_json_text(text.replace("9" * 400, "9" * 5_000), source="x.json")
