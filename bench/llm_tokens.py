"""Input tokens per LLM digest, budgeted vs sending every comment, and the estimated $ per digest.

Prompts are built exactly as the LLM analyser builds them (no model is called); tokens are the
project's local estimate (~4 ASCII characters per token). Cost: input at the configured model's
input price, plus output at `max_tokens` (an upper bound), from digest.llm.DEFAULT_PRICES.
Run: python -m bench llm
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from digest.llm import (
    DEFAULT_PRICES,
    MAX_OUTPUT_TOKENS,
    LLMAnalyzer,
    StructuredRequest,
    StructuredResponse,
    build_prompt,
    prompt_tokens,
)
from digest.model import Thread
from digest.pipeline import Budgets, DigestEngine
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.support.synthetic import thread_json

MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reddit"


class _NoCall:
    name = "bench"

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        raise RuntimeError("the benchmark builds prompts only")


def _prompt_tokens(engine: DigestEngine, thread: Thread, depth: Depth) -> tuple[int, int]:
    inp = engine.prepare(thread, depth)
    shared = inp.shared_selection or inp.selection
    extra = inp.selection if depth is Depth.DEEP else None
    request, _ = build_prompt(
        thread, depth, shared, extra, inp.selection.coverage.describe(), MODELS[depth]
    )
    return prompt_tokens(request), inp.selection.coverage.analyzed


def _cost(depth: Depth, tokens: int) -> float:
    price = DEFAULT_PRICES[MODELS[depth]]
    return (tokens * price[0] + MAX_OUTPUT_TOKENS[depth] * price[1]) / 1_000_000


def main() -> int:
    scorer = make_scorer()
    analyzer = LLMAnalyzer(_NoCall(), models=MODELS)
    budgeted = DigestEngine(analyzer, scorer=scorer)
    naive = DigestEngine(analyzer, scorer=scorer, budgets=Budgets(brief=10**9, deep=10**9))
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
        f"{Budgets().brief:,}/{Budgets().deep:,} tokens; naive = every fetched comment in the prompt"
    )
    header = f"{'thread':<58} {'depth':<5} {'comments':>8} {'analysed':>8} {'tokens':>8} {'naive':>9} {'$ est.':>8} {'naive $':>8}"
    print(header)
    print("-" * len(header))
    totals = {d: [0, 0, 0.0, 0.0] for d in Depth}
    for name, thread in cases:
        for depth in Depth:
            tokens, analysed = _prompt_tokens(budgeted, thread, depth)
            all_tokens, _ = _prompt_tokens(naive, thread, depth)
            cost, naive_cost = _cost(depth, tokens), _cost(depth, all_tokens)
            t = totals[depth]
            t[0] += tokens
            t[1] += all_tokens
            t[2] += cost
            t[3] += naive_cost
            print(
                f"{name[:58]:<58} {depth.value:<5} {len(thread.comments):>8,} {analysed:>8,} "
                f"{tokens:>8,} {all_tokens:>9,} {cost:>8.4f} {naive_cost:>8.4f}"
            )
    for depth, (tok, all_tok, cost, naive_cost) in totals.items():
        print(
            f"total {depth.value}: {tok:,} tokens vs {all_tok:,} naive "
            f"({all_tok / max(tok, 1):.1f}×); ${cost:.3f} vs ${naive_cost:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
