"""bench/reddit_fetch.py's cases: its sizes and targets, the recorded threads and the synthetic
trees it registers on the fake Reddit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.reddit_common import PRAW_RECORDINGS, RecordedSpec, load_recording
from digest.report import Depth
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post

DEPTHS = (Depth.BRIEF, Depth.DEEP)
SYNTHETIC_SIZES = (1_000, 5_000, 20_000)
SYNTHETIC_SEED = 11
TARGET_SHARE = 0.90  # the project's target for depth deep ...
TARGET_REQUESTS = 12  # ... within this many API requests
BUDGETED_RUNS = 3  # wall ms: best of this many runs (counts come from the first)
NAIVE_RUNS = 3  # the same for the naive way, while one naive run stays under NAIVE_REPEAT_MAX_S
NAIVE_REPEAT_MAX_S = 3.0
NAIVE_TIMEOUT_S = 90.0  # the naive replace_more is cut off after this long


# --- cases -----------------------------------------------------------------------------------


RECORDED = (
    *PRAW_RECORDINGS,
    RecordedSpec(
        "localllama/localllama_1ibk9us.json",
        remark="no morechildren or continue pages were recorded: the fake answers every "
        "morechildren call with nothing and every continue-this-thread page with 404",
    ),
    RecordedSpec(
        "ocaml-reddit-api/nfl_g7vyxy_2020.json",
        "ocaml-reddit-api/nfl_g7vyxy_2020_morechildren.json",
        remark="one morechildren answer was recorded (no request, no continue pages): the fake "
        "assembles answers from it, so only the comments in it can be reached",
    ),
)


@dataclass(slots=True)
class Case:
    """One thread registered on the fake server."""

    name: str
    post_id: str
    size: int  # Reddit's num_comments (recorded) or the generated tree's size (synthetic)
    truth: dict[str, int] | None  # every comment's score, when known without fetching
    recorded: bool
    remark: str | None = None
    parents: dict[str, str] = field(default_factory=dict)  # id → parent fullname (synthetic)


def add_recorded(fake: FakeReddit, reddit_dir: Path, spec: RecordedSpec) -> Case:
    rec = load_recording(reddit_dir, spec)
    fake.add_thread(rec.raw, rec.pairs, rec.continues)
    name = Path(spec.thread).with_suffix("").as_posix()
    return Case(name, rec.post_id, rec.size, None, recorded=True, remark=spec.remark)


def add_synthetic(fake: FakeReddit, size: int, reply_decay: float | None = None) -> Case:
    """reply_decay None: every score independent of the tree (worst case); a number: replies
    mostly score below their parent, as on Reddit (see generate_comment_tree)."""
    post_id = f"syn{size}{'r' if reply_decay else ''}"
    comments = generate_comment_tree(
        post_id, size, seed=SYNTHETIC_SEED, subreddit="bench", reply_decay=reply_decay
    )
    fake.add_full_thread(make_post(post_id, subreddit="bench", title="Synthetic"), comments)
    truth = {str(c["id"]): int(c["score"]) for c in comments}
    parents = {str(c["id"]): str(c["parent_id"] or f"t3_{post_id}") for c in comments}
    label = f"synthetic {size:,}" + (" (replies decay)" if reply_decay else " (independent scores)")
    return Case(label, post_id, size, truth, recorded=False, parents=parents)
