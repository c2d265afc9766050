"""Benchmark of the offline digest pipeline: JSON text → Thread → report → markdown, depth deep.

For every real thread file under ../shared/data/reddit and for synthetic threads of 1k, 10k and 50k
comments it times each stage (best of a few runs), measures the peak memory of the whole pipeline
in a separate tracemalloc run, and compares with the naive way: the same pipeline with a budget so
large that every comment is analysed.

Then, each in a process of its own, the brief's length (median and max over the real threads) and
the deep analysis time and whole-process peak RSS at 1k and 10k comments; with
REDIGEST_BENCH_BEFORE=<an older checkout> (or `python -m bench.offline_pipeline --before PATH`)
the same figures for that code, to read before and after off one run.

Run it with `python -m bench offline` (or `python -m bench`) from the repository root.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json_text
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


def shared_data_dir() -> Path:
    """../shared/data next to the repository (the repository is bench/'s parent)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


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


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc={cpus}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
    )


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
            _progress(f"[bench offline] {name}")
            results.append(pipeline.measure(name, data, _count_comments(data)))

    for size in SYNTHETIC_SIZES:
        _progress(f"[bench offline] synthetic {size:,} comments")
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
    print(format_table(before_after(Path(before) if before else None)))
    print()
    print(f"benchmark wall time: {time.perf_counter() - started:,.0f} s")
    return 0


# --- before/after: brief length, analysis time and whole-process peak RSS --------------------
#
# Each code tree (this one, and optionally an older checkout given with --before, e.g. made with
# `git worktree add /tmp/before <commit>`) runs in a fresh process of its own, so its peak RSS
# is the whole process's (imports included) and nothing of one tree leaks into the other.

_CHILD = r"""
import gc, json, resource, statistics, sys, time
from pathlib import Path
from adapters.reddit_source.thread_json import thread_from_json_text
from digest.analysis import NarrativeResult
from digest.offline import OfflineAnalyzer
from digest.pipeline import DigestEngine, assemble
from digest.render.markdown import render_markdown
from digest.report import Depth

job = json.loads(sys.argv[1])
engine, analyzer = DigestEngine(), OfflineAnalyzer()
out = {}
if job["real"]:
    lengths = []
    for path in job["real"]:
        thread = thread_from_json_text(Path(path).read_bytes())
        lengths.append(len(render_markdown(engine.digest_sync(thread, Depth.BRIEF))))
    out["brief_median"] = statistics.median(lengths)
    out["brief_max"] = max(lengths)
    out["threads"] = len(lengths)
if job["synthetic"]:
    thread = thread_from_json_text(Path(job["synthetic"]).read_bytes())
    best = None
    for _ in range(job["runs"]):
        gc.collect()
        t0 = time.perf_counter()
        inp = engine.prepare(thread, Depth.DEEP, job["budget"])
        report = assemble(inp, NarrativeResult(analyzer.narrate_sync(inp)), analyzer.name)
        took = time.perf_counter() - t0
        best = took if best is None else min(best, took)
    out["analysis_s"] = best
    out["analysed"] = report.coverage.analyzed
    out["comments"] = len(thread.comments)
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(root: Path, job: dict[str, object]) -> dict[str, float]:
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(job)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def before_after(before: Path | None, sizes: tuple[int, ...] = (1_000, 10_000)) -> list[Row]:
    """Rows for this tree and `before`: brief length over the real threads, and per synthetic
    size the deep analysis (prepare + offline narrative + assembly, best of 3) with the default
    budget and with every comment, each with its process's peak RSS."""
    import tempfile

    trees = [("after", Path(__file__).resolve().parents[1])]
    if before is not None:
        trees.insert(0, ("before", before.resolve()))
    rows: list[Row] = []
    data_dir = shared_data_dir()
    files = [str(p) for p in real_thread_files(data_dir)] if data_dir.is_dir() else []
    for label, root in trees:
        if files:
            _progress(f"[bench offline] brief lengths, {label}")
            r = _child(root, {"real": files, "synthetic": None})
            n = f"{int(r['threads']):,}"
            rows.append(
                (label, "brief length median", n, f"{r['brief_median']:,.0f}", "chars", "", "")
            )
            rows.append((label, "brief length max", n, f"{r['brief_max']:,.0f}", "chars", "", ""))
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = Path(tmp) / f"synthetic_{size}.json"
            path.write_text(json.dumps(thread_json(size, seed=0)))
            for label, root in trees:
                for how, budget in (("default budget", None), ("every comment", NAIVE_BUDGET)):
                    _progress(f"[bench offline] {label}: {size:,} comments, {how}")
                    r = _child(
                        root, {"real": [], "synthetic": str(path), "runs": 3, "budget": budget}
                    )
                    what = f"analysis, {how} ({int(r['analysed']):,} analysed)"
                    n = f"{int(r['comments']):,}"
                    rows.append((label, what + " ms", n, _ms(r["analysis_s"]), "ms", "", ""))
                    rows.append(
                        (label, what + " peak RSS", n, f"{r['peak_rss_mib']:,.0f}", "MiB", "", "")
                    )
    return rows


def compare_main(argv: list[str] | None = None) -> int:
    """`python -m bench.offline_pipeline [--before PATH]`: the before/after table only."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.offline_pipeline")
    parser.add_argument("--before", type=Path, help="an older checkout of the repository")
    args = parser.parse_args(argv)
    print(machine())
    print(format_table(before_after(args.before)))
    return 0


if __name__ == "__main__":
    sys.exit(compare_main())
