"""The offline analyser v2 of issue 14: each case a careful reader found on the real r/LocalLLaMA
threads (../shared/data/reddit/localllama; those tests skip without it), plus the rules behind
them on small synthetic comments, and determinism.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from adapters.reddit_source.thread_json import thread_from_json_text
from digest.errors import ThreadDataError
from digest.model import Thread
from digest.mood import read
from digest.pipeline import DigestEngine
from digest.render.json_report import render_json
from digest.render.markdown import render_markdown
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.takeaways import kind
from tests.conftest import NO_DATA_REASON, REDDIT_DATA, REPO

LOCALLLAMA = REDDIT_DATA / "localllama"
needs_data = pytest.mark.skipif(not LOCALLLAMA.is_dir(), reason=NO_DATA_REASON)
SCORER = make_scorer()


@cache
def _engine() -> DigestEngine:
    return DigestEngine(scorer=SCORER)


@cache
def thread(name: str) -> Thread:
    path = LOCALLLAMA / f"localllama_{name}.json"
    return thread_from_json_text(path.read_bytes(), source=str(path))


@cache
def report(name: str, depth: Depth) -> Report:
    return _engine().digest_sync(thread(name), depth)


def by(t: Thread, author: str, start: str = "") -> str:
    (cid,) = [c.id for c in t.comments if c.author == author and c.body.startswith(start)]
    return cid


def localllama() -> list[str]:
    return sorted(p.stem.removeprefix("localllama_") for p in LOCALLLAMA.glob("*.json"))


# Mood that reads Reddit.


@needs_data
def test_a_thread_whose_top_comments_call_it_unusable_is_not_positive_1lpm6cv() -> None:
    """Top comments: "really poor, totally unusable" (33 points), "Except they mixed Chinese
    characters… lmao" (30); the OP's reply at -12. Before: "The mood is positive"."""
    r = report("1lpm6cv", Depth.BRIEF)
    assert r.sentiment.label in ("negative", "mixed")
    assert "u/condition_oakland" in r.sentiment_reading
    t = thread("1lpm6cv")
    assert r.sentiment.per_comment[by(t, "condition_oakland")] < 0
    assert r.sentiment.per_comment[by(t, "Lyroxide")] < 0  # "… lmao" is not praise


@needs_data
def test_the_mood_is_not_positive_everywhere() -> None:
    """Before: "positive" for 9 of the 10 threads."""
    labels = [report(name, Depth.BRIEF).sentiment.label for name in localllama()]
    assert labels.count("positive") <= 5, labels


@needs_data
def test_the_gpt_oss_release_reads_as_split_1miezct() -> None:
    """Praise for the release and its licence, and a censorship pile-on, among the top voices."""
    r = report("1miezct", Depth.DEEP)
    assert r.sentiment.label == "mixed"
    assert r.sentiment.split
    assert "split" in r.sentiment_reading


def test_laughter_and_sarcasm_are_not_praise() -> None:
    assert SCORER.polarity_scores("it runs lmao")["compound"] == 0  # re-scored lexicon
    lmao = read("Except they mixed Chinese characters in the Japanese text lmao", SCORER)
    assert lmao.polarity < 0
    assert lmao.stance == "critical"
    assert read("lol", SCORER).polarity == 0
    assert read("Great, another closed model. /s", SCORER).polarity < 0
    assert read("New amazing open source model\n\nLook inside\n\nLobotomized", SCORER).polarity < 0


def test_questions_are_neither_positive_nor_negative() -> None:
    tone = read("Is llama.cpp done? Where did you try?", SCORER)
    assert tone.stance == "question"
    assert tone.polarity == 0


def test_a_problem_named_in_advice_is_not_hostility() -> None:
    advice = "Annoying, but set the context to 8k and you are fine."
    assert SCORER.polarity_scores("Annoying, but set the context")["compound"] < -0.05
    assert read(advice, SCORER).stance != "critical"
    concession = "While annoying, this change is probably better long term."
    assert read(concession, SCORER).polarity > 0


