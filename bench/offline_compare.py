"""Before and after: the brief's length over the real threads, and the deep analysis time (best and
median of a few runs) and whole-process peak RSS at 1k and 10k synthetic comments, for this tree
and older checkouts (`python -m bench.offline_pipeline --before [LABEL=]PATH`, repeatable; also
printed by `python -m bench offline`, with REDIGEST_BENCH_BEFORE=PATH).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import REPO, machine, progress, shared_data_dir
from bench.offline_pipeline import NAIVE_BUDGET, Row, _ms, format_table, real_thread_files
from tests.support.synthetic import thread_json

# Each code tree (this one, and older checkouts given with --before, e.g. made with
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
    took = []
    for _ in range(job["runs"]):
        gc.collect()
        t0 = time.perf_counter()
        inp = engine.prepare(thread, Depth.DEEP, job["budget"])
        report = assemble(inp, NarrativeResult(analyzer.narrate_sync(inp)), analyzer.name)
        took.append(time.perf_counter() - t0)
    out["analysis_s"] = min(took)
    out["median_s"] = statistics.median(took)
    out["analysed"] = report.coverage.analyzed
    out["comments"] = len(thread.comments)
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _child(root: Path, job: dict[str, object]) -> dict[str, float]:
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


def before_after(
    before: Path | list[tuple[str, Path]] | None,
    sizes: tuple[int, ...] = (1_000, 10_000),
    runs: int = 3,
) -> list[Row]:
    """Rows for this tree and the older ones (`before`: a path, or (label, path) pairs): brief
    length over the real threads, and per synthetic size the deep analysis (prepare + offline
    narrative + assembly; best and median of `runs`) with the default budget and with every
    comment, each with its process's peak RSS."""
    import tempfile

    if isinstance(before, Path):
        before = [("before", before)]
    trees = [*((label, path.resolve()) for label, path in before or ()), ("after", REPO)]
    rows: list[Row] = []
    data_dir = shared_data_dir()
    files = [str(p) for p in real_thread_files(data_dir)] if data_dir.is_dir() else []
    for label, root in trees:
        if files:
            progress(f"[bench offline] brief lengths, {label}")
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
                    progress(f"[bench offline] {label}: {size:,} comments, {how}")
                    job = {"real": [], "synthetic": str(path), "runs": runs, "budget": budget}
                    r = _child(root, job)
                    what = f"analysis, {how} ({int(r['analysed']):,} analysed)"
                    n = f"{int(r['comments']):,}"
                    rows.append((label, what + " ms", n, _ms(r["analysis_s"]), "ms", "", ""))
                    median = (label, f"{what} ms, median of {runs}", n, _ms(r["median_s"]))
                    rows.append((*median, "ms", "", ""))
                    rows.append(
                        (label, what + " peak RSS", n, f"{r['peak_rss_mib']:,.0f}", "MiB", "", "")
                    )
    return rows


def _tree(spec: str) -> tuple[str, Path]:
    label, _, path = spec.rpartition("=")
    return label or Path(path).name, Path(path)


def compare_main(argv: list[str] | None = None) -> int:
    """`python -m bench.offline_pipeline [--before [LABEL=]PATH ...] [--runs N] [--sizes ...]`:
    the before/after table only (the trees in the order given, this one last, as "after")."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.offline_pipeline")
    parser.add_argument(
        "--before",
        type=_tree,
        action="append",
        metavar="[LABEL=]PATH",
        help="an older checkout of the repository (repeatable; e.g. v1=/tmp/wt-698d161)",
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per case (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args(argv)
    print(machine(), f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(format_table(before_after(args.before, tuple(args.sizes), args.runs)))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0
