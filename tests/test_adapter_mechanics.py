"""The mechanics both chat adapters share: a bounded, expiring map (bot/ttl_map.py), a multi-part
post resumed after a crash (bot/multipart.py) and packing into size-limited parts
(digest/render/packing.py)."""

from __future__ import annotations

from bot.chat import MessageRef
from bot.multipart import MultipartPosts
from bot.ttl_map import TTLMap
from digest.render.packing import pack, pack_lines


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_and_the_oldest_go_first_when_full() -> None:
    clock = Clock()
    m: TTLMap[str, int] = TTLMap(10.0, size=2, clock=clock)
    m.put("a", 1)
    clock.now = 5.0
    m.put("b", 2)
    assert (m.get("a"), m.get("b"), "a" in m) == (1, 2, True)
    m.put("c", 3)  # full: "a", the oldest, goes
    assert (m.get("a"), m.get("b"), m.get("c")) == (None, 2, 3)
    clock.now = 15.5  # "b" was put at 5: gone; "c" too
    assert (m.get("b"), m.get("c"), m.items()) == (None, None, [])


def test_an_entry_may_name_its_own_end_and_pop_returns_only_the_living() -> None:
    clock = Clock()
    m: TTLMap[str, bool] = TTLMap(size=None, clock=clock)
    m.put("forever", True)
    m.put("brief", True, until=1.0)
    clock.now = 2.0
    assert m.pop("brief") is None
    assert m.pop("forever") is True
    assert len(m) == 0


def test_lru_keeps_what_is_read() -> None:
    m: TTLMap[int, str] = TTLMap(size=2, lru=True)
    m.put(1, "one")
    m.put(2, "two")
    assert m.get(1) == "one"  # now the newest
    m.put(3, "three")
    assert (m.get(1), m.get(2), m.get(3)) == ("one", None, "three")


def _ref(n: int) -> MessageRef:
    return MessageRef("test", "c", f"m{n}")


async def test_a_partial_post_is_completed_not_repeated() -> None:
    posts = MultipartPosts()
    assert posts.settle("k", {}, 0) is None
    assert posts.settle("k", {0: _ref(0), 2: _ref(2)}, 3) is None  # part 1 is missing
    sent: list[int] = []

    async def send_one(part: int, message: str) -> MessageRef:
        sent.append(part)
        return _ref(10 + part)

    refs = await posts.send("k", ["a", "b", "c"], send_one)
    assert sent == [1]
    assert refs == [_ref(0), _ref(11), _ref(2)]
    sent.clear()
    assert await posts.send("k", ["a", "b", "c"], send_one) == [_ref(10), _ref(11), _ref(12)]
    assert sent == [0, 1, 2]  # the parts found were used once


async def test_parts_numbered_from_one_and_a_whole_post_comes_back_in_order() -> None:
    posts = MultipartPosts()
    assert posts.settle("k", {2: _ref(2), 1: _ref(1)}, 2) == [_ref(1), _ref(2)]
    assert posts.settle("j", {1: _ref(1)}, 2) is None

    async def send_one(part: int, message: str) -> MessageRef:
        return _ref(part)

    assert await posts.send("j", ["x", "y"], send_one, first=1) == [_ref(1), _ref(2)]
    assert posts.posted("j") is None
    posts.remember("j", [_ref(1), _ref(2)])
    assert posts.posted("j") == [_ref(1), _ref(2)]


def test_pack_respects_budget_count_and_a_start() -> None:
    assert pack([3, 3, 3, 9, 1], size=int, budget=6) == [[3, 3], [3], [9], [1]]
    assert pack([1, 1, 1, 1, 1], size=int, budget=100, most=2) == [[1, 1], [1, 1], [1]]
    assert pack([2, 2], size=int, budget=5, start=[4]) == [[4], [2, 2]]
    assert pack([], size=int, budget=5) == []


def test_pack_lines_joins_with_newlines_within_the_limit() -> None:
    assert pack_lines(["ab", "cd", "ef"], 5) == ["ab\ncd", "ef"]
    assert pack_lines(["", "ab", "", "cd"], 5) == ["ab\n", "cd"]
    assert pack_lines(["é" * 2, "😀"], 4, measure=lambda s: len(s.encode("utf-16-le")) // 2) == [
        "éé",
        "😀",
    ]
    assert pack_lines([], 10) == []