# Themes that are topics.


@needs_data
def test_the_censorship_complaints_are_a_named_theme_1miezct() -> None:
    """Some 25 comments complain that gpt-oss is censored. Before: themes "model", "20b",
    "run", "benchmark" and no word of censorship."""
    r = report("1miezct", Depth.DEEP)
    (theme,) = [t for t in r.themes if re.search(r"censor|safety|refus", t.name, re.I)]
    n = int(re.match(r"Raised in (\d+)", theme.summary).group(1))  # type: ignore[union-attr]
    assert n >= 15
    assert "critical" in theme.summary
    assert theme.examples


@needs_data
def test_themes_are_not_general_words() -> None:
    """Before: "model", "run", "try", "20b" led."""
    for name in localllama():
        for depth in Depth:
            for t in report(name, depth).themes:
                assert t.name.lower() not in {"model", "models", "run", "try", "20b"}, (name, t)
                assert not re.fullmatch(r"\d+[a-z]?", t.name.lower()), (name, t)
                assert t.examples, (name, t.name)


@needs_data
def test_theme_names_say_the_phrase_people_use_not_a_code_1lpm6cv() -> None:
    """Before: "characters" (people wrote "Chinese characters") and "424BA47" (a model code)."""
    names = [t.name for t in report("1lpm6cv", Depth.DEEP).themes]
    assert "Chinese characters" in names, names
    assert not any(re.fullmatch(r"[\dA-Za-z]*\d[A-Za-z]+\d[\dA-Za-z]*", n) for n in names), names


@needs_data
def test_words_only_ever_written_as_verb_forms_or_qualities_name_no_theme() -> None:
    """Before: "creating" (redditdev), "useful" and "finished" (stardewvalley), "satisfying"
    named themes; each is only ever written in that form, so it names no topic."""
    before = {"creating", "useful", "finished", "satisfying"}
    for path in sorted(REDDIT_DATA.rglob("*.json")):
        try:
            t = thread_from_json_text(path.read_text(encoding="utf-8"))
        except ThreadDataError:
            continue  # a listing or an API answer beside the threads, not a thread
        for theme in _engine().digest_sync(t, Depth.DEEP).themes:
            assert not set(theme.name.split(" / ")) & before, (path.name, theme.name)


# A summary that covers the claim, the positions and the counterpoint.


@needs_data
def test_the_summary_states_the_claim_and_the_strongest_counterpoint_1lpm6cv() -> None:
    """Before: the post's first words "图中文本转录如下：" (a transcription it quotes) and no
    counterpoint."""
    r = report("1lpm6cv", Depth.DEEP)
    claim = r.summary[0]
    assert claim.quote is not None
    assert "hidden gem" in claim.quote.text
    counter = [p for p in r.summary if p.text.startswith("The strongest counterpoint")]
    assert len(counter) == 1
    assert counter[0].quote is not None
    assert r.sentiment.per_comment[counter[0].quote.comment_id or ""] > 0  # against the mood


@pytest.mark.skipif(not REDDIT_DATA.is_dir(), reason=NO_DATA_REASON)
def test_a_counterpoint_is_never_praise_in_a_well_received_thread() -> None:
    """Before: r/StardewValley's "Well received" chart thread showed "Against: u/BlitzFreeman:
    'Thank you, it would have taken me one thousand years…'" (the positions shown leaned
    negative, so a thank-you counted as against them)."""
    path = REDDIT_DATA / "ocaml-reddit-api" / "stardewvalley_lfx8ac_2021.json"
    r = _engine().digest_sync(thread_from_json_text(path.read_bytes()), Depth.BRIEF)
    assert r.sentiment.label == "positive"
    for p in r.summary:
        if p.text.startswith("The strongest counterpoint") and p.quote is not None:
            assert r.sentiment.per_comment[p.quote.comment_id or ""] <= 0
    assert not any(p.quote and p.quote.author == "BlitzFreeman" for p in r.summary[1:])


