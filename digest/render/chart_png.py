"""A deep report's chart as a PNG: `render_chart(ChartData) -> bytes`.

matplotlib is imported inside `render_chart` only (its import costs ~0.4 s and ~30 MB): the CLI's
brief path, the offline path and the bot's start never load it. It draws through the Agg canvas
directly (no pyplot, no global backend or figure state), with the DejaVu Sans that ships inside
matplotlib (no system font, no download), at a fixed size and DPI, and writes a PNG without the
version stamp: the same data gives the same bytes.

1200×800 px: three panels large enough to read in a chat's preview, on a solid light card with
mid-tone colours, so it reads the same in a light or a dark client. Every word comes from
`digest.chart_text.chart_text`.
"""

from __future__ import annotations

import functools
import gc
import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from digest.chart_data import ChartData
from digest.chart_text import chart_text
from digest.i18n import words
from digest.sentiment import NEGATIVE as NEGATIVE_LEAN
from digest.sentiment import POSITIVE as POSITIVE_LEAN

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DPI", "HEIGHT_PX", "WIDTH_PX", "font_path", "render_chart"]

WIDTH_PX: Final = 1200
HEIGHT_PX: Final = 800
DPI: Final = 100
FONT: Final = "DejaVu Sans"
LABEL_CHARS: Final = 30  # a branch's label is cut to this

BACKGROUND: Final = "#F7F7F5"
INK: Final = "#262626"
GRID: Final = "#D9D9D9"
BAND: Final = "#E8E8E4"
MUTED: Final = "#6E6E6E"
ACTIVITY: Final = "#4C78A8"
POSITIVE: Final = "#3A923A"
NEGATIVE: Final = "#D1495B"
BRANCH: Final = "#E08A2B"
REST: Final = "#A0A0A0"

# (Any: matplotlib types its keys as a Literal of every rcParam name.)
_RC: Final[Any] = {
    "font.family": FONT,
    "font.size": 15,
    "axes.titlesize": 17,
    "axes.titleweight": "bold",
    "axes.labelsize": 15,
    "xtick.labelsize": 13,
    "ytick.labelsize": 13,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.facecolor": BACKGROUND,
    "figure.facecolor": BACKGROUND,
    "savefig.facecolor": BACKGROUND,
    "text.usetex": False,
    "text.parse_math": False,  # "$5 vs $10" in a label is text, not mathtext
    "path.simplify": True,
    "agg.path.chunksize": 0,
}


def font_path() -> str:
    """The DejaVu Sans file every chart is drawn with (matplotlib's own copy)."""
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")


@functools.cache
def _glyphs() -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(font_path()).get_charmap())


def _plain(text: str, limit: int | None = None) -> str:
    """`text` as the font can draw it: characters it has no glyph for dropped (a missing glyph is
    a warning and an empty box), cut to `limit`."""
    glyphs = _glyphs()
    out = "".join(ch for ch in text if ord(ch) in glyphs and ch.isprintable()).strip()
    if limit is not None and len(out) > limit:
        out = out[: limit - 1].rstrip() + "…"
    return out


def _t(data: ChartData, key: str, **values: object) -> str:
    """The chart's words in the report's language; English for Japanese, whose glyphs the
    bundled DejaVu font does not have (the alt text and the post's words are in Japanese)."""
    return chart_text(key, "en" if data.lang == "ja" else data.lang, data.context, **values)


