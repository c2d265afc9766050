"""Which `more` stubs are worth a request."""

from __future__ import annotations

from typing import Any

from adapters.reddit_source.expand import MORECHILDREN_MAX_IDS, Stub, expand, next_batch, rank


def _c(cid: str, parent: str, score: int) -> dict[str, Any]:
    return {"id": cid, "parent_id": parent, "score": score}


COMMENTS = {
    c["id"]: c
    for c in [
        _c("big", "t3_p", 900),
        _c("small", "t3_p", 3),
        _c("r1", "t1_big", 400),
        _c("r2", "t1_small", 1),
    ]
}


def test_stubs_under_popular_comments_come_first() -> None:
    under_big = Stub("s1", "t1_big", 5, ("a", "b", "c"), 1)
    under_small = Stub("s2", "t1_small", 5, ("d", "e", "f"), 1)
    assert rank([under_small, under_big], COMMENTS)[0] is under_big


def test_breadth_counts_when_value_is_equal() -> None:
    wide = Stub("w", "t1_small", 40, tuple(f"x{i}" for i in range(40)), 1)
    narrow = Stub("n", "t1_small", 2, ("y1", "y2"), 1)
    assert rank([narrow, wide], COMMENTS)[0] is wide


def test_deep_stubs_are_worth_less() -> None:
    shallow = Stub("a", "t1_big", 10, tuple(f"a{i}" for i in range(10)), 1)
    deep = Stub("b", "t1_big", 10, tuple(f"b{i}" for i in range(10)), 8)
    assert rank([deep, shallow], COMMENTS)[0] is shallow


def test_a_batch_takes_at_most_100_ids_and_keeps_the_rest() -> None:
    first = Stub("s1", "t3_p", 150, tuple(f"a{i}" for i in range(60)), 0)
    second = Stub("s2", "t1_big", 70, tuple(f"b{i}" for i in range(70)), 1)
    cont = Stub("_", "t1_r1", 0, (), 3)
    ids, taken, rest = next_batch([cont, first, second])
    assert len(ids) == MORECHILDREN_MAX_IDS
    assert ids[:60] == list(first.children)
    assert taken == [first, second]
    assert rest == [Stub("s2", "t1_big", 30, tuple(f"b{i}" for i in range(40, 70)), 1)]


def test_continue_thread_stubs_are_not_batched() -> None:
    ids, taken, rest = next_batch([Stub("_", "t1_r1", 0, (), 3)])
    assert (ids, taken, rest) == ([], [], [])


# --------------------------------------------------------------------------- the loop both sources run


def _t1(cid: str, parent: str, score: int) -> dict[str, Any]:
    return {"kind": "t1", "data": _c(cid, parent, score)}


class _Refused(Exception):
    pass


async def test_a_failed_request_leaves_the_stubs_it_took_whole() -> None:
    """A morechildren request that fails puts back the stubs it took, and no remainder of them:
    the thread's stubs then stand for each hidden comment once (both sources run this loop)."""
    ids = [f"h{i}" for i in range(150)]
    stub = Stub("m", "t3_p", 150, tuple(ids), 0)
    asked: list[list[str]] = []

    async def more(batch: list[str]) -> list[dict[str, Any]]:
        asked.append(batch)
        raise _Refused

    async def continue_thread(comment_id: str) -> list[dict[str, Any]]:
        raise AssertionError("no continue-thread stub here")

    flat = await expand(
        "p",
        [_t1("big", "t3_p", 900), stub.as_thing()],
        5,
        more=more,
        continue_thread=continue_thread,
        gone=LookupError,
        failed=_Refused,
    )
    assert asked == [ids[:MORECHILDREN_MAX_IDS]]
    assert [t["data"]["id"] for t in flat if t["kind"] == "t1"] == ["big"]
    stubs = [Stub.of(t["data"]) for t in flat if t["kind"] == "more"]
    assert stubs == [stub]


async def test_fetched_comments_join_in_order_and_gone_continue_threads_are_skipped() -> None:
    cont = Stub("_", "t1_big", 0, (), 1)
    more_stub = Stub("m", "t3_p", 2, ("x", "y"), 0)

    async def more(batch: list[str]) -> list[dict[str, Any]]:
        return [_t1(i, "t3_p", 10) for i in batch]

    async def continue_thread(comment_id: str) -> list[dict[str, Any]]:
        raise LookupError(comment_id)

    flat = await expand(
        "p",
        [_t1("big", "t3_p", 900), cont.as_thing(), more_stub.as_thing()],
        5,
        more=more,
        continue_thread=continue_thread,
        gone=LookupError,
        failed=_Refused,
    )
    assert [t["data"]["id"] for t in flat] == ["big", "x", "y"]