@needs_data
def test_summary_quotes_are_never_cut_before_the_punchline_1miezct() -> None:
    for p in report("1miezct", Depth.DEEP).summary:
        if p.quote is not None and p.quote.author == "probablyuntrue":
            assert p.quote.text.endswith("Lobotomized")


# Takeaways that are advice.


def test_a_question_is_never_a_takeaway() -> None:
    assert kind("Can I turn thinking off, I dont want to see it?") is None
    assert (
        kind("Didn't he say you shouldn't try to compete with openAI if you are a startup.") is None
    )
    assert kind("Don't know if that supports KV offload.") is None


def test_you_can_alone_is_not_advice() -> None:
    assert kind("You can if you have enough VRAM and compute for fine-tuning.") is None
    assert kind("You need to be patient with it.") is None
    assert kind("Use --ctx-size 8192 and Q4_K_M, it fits in 24 GB.") == "recipe"
    assert kind("Please do your self a favor and stop using ollama.") == "warning"


@needs_data
def test_takeaways_are_never_questions_on_real_threads() -> None:
    """Before: "Didn't he say you shouldn't try to compete…" was called a warning (1hphlz7),
    "Don't know if that supports KV offload." too (1h85tt4)."""
    question = re.compile(r"\?$|^(?:didn't|don't know|can i|is there|how|what|why)\b", re.I)
    for name in localllama():
        for t in report(name, Depth.DEEP).takeaways:
            assert t.quote is not None
            assert not question.search(t.quote.text), (name, t.quote.text)


# Observations a reader would notice.


@needs_data
def test_a_downvoted_op_is_noticed_1lpm6cv() -> None:
    """The OP's reply sits at -12. Before: "Nothing unusual stood out"."""
    r = report("1lpm6cv", Depth.DEEP)
    assert any(o.startswith("The OP was voted down") and "-12" in o for o in r.observations)
    assert "Nothing unusual" not in render_markdown(r)
    assert "-12" in r.tldr or "-12" in render_markdown(report("1lpm6cv", Depth.BRIEF))


# Notable-comment labels that are true.


@needs_data
def test_notable_labels_are_true_1mdnp8j_1h85tt4() -> None:
    """Before: "the most upvoted comment" for one of two 1-point comments (1mdnp8j), "the OP's
    most upvoted reply" for a top-level comment (1h85tt4)."""
    for depth in Depth:
        text = render_markdown(report("1mdnp8j", depth))
        assert "The most upvoted comment" not in text
        assert "A widely shared point" not in text
    t = thread("1h85tt4")
    for n in report("1h85tt4", Depth.DEEP).notable:
        c = t.by_id[n.quote.comment_id or ""]
        if n.reason and "reply" in n.reason and "replies" not in n.reason:
            assert c.parent_id is not None, n.reason


# Determinism.


def test_the_offline_analysis_is_deterministic_across_processes(tmp_path: Path) -> None:
    """Same thread, same report, whatever the hash seed (sets and dicts must not leak order)."""
    target = LOCALLLAMA / "localllama_1miezct.json"
    if not target.is_file():
        target = REPO / "examples" / "selfhosted_thread.json"
    script = (
        "import sys\n"
        "from adapters.reddit_source.thread_json import thread_from_json_text\n"
        "from digest.pipeline import DigestEngine\n"
        "from digest.render.json_report import render_json\n"
        "from digest.report import Depth\n"
        "t = thread_from_json_text(open(sys.argv[1], 'rb').read())\n"
        "e = DigestEngine()\n"
        "print(render_json(e.digest_sync(t, Depth.DEEP)))\n"
        "print('=====')\n"
        "print(render_json(e.digest_sync(t, Depth.BRIEF)))\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", script, str(target)],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            check=True,
            timeout=300,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    brief = _engine().digest_sync(thread_from_json_text(target.read_bytes()), Depth.BRIEF)
    there = json.loads(outputs[0].split("=====\n")[1])
    assert json.loads(render_json(brief))["summary"] == there["summary"]
