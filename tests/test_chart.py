"""A deep report's activity-and-mood chart: its data (exact, on threads made here), its PNG
(size, determinism, the bundled font, hostile labels), the note when a thread is too small, the
CLI's --chart, and the cold paths that must not load matplotlib."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from bot.cli import app
from digest import codec
from digest.chart_data import MIN_COMMENTS, ChartData, alt_text, chart_data
from digest.chart_text import CHART_TEXT, chart_text
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.render.chart_png import HEIGHT_PX, WIDTH_PX, font_path, render_chart
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from tests.conftest import NO_DATA_REASON, real_thread_files
from tests.support.synthetic import T0, comment_data, nest, post_data, thread_json
from tests.test_app_imports import _probe

ENGINE = DigestEngine(scorer=make_scorer())
REPO = Path(__file__).resolve().parents[1]
DOCS_CHART = REPO / "docs" / "chart-example.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NO_CHART = "No chart: too few comments to chart."


def largest_real_thread() -> Path | None:
    """The real thread with the most comments in ../shared/data/reddit (None without it)."""
    best: tuple[int, Path] | None = None
    for path in real_thread_files():
        n = len(thread_from_json_text(path.read_bytes(), source=str(path)).comments)
        if best is None or n > best[0]:
            best = (n, path)
    return best[1] if best else None


def made_thread(
    at_minutes: list[int],
    parents: dict[int, int] | None = None,
    *,
    authors: list[str] | None = None,
) -> Thread:
    """A thread posted at T0 whose comment i comes `at_minutes[i]` after it, as a reply to
    comment `parents[i]` (else top-level), by `authors[i]` (else user_i), scored 1."""
    parents = parents or {}
    comments = [
        comment_data(
            f"c{i}",
            f"t1_c{parents[i]}" if i in parents else "t3_mad",
            author=(authors[i] if authors else f"user_{i}"),
            body=f"comment number {i}",
            score=1,
            created=T0 + m * 60,
            depth=1 if i in parents else 0,
        )
        for i, m in enumerate(at_minutes)
    ]
    raw = [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post_data("mad", len(comments))}]}},
        {"kind": "Listing", "data": {"children": nest(comments)}},
    ]  # fmt: skip
    return thread_from_json(raw)


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ----------------------------------------------------------------------------- the data


def test_counts_per_hour_branch_shares_and_mood_exact() -> None:
    # 24 comments: 10 in the first hour, 2 in the second, none in the third, 12 in the fourth.
    minutes = [5 * i for i in range(10)] + [70, 80] + [185 + i for i in range(12)]
    # Comments 1-5 answer comment 0; 11 answers 10; 13-16 answer 12; the rest are top-level.
    parents = {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 11: 10, 13: 12, 14: 12, 15: 12, 16: 12}
    thread = made_thread(minutes, parents)
    polarity = {"c0": 0.5, "c1": 0.5, "c2": -0.5, "c12": -0.8, "c13": -0.4, "c14": -0.6}
    data = chart_data(thread, polarity)
    assert data.bin_hours == 1
    assert data.counts == (10, 2, 0, 12)
    assert data.later == 0
    assert data.comments == 24
    assert data.span_hours == pytest.approx((196 - 0) / 60, abs=1e-3)
    assert not data.too_small
    # Branches: c0 holds 6 comments, c12 holds 5, c10 holds 2, then singles by id.
    assert [(b.label, b.comments) for b in data.branches] == [
        ("u/user_0", 6), ("u/user_12", 5), ("u/user_10", 2), ("u/user_17", 1), ("u/user_18", 1),
    ]  # fmt: skip
    assert data.branches[0].share == pytest.approx(6 / 24, abs=1e-4)
    assert data.branches_share == pytest.approx(15 / 24, abs=1e-3)
    # Mood pools a bin with its neighbours (equal weights here: every score is 1): bin 0 and 1
    # see the first hour's three (+0.5, +0.5, -0.5); bins 2 and 3 see the fourth hour's three.
    assert list(data.mood) == pytest.approx([1 / 6, 1 / 6, -0.6, -0.6], abs=1e-4)


def test_mood_needs_three_analysed_comments_and_weighs_by_score() -> None:
    thread = made_thread([0, 10, 20, 30] + [60 * 5 + i for i in range(20)])
    data = chart_data(thread, {"c0": 1.0, "c1": -1.0})  # two: no mood anywhere
    assert all(m is None for m in data.mood)
    data = chart_data(thread, {"c0": 0.6, "c1": 0.6, "c2": 0.6})
    assert data.mood[0] == pytest.approx(0.6)
    assert data.mood[1] == pytest.approx(0.6)  # pooled from bin 0
    assert data.mood[2] is None
    # Weighed as digest.mood weighs a voice: (score + 1) ** 0.6.
    voted = replace(thread, comments=(replace(thread.comments[0], score=99), *thread.comments[1:]))
    data = chart_data(voted, {"c0": 1.0, "c1": -1.0, "c2": -1.0})
    heavy, light = 100**0.6, 2**0.6
    assert data.mood[0] == pytest.approx((heavy - 2 * light) / (heavy + 2 * light), abs=1e-4)


def test_a_long_tail_is_counted_not_drawn_and_long_lives_use_wider_bins() -> None:
    # 40 comments in the first 4 hours, then 2 a month later.
    minutes = [6 * i for i in range(40)] + [60 * 24 * 30, 60 * 24 * 31]
    data = chart_data(made_thread(minutes), {})
    assert data.counts == (10, 10, 10, 10)
    assert data.later == 2
    assert data.comments == 42
    # Activity spread evenly over ten days: 240 hours in bins of 3 hours (at most 96 bars).
    spread = chart_data(made_thread([60 * 6 * i for i in range(41)]), {})
    assert spread.bin_hours == 3
    assert len(spread.counts) <= 96
    assert sum(spread.counts) == 41
    assert spread.later == 0


def test_too_small_threads_are_not_charted() -> None:
    few = chart_data(made_thread([30 * i for i in range(MIN_COMMENTS - 1)]), {})
    assert few.too_small
    quick = chart_data(made_thread(list(range(50))), {})  # 50 comments in 49 minutes
    assert quick.too_small
    enough = chart_data(made_thread([6 * i for i in range(MIN_COMMENTS + 1)]), {})
    assert not enough.too_small
    assert chart_text("no_chart") == NO_CHART


def test_alt_text_says_the_peak_the_mood_turn_and_the_branches() -> None:
    data = ChartData(
        place="r/test", comments=120, span_hours=7.5, bin_hours=1,
        counts=(10, 50, 30, 10, 10, 5, 3, 2),
        mood=(0.3, 0.25, 0.2, 0.01, -0.2, -0.3, -0.3, None),
        branches=(), later=0,
    )  # fmt: skip
    text = alt_text(data)
    assert "Chart of 120 comments in r/test over 8 hours." in text
    assert "peaked 1 to 2 hours after the post, with 50 comments in that hour" in text
    assert "went from positive (+0.30) to negative (-0.30), negative from hour 4 on" in text
    steady = alt_text(
        ChartData("r/t", 30, 3.0, 2, (20, 10), (0.01, -0.02), (), 0)
    )  # fmt: skip
    assert "peaked 0 to 2 hours after the post, with 20 comments in those 2 hours" in steady
    assert "stayed neutral (+0.01 to -0.02)" in steady


def test_every_chart_word_comes_from_the_one_function() -> None:
    for key, template in CHART_TEXT.items():
        assert isinstance(key, str)
        assert template.strip()


def test_deep_reports_carry_their_chart_and_it_survives_the_cache() -> None:
    thread = thread_from_json(thread_json(400, seed=3))
    deep = ENGINE.digest_sync(thread, Depth.DEEP)
    assert ENGINE.digest_sync(thread, Depth.BRIEF).chart is None
    assert deep.chart is not None
    assert sum(deep.chart.counts) + deep.chart.later == 400
    again = codec.loads(Report, codec.dumps(deep))
    assert again.chart == deep.chart
    # A report cached before charts existed loads with none.
    stored = json.loads(codec.dumps(deep))
    del stored["chart"]
    assert codec.loads(Report, json.dumps(stored)).chart is None


# ----------------------------------------------------------------------------- the picture


@pytest.fixture(scope="module")
def big_chart() -> ChartData:
    thread = thread_from_json(thread_json(2000, seed=11))
    chart = ENGINE.digest_sync(thread, Depth.DEEP).chart
    assert chart is not None
    assert not chart.too_small
    return chart


def test_the_png_has_the_size_and_is_the_same_every_time(big_chart: ChartData) -> None:
    png = render_chart(big_chart)
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert 20_000 < len(png) < 300_000
    assert render_chart(big_chart) == png  # no time stamp, no version, no random ids
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=100_000)
    assert colours is not None
    assert len(colours) > 50  # drawn, not blank
    # A solid light card: every corner is the background.
    for corner in ((0, 0), (WIDTH_PX - 1, 0), (0, HEIGHT_PX - 1), (WIDTH_PX - 1, HEIGHT_PX - 1)):
        assert image.getpixel(corner) == (0xF7, 0xF7, 0xF5)


def test_the_chart_is_drawn_with_matplotlibs_own_dejavu() -> None:
    import matplotlib
    from matplotlib.font_manager import FontProperties, findfont

    assert Path(font_path()).is_file()
    assert Path(font_path()).is_relative_to(matplotlib.get_data_path())
    with matplotlib.rc_context({"font.family": "DejaVu Sans"}):
        assert findfont(FontProperties()) == font_path()


def test_labels_the_font_cannot_draw_are_cleaned_not_warned(big_chart: ChartData) -> None:
    """Reddit names and places reach the picture: an emoji, CJK and "$5" must draw without a
    missing-glyph warning (warnings are errors here) or mathtext."""
    branches = tuple(
        replace(b, label=f"u/名前🙂$5_{i}_{'x' * 40}") for i, b in enumerate(big_chart.branches)
    )
    hostile = replace(big_chart, place="r/日本語 $$ 🚀 \x00\n", branches=branches)
    assert png_size(render_chart(hostile)) == (WIDTH_PX, HEIGHT_PX)


def test_a_chart_with_no_mood_and_one_bar_still_draws() -> None:
    flat = ChartData("r/x", 25, 2.0, 1, (25,), (None,), (), 0)
    assert png_size(render_chart(flat)) == (WIDTH_PX, HEIGHT_PX)


@pytest.mark.skipif(not real_thread_files(), reason=NO_DATA_REASON)
def test_the_largest_real_thread_charts_like_the_readme_picture() -> None:
    """docs/chart-example.png is this chart; a tolerant comparison (a matplotlib or FreeType
    update may move a few pixels of anti-aliasing, not the picture)."""
    from PIL import Image, ImageChops

    path = largest_real_thread()
    assert path is not None
    thread = thread_from_json_text(path.read_bytes(), source=str(path))
    chart = ENGINE.digest_sync(thread, Depth.DEEP).chart
    assert chart is not None
    assert not chart.too_small
    png = render_chart(chart)
    assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert render_chart(chart) == png
    got = Image.open(io.BytesIO(png)).convert("L")
    golden = Image.open(DOCS_CHART).convert("L")
    assert golden.size == got.size
    diff = ImageChops.difference(got, golden)
    changed = sum(diff.histogram()[49:])  # pixels more than a faint edge apart
    assert changed / (WIDTH_PX * HEIGHT_PX) < 0.02


# ----------------------------------------------------------------------------- the CLI


def _example_file(tmp_path: Path, n: int, spread_s: int = 7) -> Path:
    raw: list[Any] = thread_json(n, seed=5)
    path = tmp_path / f"thread{n}.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_cli_writes_the_chart_of_a_deep_report(tmp_path: Path) -> None:
    thread = _example_file(tmp_path, 1500)
    out = tmp_path / "chart.png"
    result = CliRunner().invoke(
        app, ["digest", str(thread), "--depth", "deep", "--chart", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert png_size(out.read_bytes()) == (WIDTH_PX, HEIGHT_PX)
    assert f"Chart written to {out}" in result.stderr
    assert NO_CHART not in result.stdout


def test_cli_says_when_a_thread_is_too_small_to_chart(tmp_path: Path) -> None:
    thread = _example_file(tmp_path, 30)  # 30 comments within minutes
    out = tmp_path / "chart.png"
    result = CliRunner().invoke(
        app, ["digest", str(thread), "--depth", "deep", "--chart", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    assert not out.exists()
    assert NO_CHART in result.stderr
    assert NO_CHART in result.stdout  # the report says it too


def test_cli_chart_needs_a_deep_report(tmp_path: Path) -> None:
    thread = _example_file(tmp_path, 30)
    result = CliRunner().invoke(app, ["digest", str(thread), "--chart", str(tmp_path / "c.png")])
    assert result.exit_code != 0
    assert "--chart needs --depth deep" in result.stderr


# ----------------------------------------------------------------------------- cold paths


def test_a_deep_digest_without_chart_loads_no_matplotlib(tmp_path: Path) -> None:
    thread = _example_file(tmp_path, 200)
    result = _probe(tmp_path, "digest", str(thread), "--depth", "deep")
    assert result["status"] == 0
    assert "## 10. Other observations" in result["out"]
    assert result["loaded"] == []


def test_the_probe_sees_matplotlib_when_a_chart_is_drawn(tmp_path: Path) -> None:
    thread = _example_file(tmp_path, 1500)
    out = tmp_path / "c.png"
    result = _probe(tmp_path, "digest", str(thread), "--depth", "deep", "--chart", str(out))
    assert result["status"] == 0
    assert "matplotlib" in result["loaded"]
    assert out.read_bytes().startswith(PNG_SIGNATURE)
