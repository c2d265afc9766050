"""The saved-thread source reads only its folders, whatever a chat user sends, and survives
hostile files; LocalThreadFiles reads any path, for the person at the terminal only."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from adapters.reddit_source import saved
from adapters.reddit_source.local_files import LocalThreadFiles
from adapters.reddit_source.saved import NOT_AVAILABLE, SavedThreadSource
from bot.ports import InvalidThreadUrl, ListingSort, SourceError, ThreadNotFound, ThreadRef
from bot.thread_ref import parse_thread_text
from digest.model import Thread
from digest.report import Depth
from tests.support.synthetic import thread_json

# Paths opened anywhere in the process while a test watches (an audit hook sees every open,
# whichever API or thread does it). Hooks cannot be removed: one is added, once.
_watch: list[str] | None = None
_hooked = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _watch is not None and isinstance(args[0], str | bytes | os.PathLike):
        _watch.append(os.fsdecode(args[0]))


@pytest.fixture
def opened() -> Iterator[list[str]]:
    global _watch, _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    _watch = []
    try:
        yield _watch
    finally:
        _watch = None


def _write_thread(path: Path, post_id: str, n: int = 5, **post: Any) -> Path:
    raw = thread_json(n, seed=len(post_id), post_id=post_id)
    raw[0]["data"]["children"][0]["data"].update(post)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def _one_sentence(message: str) -> bool:
    return (
        message.endswith(".") and "\n" not in message and not re.search(r"[.!?]\s+[A-Z]", message)
    )


def _parse_error(text: str) -> str:
    with pytest.raises(InvalidThreadUrl) as err:
        parse_thread_text(text)
    return err.value.user_message


# --- resolve: what a chat user sends is never a path ----------------------------------------


async def test_resolve_never_opens_a_path(tmp_path: Path, opened: list[str]) -> None:
    folder = tmp_path / "saved"
    inside = _write_thread(folder / "abc123.json", "abc123")
    outside = _write_thread(tmp_path / "elsewhere" / "zzz999.json", "zzz999")
    source = SavedThreadSource([folder])
    opened.clear()  # (writing them opened them)
    for text in (str(outside), str(inside), f"  {outside}  ", "abc123.json", "~/zzz999.json"):
        with pytest.raises(InvalidThreadUrl) as err:
            await source.resolve(text)
        assert err.value.user_message == _parse_error(text)
    assert not [p for p in opened if "abc123" in p or "zzz999" in p]
    # Both files exist; the file outside the folder can still not be fetched by its id.
    with pytest.raises(ThreadNotFound):
        await source.fetch_thread(ThreadRef("zzz999"), Depth.BRIEF)
    assert not [p for p in opened if "zzz999" in p]


async def test_resolve_takes_urls_ids_and_fullnames() -> None:
    source = SavedThreadSource()
    url = "https://www.reddit.com/r/selfhosted/comments/abc123/x/def456/"
    assert await source.resolve(url) == ThreadRef("abc123", "def456", "selfhosted")
    assert await source.resolve("abc123") == ThreadRef("abc123")
    assert await source.resolve("t3_abc123") == ThreadRef("abc123")
    with pytest.raises(InvalidThreadUrl, match="Share links need Reddit access"):
        await source.resolve("https://www.reddit.com/r/selfhosted/s/AbCdEf")


async def test_a_path_gets_the_same_answer_whether_or_not_a_file_is_there(
    tmp_path: Path,
) -> None:
    existing = _write_thread(tmp_path / "t.json", "abc123")
    missing = tmp_path / "u.json"
    source = SavedThreadSource([tmp_path])  # even inside the folder
    messages = []
    for path in (existing, missing):
        with pytest.raises(InvalidThreadUrl) as err:
            await source.resolve(str(path))
        messages.append(err.value.user_message.replace(str(path), "PATH"))
    assert messages[0] == messages[1]


async def test_a_missing_thread_gets_one_answer_whatever_is_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    _write_thread(folder / "good01.json", "good01")
    (folder / "bad002.json").write_text("{not json", encoding="utf-8")  # a bad file named for it
    _write_thread(tmp_path / "out003.json", "out003")  # beside the folder
    (folder / "link04.json").symlink_to(_write_thread(tmp_path / "x" / "l.json", "link04"))
    source = SavedThreadSource([folder])
    messages = {}
    for post_id in ("bad002", "out003", "link04", "none05"):
        with pytest.raises(ThreadNotFound) as err:
            await source.fetch_thread(ThreadRef(post_id), Depth.BRIEF)
        messages[post_id] = err.value.user_message
        assert err.value.user_message == NOT_AVAILABLE.format(id=post_id)
        assert _one_sentence(err.value.user_message)
    assert len({m.replace(i, "ID") for i, m in messages.items()}) == 1
    assert (await source.fetch_thread(ThreadRef("good01"), Depth.BRIEF)).post.id == "good01"


# --- the folder scan -------------------------------------------------------------------------


async def test_a_symlink_out_of_the_folder_is_skipped(
    tmp_path: Path, opened: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    secret = _write_thread(tmp_path / "private" / "secret.json", "sec001")
    (folder / "escape.json").symlink_to(secret)
    (folder / "relative.json").symlink_to(Path("..") / "private" / "secret.json")
    # A symlink to a file inside the folder is fine (not scanned twice: sub/ is not a *.json).
    (folder / "alias.json").symlink_to(_write_thread(folder / "sub" / "inner", "inn001"))
    source = SavedThreadSource([folder])
    opened.clear()  # (writing them opened them)
    with caplog.at_level(logging.WARNING, logger=saved.__name__):
        with pytest.raises(ThreadNotFound):
            await source.fetch_thread(ThreadRef("sec001"), Depth.BRIEF)
        assert (await source.fetch_thread(ThreadRef("inn001"), Depth.BRIEF)).post.id == "inn001"
    assert not [p for p in opened if "secret" in p]
    assert caplog.text.count("points outside") == 2


async def test_a_bad_file_does_not_hide_the_files_after_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    bad: dict[str, str | bytes] = {
        "a_deep.json": "[" * 5_000 + "]" * 5_000,  # beyond json.loads' recursion
        "b_bigint.json": json.dumps(thread_json(2, post_id="big001")).replace(
            '"num_comments": 2', '"num_comments": ' + "9" * 5_000
        ),  # more digits than Python converts
        "c_latin1.json": "[{'kind': 'Listing'}] é".encode("latin-1"),
        "d_truncated.json": json.dumps(thread_json(3, post_id="trn001"))[:-40],
    }
    for name, content in bad.items():
        path = folder / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    (folder / "e_folder.json").mkdir()
    (folder / "f_dangling.json").symlink_to(folder / "nowhere")
    (folder / "g_loop.json").symlink_to(folder / "g_loop.json")
    # Values Python cannot convert, where Reddit has numbers: read as defaults, not a crash.
    odd = json.dumps(thread_json(4, post_id="odd001")).replace('"score": ', '"score": NaN, "x": ')
    odd = odd.replace('"upvote_ratio": 0.9', '"upvote_ratio": 1' + "0" * 400)
    (folder / "h_odd_numbers.json").write_text(odd, encoding="utf-8")
    _write_thread(folder / "z_good.json", "good01")
    source = SavedThreadSource([folder])
    with caplog.at_level(logging.WARNING, logger=saved.__name__):
        good = await source.fetch_thread(ThreadRef("good01"), Depth.BRIEF)
    assert good.post.id == "good01"
    odd_thread = await source.fetch_thread(ThreadRef("odd001"), Depth.BRIEF)
    assert odd_thread.post.upvote_ratio is None
    assert {c.score for c in odd_thread.comments} == {0}
    for name in [*bad, "e_folder.json", "f_dangling.json", "g_loop.json"]:
        assert f"skipping {folder / name}" in caplog.text, name


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
async def test_a_fifo_in_the_folder_does_not_hang_the_scan(tmp_path: Path) -> None:
    fifo = tmp_path / "a_pipe.json"
    os.mkfifo(fifo)
    _write_thread(tmp_path / "b_good.json", "good01")
    source = SavedThreadSource([tmp_path])
    try:
        thread = await asyncio.wait_for(source.fetch_thread(ThreadRef("good01"), Depth.BRIEF), 10)
    finally:  # a reader stuck on the FIFO (a regression) is released by a writer's close
        with contextlib.suppress(OSError):  # ENXIO: no reader, nothing was stuck
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert thread.post.id == "good01"


async def test_concurrent_first_fetches_all_find_the_thread(tmp_path: Path) -> None:
    """Jobs starting together all wait for the one scan (none sees a half-scanned folder)."""
    for i in range(4):
        _write_thread(tmp_path / f"t{i}.json", f"th{i:04d}", n=600)
    source = SavedThreadSource([tmp_path])
    threads = await asyncio.gather(
        *(source.fetch_thread(ThreadRef(f"th{i % 4:04d}"), Depth.BRIEF) for i in range(10))
    )
    assert [t.post.id for t in threads] == [f"th{i % 4:04d}" for i in range(10)]
    posts = await SavedThreadSource([tmp_path]).posts(["th0003", "nope"])
    assert [p.id for p in posts] == ["th0003"]


async def test_the_folders_are_scanned_once_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_thread(tmp_path / "t.json", "abc123")
    scans: list[str] = []
    real_scan = saved.scan_folders

    def counting_scan(folders: list[Path]) -> dict[str, Thread]:
        scans.append(threading.current_thread().name)
        return real_scan(folders)

    monkeypatch.setattr(saved, "scan_folders", counting_scan)
    source = SavedThreadSource([tmp_path])
    await asyncio.gather(
        source.fetch_thread(ThreadRef("abc123"), Depth.BRIEF),
        source.listing("synthetic", ListingSort.NEW),
        source.posts(["abc123"]),
        *(source.fetch_thread(ThreadRef("abc123"), Depth.DEEP) for _ in range(5)),
    )
    await source.fetch_thread(ThreadRef("abc123"), Depth.BRIEF)
    assert len(scans) == 1
    assert scans[0] != threading.main_thread().name


async def test_a_scan_cancelled_midway_is_done_again_by_the_next_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_thread(tmp_path / "t.json", "abc123")
    release = threading.Event()
    real_scan = saved.scan_folders

    def slow_scan(folders: list[Path]) -> dict[str, Thread]:
        release.wait(10)
        return real_scan(folders)

    monkeypatch.setattr(saved, "scan_folders", slow_scan)
    source = SavedThreadSource([tmp_path])
    first = asyncio.create_task(source.fetch_thread(ThreadRef("abc123"), Depth.BRIEF))
    await asyncio.sleep(0.05)
    first.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await source.fetch_thread(ThreadRef("abc123"), Depth.BRIEF)).post.id == "abc123"


async def test_the_comment_focus_keeps_the_comment_and_its_replies(tmp_path: Path) -> None:
    _write_thread(tmp_path / "t.json", "abc123", n=60)
    source = SavedThreadSource([tmp_path])
    whole = await source.fetch_thread(ThreadRef("abc123"), Depth.BRIEF)
    parent = next(c for c in whole.comments if whole.children.get(c.id))
    focused = await source.fetch_thread(ThreadRef("abc123", parent.id), Depth.BRIEF)
    assert focused.focus_comment_id == parent.id
    assert focused.comments[0].id == parent.id
    assert all(
        c.id == parent.id or parent.id in {a.id for a in focused.ancestors(c.id)}
        for c in focused.comments
    )
    with pytest.raises(ThreadNotFound, match="Comment zzz is not in the saved thread"):
        await source.fetch_thread(ThreadRef("abc123", "zzz"), Depth.BRIEF)


# --- LocalThreadFiles: the terminal's own files ----------------------------------------------


class ThreadFiles(Protocol):  # the core's port (bot.ports.ThreadFiles), as the brief states it
    async def read(self, path: str) -> Thread: ...


async def test_local_files_read_any_path_the_terminal_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files: ThreadFiles = LocalThreadFiles()
    path = _write_thread(tmp_path / "anywhere" / "thread.json", "abc123")
    assert (await files.read(str(path))).post.id == "abc123"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert (await files.read("  ~/anywhere/thread.json ")).post.id == "abc123"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("missing", "There is no file at {path}."),
        ("folder", "{path} is a folder: give a saved thread JSON file."),
        ("fifo", "{path} is not a regular file: give a saved thread JSON file."),
        ("denied", "{path} cannot be read: permission denied."),
        ("under_a_file", "There is no file at {path}: a part of it is a file."),
        ("not_a_thread", "{path} is not a Reddit thread"),
        ("truncated", "{path} is truncated: the JSON ends early."),
        ("not_json", "{path} is not valid JSON (line 1, column 1: Expecting value)."),
        ("not_text", "{path} is not text: a thread file is UTF-8 JSON."),
        ("nul", "{path} cannot be read: not a usable path."),
    ],
)
async def test_local_files_errors_are_one_sentence_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, expected: str
) -> None:
    path = tmp_path / f"{kind}.json"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this platform")
        os.mkfifo(path)
    elif kind == "denied":
        path.write_text("[]", encoding="utf-8")
        real_open = os.open

        def denied(p: Any, *args: Any, **kwargs: Any) -> int:
            if os.fspath(p) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(p))
            return real_open(p, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)  # (local_files calls os.open)
    elif kind == "under_a_file":
        (tmp_path / "plain").write_text("x", encoding="utf-8")
        path = tmp_path / "plain" / "t.json"
    elif kind == "not_a_thread":
        path.write_text('{"kind": "t2", "data": {}}', encoding="utf-8")
    elif kind == "truncated":
        path.write_text(json.dumps(thread_json(3))[:-30], encoding="utf-8")
    elif kind == "not_json":
        path.write_text("hello", encoding="utf-8")
    elif kind == "not_text":
        path.write_bytes(b'["caf\xe9"]')  # Latin-1, not UTF-8
    elif kind == "nul":
        path = tmp_path / "a\0b.json"
    with pytest.raises(SourceError) as err:
        await LocalThreadFiles().read(str(path))
    assert isinstance(err.value, ThreadNotFound)
    message = err.value.user_message
    assert message.startswith(expected.format(path=path))
    assert _one_sentence(message), message


async def test_local_files_need_a_path() -> None:
    with pytest.raises(ThreadNotFound) as err:
        await LocalThreadFiles().read("   ")
    assert err.value.user_message == "Give the path of a saved thread JSON file."