def _who(data: ChartData, label: str) -> str:
    """A branch's starter: a name as it is, "a deleted account" in the chart's language."""
    return words("en" if data.lang == "ja" else data.lang, data.context).tr(label)


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes (WIDTH_PX × HEIGHT_PX)."""
    png = _draw(data)
    # A figure is a web of reference cycles (its canvas and 4 MB of pixels among them): freed
    # now, not at some later collection, a worker's RSS stays flat draw after draw (ten draws
    # in a row peaked ~30 MB higher without this; bench/chart.py).
    gc.collect(1)
    return png


def _draw(data: ChartData) -> bytes:
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        FigureCanvasAgg(fig)
        # Titles are plain texts placed by hand: an Axes title is re-placed at every draw to
        # clear the tick labels, which was a third of the time.
        title = _t(data, "title", place=data.place, comments=f"{data.comments:,}")
        fig.text(0.5, 0.965, _plain(title, 70), ha="center", va="top", fontsize=21,
                 fontweight="bold")  # fmt: skip
        activity = fig.add_axes((0.075, 0.52, 0.54, 0.33))
        mood = fig.add_axes((0.075, 0.1, 0.54, 0.28))
        branches = fig.add_axes((0.685, 0.04, 0.29, 0.81))
        _activity(activity, data)
        _mood(mood, data)
        _branches(branches, data)
        out = io.BytesIO()
        # zlib level 3: a third of the encoding time of the default 6, a few KB more.
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None},
                    pil_kwargs={"compress_level": 3})  # fmt: skip
    return out.getvalue()


def _bars(
    ax: Axes,
    xs: Sequence[float],
    heights: Sequence[float],
    width: float,
    colours: Sequence[str],
    *,
    horizontal: bool = False,
) -> None:
    """Bars as one collection of rectangles (ax.bar makes an artist per bar: a third of the
    drawing time at a hundred bars)."""
    from matplotlib.collections import PolyCollection

    boxes = [
        [(0, x), (h, x), (h, x + width), (0, x + width)]
        if horizontal
        else [(x, 0), (x + width, 0), (x + width, h), (x, h)]
        for x, h in zip(xs, heights, strict=True)
    ]
    ax.add_collection(PolyCollection(boxes, facecolors=colours, linewidths=0), autolim=False)


def _title(ax: Axes, text: str) -> None:
    ax.text(0, 1.04, _plain(text), transform=ax.transAxes, fontsize=17, fontweight="bold",
            va="bottom", ha="left")  # fmt: skip


def _frame(ax: Axes, data: ChartData) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.grid(axis="y", color=GRID, linewidth=1)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-0.02 * len(data.counts) * data.bin_hours, len(data.counts) * data.bin_hours)
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(4))
    ax.axvline(0, color=INK, linewidth=2)


def _activity(ax: Axes, data: ChartData) -> None:
    w = data.bin_hours
    starts = [i * w for i in range(len(data.counts))]
    _bars(ax, starts, data.counts, w * 0.9, [ACTIVITY])
    if w == 1:
        _title(ax, _t(data, "activity_title"))
    else:
        _title(ax, _t(data, "activity_title_bins", hours=w))
    ax.set_ylabel(_t(data, "activity_axis"))
    ax.set_ylim(0, max([1, *data.counts]) * 1.12)
    _frame(ax, data)
    ax.text(0, 1.0, " " + _t(data, "post_marker"), transform=ax.get_xaxis_transform(),
            va="top", ha="left", fontsize=14, fontweight="bold",
            bbox={"facecolor": BACKGROUND, "edgecolor": "none", "pad": 1})  # fmt: skip
    if data.later:
        ax.text(1, 1.04, _t(data, "later", later=f"{data.later:,}"), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=13)  # fmt: skip
    ax.xaxis.set_visible(False)  # the mood panel below has the same hours


def _mood(ax: Axes, data: ChartData) -> None:
    """A bar per bin, up (green) where the mood leans positive, down (red) where negative."""
    w = data.bin_hours
    xs = [i * w for i, m in enumerate(data.mood) if m is not None]
    ys = [m for m in data.mood if m is not None]
    top = max([0.3, *(abs(y) * 1.15 for y in ys)])
    ax.set_ylim(-top, top)
    # The band a mood must leave to lean (digest.sentiment.label): inside it reads as neutral.
    ax.axhspan(NEGATIVE_LEAN, POSITIVE_LEAN, color=BAND, linewidth=0)
    ax.text(0.99, POSITIVE_LEAN, _t(data, "mood_neutral"), transform=ax.get_yaxis_transform(),
            va="top", ha="right", color=MUTED, fontsize=13, fontweight="bold")  # fmt: skip
    ax.axhline(0, color=INK, linewidth=1)
    _bars(ax, xs, ys, w * 0.9, [POSITIVE if y >= 0 else NEGATIVE for y in ys])
    ax.text(0.99, 0.97, _t(data, "mood_positive"), transform=ax.transAxes, va="top",
            ha="right", color=POSITIVE, fontsize=13, fontweight="bold")  # fmt: skip
    ax.text(0.99, 0.03, _t(data, "mood_negative"), transform=ax.transAxes, va="bottom",
            ha="right", color=NEGATIVE, fontsize=13, fontweight="bold")  # fmt: skip
    _title(ax, _t(data, "mood_title"))
    ax.set_xlabel(_t(data, "hours_axis"))
    _frame(ax, data)
    # Its numbers (-1..1) mean little to a reader; the words on the right say which way is up.
    ax.yaxis.set_visible(False)
    ax.spines["left"].set_visible(False)


def _branches(ax: Axes, data: ChartData) -> None:
    """One bar per branch, its label above it (no tick labels: they would take the room)."""
    labels = [
        _plain(
            _t(data, "branch_label", who=_who(data, b.label), comments=f"{b.comments:,}"),
            LABEL_CHARS,
        )
        for b in data.branches
    ]
    shares = [b.share * 100 for b in data.branches]
    colours = [BRANCH] * len(shares)
    rest = max(100 - sum(shares), 0.0)
    if rest > 0.05:
        labels.append(_plain(_t(data, "branches_rest")))
        shares.append(rest)
        colours.append(REST)
    ys = list(range(len(shares)))
    _bars(ax, [y - 0.25 for y in ys], shares, 0.5, colours, horizontal=True)
    ax.set_ylim(len(shares) - 0.5, -0.95)
    ax.set_xlim(0, max([10.0, *shares]) * 1.22)
    for y, share, text in zip(ys, shares, labels, strict=True):
        ax.text(0, y - 0.3, text, va="bottom", ha="left", fontsize=14)
        ax.text(share + 0.8, y, f"{share:.0f}%", va="center", fontsize=14, fontweight="bold")
    _title(ax, _t(data, "branches_title"))
    ax.text(0, 1.035, _plain(_t(data, "branches_subtitle")), transform=ax.transAxes,
            fontsize=12, va="top", ha="left")  # fmt: skip
    ax.set_axis_off()  # no ticks to make: a line where the bars start
    ax.axvline(0, color=INK, linewidth=1)
