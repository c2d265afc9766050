"""Benchmark of the offline digest pipeline: JSON text → Thread → report → markdown, depth deep.

For every real thread file under ../shared/data/reddit and for synthetic threads of 1k, 10k and 50k
comments it times each stage (best of a few runs), measures the peak memory of the whole pipeline
in a separate tracemalloc run, and compares with the naive way: the same pipeline with a budget so
large that every comment is analysed.

Then, each in a process of its own, the brief's length (median and max over the real threads) and
the deep analysis time (best and median of a few runs) and whole-process peak RSS at 1k and 10k
comments; with REDIGEST_BENCH_BEFORE=<an older checkout> (or `python -m bench.offline_pipeline
--before [LABEL=]PATH`, repeatable) the same figures for that code, to read before and after off
one run.

Run it with `python -m bench offline` (or `python -m bench`) from the repository root.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json_text
from bench.common import machine, progress, shared_data_dir
from digest.analysis import NarrativeResult
from digest.offline import OfflineAnalyzer
from digest.pipeline import DigestEngine, assemble
from digest.render.markdown import render_markdown
from digest.report import Depth
from tests.support.synthetic import thread_json

DEPTH = Depth.DEEP
NAIVE_BUDGET = 10**9  # large enough that every comment with text is analysed
SYNTHETIC_SIZES = (1_000, 10_000, 50_000)
# Under tracemalloc the naive run is ~5x slower (about 80 s at 50k comments): skip it above this.
NAIVE_MEMORY_MAX_COMMENTS = 10_000


def real_thread_files(data_dir: Path) -> list[Path]:
    """Thread files of reddit/<collection>/*.json, without morechildren replies and cassettes."""
    reddit = data_dir / "reddit"
    return sorted(
        p
        for p in reddit.glob("*/*.json")
        if p.is_file() and "morechildren" not in p.name and p.parent.name != "cassettes"
    )


def repeats(n_comments: int, *, naive: bool) -> int:
    """How many timing runs a case gets (the best is reported); fewer for the slow ones."""
    if naive:
        return 3 if n_comments <= 2_000 else 2 if n_comments <= 10_000 else 1
    return 3 if n_comments <= 10_000 else 2


@dataclass(frozen=True, slots=True)
class Run:
    """One pass of the pipeline; times in seconds."""

    parse: float
    prepare: float
    analyse: float  # offline narrative + assembly (grounding included)
    render: float
    comments: int  # comments in the parsed thread
    analysed: int  # comments the analyser read

    @property
    def total(self) -> float:
        return self.parse + self.prepare + self.analyse + self.render


@dataclass(frozen=True, slots=True)
class Result:
    best: Run  # the run with the lowest total
    runs: int
    peak_mib: float | None  # None: not measured


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    budgeted: Result
    naive: Result


class Pipeline:
    """The offline path of DigestEngine.digest_sync, split into timed stages."""

    def __init__(self) -> None:
        self.engine = DigestEngine()  # loads the VADER lexicon: build once
        self.analyzer = OfflineAnalyzer()

    def run(self, text: str | bytes, source: str, budget: int | None) -> Run:
        clock = time.perf_counter
        t0 = clock()
        thread = thread_from_json_text(text, source=source)
        t1 = clock()
        inp = self.engine.prepare(thread, DEPTH, budget)
        t2 = clock()
        narrative = self.analyzer.narrate_sync(inp)
        report = assemble(inp, NarrativeResult(narrative), self.analyzer.name)
        t3 = clock()
        markdown = render_markdown(report)
        t4 = clock()
        if not markdown:
            raise RuntimeError(f"{source}: empty markdown")
        return Run(
            parse=t1 - t0,
            prepare=t2 - t1,
            analyse=t3 - t2,
            render=t4 - t3,
            comments=len(thread.comments),
            analysed=report.coverage.analyzed,
        )

    def best_of(self, text: str | bytes, source: str, budget: int | None, runs: int) -> Run:
        best: Run | None = None
        for _ in range(runs):
            gc.collect()  # start each run from the same heap state
            run = self.run(text, source, budget)
            if best is None or run.total < best.total:
                best = run
        assert best is not None
        return best

    def peak_mib(self, text: str | bytes, source: str, budget: int | None) -> float:
        """Peak traced memory of one whole pipeline run (the input text is not counted)."""
        gc.collect()
        tracemalloc.start()
        try:
            self.run(text, source, budget)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return peak / 2**20

    def measure(self, name: str, text: str | bytes, size_hint: int) -> CaseResult:
        """`size_hint`: the comment count, used to choose the number of runs."""
        budgeted_runs = repeats(size_hint, naive=False)
        budgeted = self.best_of(text, name, None, budgeted_runs)
        budgeted_peak = self.peak_mib(text, name, None)
        naive_runs = repeats(size_hint, naive=True)
        naive = self.best_of(text, name, NAIVE_BUDGET, naive_runs)
        naive_peak = (
            self.peak_mib(text, name, NAIVE_BUDGET)
            if naive.comments <= NAIVE_MEMORY_MAX_COMMENTS
            else None
        )
        return CaseResult(
            name,
            Result(budgeted, budgeted_runs, budgeted_peak),
            Result(naive, naive_runs, naive_peak),
        )


