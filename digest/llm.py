"""The LLM analyser: one structured call per digest, checked against the schema and the thread,
one repair round, retries within a deadline, usage and cost. Providers are adapters behind
`LLMClient` (digest.llm_port); the prompt is digest.llm_prompt, the schema digest.llm_schema,
the checks digest.llm_check, the token count digest.llm_tokens.

Time: every call gets what is left of the digest's deadline (REDIGEST_LLM_DEADLINE), never a
fixed timeout of its own. A call the client gave up waiting for is not sent again: the server
may still be generating it. Money: every token a provider reports is counted, including those
of answers that were thrown away, and travels with a fallback (LLMUnavailable.usage) so the
spend cap and --show-usage see it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from digest.analysis import AnalysisInput, AnalyzerUnavailable, NarrativeResult
from digest.i18n import words
from digest.llm_check import Checked, LinkNote, validate
from digest.llm_port import (
    LLMClient,
    LLMError,
    LLMOutputError,
    PromptBlock,
    Spent,
    StructuredRequest,
    StructuredResponse,
    TokenCounter,
)
from digest.llm_prompt import (
    INSTRUCTIONS,
    SYSTEM_PROMPT,
    PromptIds,
    build_prompt,
    max_output_tokens,
    prompt_overhead_tokens,
    prompt_tokens,
)
from digest.llm_schema import REPORT_SCHEMA, SCHEMA_NAME, STANCES
from digest.model import Thread
from digest.pricing import DEFAULT_PRICES, Price, Pricing
from digest.prompt_format import comment_tokens
from digest.report import Depth, Usage

__all__ = [
    "DEFAULT_PRICES",
    "INSTRUCTIONS",
    "REPORT_SCHEMA",
    "SCHEMA_NAME",
    "STANCES",
    "SYSTEM_PROMPT",
    "LLMAnalyzer",
    "LLMClient",
    "LLMError",
    "LLMOutputError",
    "LLMUnavailable",
    "LinkNote",
    "PromptBlock",
    "PromptIds",
    "RetryPolicy",
    "Spent",
    "StructuredRequest",
    "StructuredResponse",
    "TokenCounter",
    "build_prompt",
    "cost_usd",
    "max_output_tokens",
    "prompt_overhead_tokens",
    "prompt_tokens",
    "validate",
]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- prices


def cost_usd(prices: Mapping[str, Price], r: StructuredResponse | Spent, model: str,
             default: tuple[float, float] | None = None) -> float:  # fmt: skip
    """What these tokens cost (digest.pricing): a model the table does not list costs the
    `default` price, or 0 without one (its cost is unknown: a budget must refuse it)."""
    name = r.model if r.model and r.model in prices else model
    return Pricing(prices, default).cost(r, name)


# ----------------------------------------------------------------------------- the analyser


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # per call, the first included
    max_retry_after: float = 30.0  # cap on a provider's retry-after
    base_backoff: float = 1.0
    deadline: float = 90.0  # seconds for the whole digest, repair included (REDIGEST_LLM_DEADLINE)
    call_timeout: float | None = None  # None: a call may use what is left of the deadline
    min_call_time: float = 1.0  # below this much time left, no new call is started
    count_timeout: float = 10.0  # for a provider's token count


class LLMUnavailable(AnalyzerUnavailable):
    """The LLM could not write the narrative; `usage` is what the attempt cost all the same
    (the pipeline's fallback report carries it, so the spend cap counts it)."""

    def __init__(self, message: str, usage: Usage) -> None:
        super().__init__(message, usage)


class _Tally:
    """Usage summed over every call of one digest, whatever became of the answers."""

    def __init__(self, model: str, pricing: Pricing):
        self.usage = Usage(model=model)
        self._pricing = pricing
        self._model = model

    def add(self, spent: Spent) -> None:
        if not spent:
            return
        u = self.usage
        self.usage = Usage(
            input_tokens=u.input_tokens + spent.input_tokens,
            output_tokens=u.output_tokens + spent.output_tokens,
            cache_write_tokens=u.cache_write_tokens + spent.cache_write_tokens,
            cache_read_tokens=u.cache_read_tokens + spent.cache_read_tokens,
            model=spent.model or u.model,
            latency_ms=u.latency_ms,
            cost_usd=round(u.cost_usd + self._cost(spent), 6),
        )

    def _cost(self, spent: Spent) -> float:
        return cost_usd(self._pricing.prices, spent, self._model, self._pricing.default)


class LLMAnalyzer:
    """Writes the narrative with an LLM; falls back (by raising LLMUnavailable, an
    AnalyzerUnavailable) when the provider fails or answers nonsense twice."""

    def __init__(
        self,
        client: LLMClient,
        *,
        models: Mapping[Depth, str],
        prices: Mapping[str, Price] | None = None,
        default_price: tuple[float, float] | None = None,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = client.name
        self._client = client
        self._models = dict(models)
        # A model missing from `prices` costs `default_price`; with neither it has no price.
        self.pricing = Pricing(
            dict(prices if prices is not None else DEFAULT_PRICES), default_price
        )
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._sleep = sleep

    @property
    def models(self) -> dict[Depth, str]:
        """The model each depth is written with."""
        return dict(self._models)

    def unpriced_model(self, depth: Depth) -> str | None:
        """The model for `depth` when neither the price table nor a default prices it."""
        model = self._models[depth]
        return model if self.pricing.kind(model) == "none" else None

    def overhead_tokens(self, depth: Depth) -> int:
        return prompt_overhead_tokens(depth)

    def cost_ceiling(self, depth: Depth, prompt_tokens: int) -> float:
        """US$ for one call at `depth` with a prompt of `prompt_tokens` and the longest answer
        (0 for a model with no price)."""
        price = self.pricing.price(self._models[depth])
        if price is None:
            return 0.0
        output = max_output_tokens(depth, top_level=1_000, links=1_000)
        return round((prompt_tokens * price[0] + output * price[1]) / 1_000_000, 6)

    def _time_limit(self, deadline: float) -> float:
        left = deadline - self._clock()
        cap = self._policy.call_timeout
        return left if cap is None else min(cap, left)

    async def _call(
        self, request: StructuredRequest, deadline: float, tally: _Tally
    ) -> StructuredResponse:
        policy = self._policy
        last: Exception | None = None
        for attempt in range(policy.attempts):
            if deadline - self._clock() < policy.min_call_time:
                break
            try:
                response = await self._client.structured(
                    request, time_limit=self._time_limit(deadline)
                )
            except LLMError as exc:
                tally.add(exc.spent)
                last = exc
                if exc.busy or exc.retry_after is None or attempt + 1 >= policy.attempts:
                    break
                wait = min(
                    max(exc.retry_after, policy.base_backoff * 2**attempt), policy.max_retry_after
                )
                if self._clock() + wait + policy.min_call_time >= deadline:
                    break
                log.info("%s: retrying in %.1fs after %s", self.name, wait, exc)
                await self._sleep(wait)
            except LLMOutputError as exc:
                tally.add(exc.spent)
                raise
            else:
                tally.add(response.spent)
                return response
        raise LLMUnavailable(str(last) if last else "the deadline passed", tally.usage)

    async def narrate(self, inp: AnalysisInput) -> NarrativeResult:
        started = self._clock()
        deadline = started + self._policy.deadline
        model = self._models[inp.depth]
        tally = _Tally(model, self.pricing)
        request, ids, notes = await self._prompt(inp, model, deadline)
        checked: Checked | None = None
        for round_ in range(2):
            try:
                response = await self._call(request, deadline, tally)
            except LLMOutputError as exc:
                if checked is not None:  # the repair came back broken: keep the first answer
                    log.info("%s: the repair round was unparsable (%s)", self.name, exc)
                    break
                if round_ == 1 or deadline - self._clock() < self._policy.min_call_time:
                    raise LLMUnavailable(
                        f"{self.name} gave invalid output twice", tally.usage
                    ) from exc
                request = _with_repair(request, "(unparsable)", [str(exc)])
                continue
            except LLMUnavailable as exc:
                if checked is None:
                    raise
                log.info(
                    "%s: the repair round failed (%s); keeping the first answer", self.name, exc
                )
                break
            answer = validate(inp, response.data, ids, request)
            if checked is None or len(answer.errors) <= len(checked.errors):
                checked = answer
            if not answer.errors:
                break
            if round_ == 0:
                previous = json.dumps(response.data, ensure_ascii=False)[:8000]
                log.info(
                    "%s: %d schema/grounding error(s), asking once to repair",
                    self.name,
                    len(answer.errors),
                )
                request = _with_repair(request, previous, answer.errors)
        if checked is None:
            raise LLMUnavailable(f"{self.name} gave invalid output twice", tally.usage)
        if checked.errors:
            n = len(checked.errors)
            notes.append(
                words(inp.lang).ntr(
                    "{n} part of the model's analysis did not match the thread and was left out.",
                    "{n} parts of the model's analysis did not match the thread and were left out.",
                    n,
                )
            )
        if not checked.narrative.summary and not checked.narrative.themes:
            raise LLMUnavailable(
                f"{self.name} produced nothing that matched the thread", tally.usage
            )
        u = tally.usage
        return NarrativeResult(
            checked.narrative,
            usage=replace(u, latency_ms=int((self._clock() - started) * 1000)),
            notes=tuple(notes),
        )

    async def _prompt(
        self, inp: AnalysisInput, model: str, deadline: float
    ) -> tuple[StructuredRequest, PromptIds, list[str]]:
        """The request, fitted to the budget by the provider's own count where it has one."""
        shared = inp.shared_selection or inp.selection
        extra = inp.selection if inp.depth is Depth.DEEP else None
        coverage = inp.selection.coverage
        request, ids = build_prompt(
            inp.thread, inp.depth, shared, extra, coverage.describe(), model, lang=inp.lang
        )
        notes: list[str] = []
        counter = self._client
        if not isinstance(counter, TokenCounter) or inp.selection.budget <= 0:
            return request, ids, notes
        budget = inp.selection.budget + self.overhead_tokens(inp.depth)
        left_out: list[str] = []
        for _ in range(3):
            limit = min(self._policy.count_timeout, (deadline - self._clock()) / 4)
            try:
                real = await counter.count_tokens(request, time_limit=limit)
            except LLMError as exc:
                log.info("%s: cannot count tokens (%s); using the local count", self.name, exc)
                real = None
            if real is None or real <= budget:
                break
            # The provider counts more than the local count allowed for: leave out the
            # lowest-scored leaves (the deep-only comments first) by the same proportion.
            local = prompt_tokens(request)
            need = local - int(local * budget / real) + 1
            left_out += _least_needed(inp.thread, ids, set(shared.comment_ids), need)
            analysed = coverage.analyzed - len(left_out)
            request, ids = build_prompt(
                inp.thread,
                inp.depth,
                shared,
                extra,
                replace(coverage, analyzed=analysed).describe(),
                model,
                leave_out=left_out,
                lang=inp.lang,
            )
            log.info("%s: %d tokens by the provider's count; left out %d comments", self.name,
                     real, len(left_out))  # fmt: skip
        if left_out:
            n = len(left_out)
            notes.append(
                words(inp.lang, inp.thread.origin.context).ntr(
                    "To fit the model's token budget, {n} comment of the {chosen} chosen for "
                    "analysis was left out of its prompt.",
                    "To fit the model's token budget, {n} comments of the {chosen} chosen for "
                    "analysis were left out of its prompt.",
                    n,
                    chosen=f"{coverage.analyzed:,}",
                )
            )
        return request, ids, notes


def _least_needed(thread: Thread, ids: PromptIds, shared: set[str], tokens: int) -> list[str]:
    """Comments of the prompt to leave out, worth at least `tokens`: leaves only (a reply
    without its parent would read as top-level), deep-only ones first, lowest score first."""
    in_prompt = set(ids.to_short)
    by_id = thread.by_id
    parents = {by_id[i].parent_id for i in in_prompt}
    leaves = sorted(
        (by_id[i] for i in in_prompt if i not in parents),
        key=lambda c: (c.id in shared, c.score, c.id),
    )
    out: list[str] = []
    saved = 0
    for c in leaves:
        if saved >= tokens:
            break
        out.append(c.id)
        saved += comment_tokens(c)
    return out


def _with_repair(request: StructuredRequest, previous: str, errors: list[str]) -> StructuredRequest:
    listed = "\n".join(f"- {e}" for e in errors[:30])
    return replace(
        request, repair=(previous, f"Your previous answer had these problems; fix them:\n{listed}")
    )