def real_cases(files: list[Path], root: Path) -> Iterator[tuple[str, bytes]]:
    for path in files:
        yield path.relative_to(root).with_suffix("").as_posix(), path.read_bytes()


def _count_comments(text: bytes) -> int:
    return len(thread_from_json_text(text).comments)


# --- the table -------------------------------------------------------------------------------

Row = tuple[str, str, str, str, str, str, str]
HEADER: Row = ("thread", "what", "n", "figure", "unit", "naive", "naive/figure")


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:,.2f}" if ms < 10 else f"{ms:,.1f}" if ms < 1000 else f"{ms:,.0f}"


def _ratio(figure: float, naive: float | None) -> str:
    if naive is None or figure <= 0:
        return "—"
    return f"{naive / figure:,.1f}×"


def rows_of(case: CaseResult) -> list[Row]:
    b, nv = case.budgeted.best, case.naive.best
    n = f"{b.comments:,}"
    stages: list[tuple[str, Callable[[Run], float]]] = [
        ("parse", lambda r: r.parse),
        ("prepare (stats+select+sentiment)", lambda r: r.prepare),
        ("offline analysis + assembly", lambda r: r.analyse),
        ("render markdown", lambda r: r.render),
        ("total", lambda r: r.total),
    ]
    rows: list[Row] = [
        (case.name, f"{label} ms", n, _ms(get(b)), "ms", _ms(get(nv)), _ratio(get(b), get(nv)))
        for label, get in stages
    ]
    bp, np_ = case.budgeted.peak_mib, case.naive.peak_mib
    rows.append(
        (
            case.name,
            "peak MiB",
            n,
            f"{bp:,.1f}" if bp is not None else "—",
            "MiB",
            f"{np_:,.1f}" if np_ is not None else "not measured",
            _ratio(bp, np_) if bp is not None else "—",
        )
    )
    rows.append(
        (
            case.name,
            "analysed comments",
            n,
            f"{b.analysed:,}",
            "comments",
            f"{nv.analysed:,}",
            _ratio(b.analysed, nv.analysed),
        )
    )
    return rows


def format_table(rows: list[Row]) -> str:
    table = [HEADER, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    numeric = {2, 3, 5, 6}  # right-aligned columns

    def line(row: Row) -> str:
        cells = (
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        )
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(HEADER), rule]
    previous = ""
    for row in rows:
        if previous and row[0] != previous:
            out.append("")
        out.append(line(row))
        previous = row[0]
    return "\n".join(out)


def main() -> int:
    started = time.perf_counter()
    print(machine())
    pipeline = Pipeline()
    budget = pipeline.engine.budgets.for_depth(DEPTH)
    print(
        f"pipeline: offline analyser, depth {DEPTH.value}; figure = default budget "
        f"({budget:,} tokens), naive = budget {NAIVE_BUDGET:,} (every comment analysed)"
    )
    print(
        "times: best total of 3 runs (2 above 10k comments; naive: 3 up to 2k comments, 2 up "
        "to 10k, 1 above), stage times from that run; peak MiB: one separate tracemalloc run "
        f"(naive only up to {NAIVE_MEMORY_MAX_COMMENTS:,} comments)"
    )
    notes: list[str] = []
    results: list[CaseResult] = []

    data_dir = shared_data_dir()
    if not data_dir.is_dir():
        notes.append(f"real threads: skipped — {data_dir} does not exist (no shared data here)")
    else:
        files = real_thread_files(data_dir)
        if not files:
            notes.append(f"real threads: skipped — no thread files in {data_dir / 'reddit'}/*/")
        for name, data in real_cases(files, data_dir / "reddit"):
            progress(f"[bench offline] {name}")
            results.append(pipeline.measure(name, data, _count_comments(data)))

    for size in SYNTHETIC_SIZES:
        progress(f"[bench offline] synthetic {size:,} comments")
        text = json.dumps(thread_json(size, seed=0))
        results.append(pipeline.measure(f"synthetic {size:,}", text, size))
        del text

    for note in notes:
        print(note)
    print()
    print(format_table([row for case in results for row in rows_of(case)]))
    print()
    before = os.environ.get("REDIGEST_BENCH_BEFORE")  # an older checkout to compare with
    print("brief length, and deep analysis time and whole-process peak RSS (own process each):")
    from bench.offline_compare import before_after  # (it imports this module)

    print(format_table(before_after(Path(before) if before else None)))
    print()
    print(f"benchmark wall time: {time.perf_counter() - started:,.0f} s")
    return 0


def compare_main(argv: list[str] | None = None) -> int:
    """`python -m bench.offline_pipeline [--before [LABEL=]PATH ...]`: see bench.offline_compare."""
    from bench.offline_compare import compare_main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(compare_main())
