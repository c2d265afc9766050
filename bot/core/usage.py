"""`/usage`: what the LLM cost a server — today, the last 7 and 30 days (UTC days), then the last
30 days by channel and by subscription, most expensive first — and which of those costs are
estimates from the default price or could not be counted (a model with no price)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from bot.chat import Reply, Request
from bot.specs import WatchSpec, names, spec_of
from bot.storage import UsageRow
from digest.pricing import Pricing
from digest.text import plural

if TYPE_CHECKING:
    from bot.core.facade import Core

K = TypeVar("K", bound=Hashable)

TOP = 10  # lines per breakdown; the rest are counted ("and 3 more")
NO_USAGE = "No LLM usage in the last 30 days: digests were made by the offline analyser."


@dataclass(frozen=True, slots=True)
class Sum:
    analyses: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, row: UsageRow | Sum) -> Sum:
        return Sum(
            self.analyses + row.analyses,
            self.input_tokens + row.input_tokens,
            self.output_tokens + row.output_tokens,
            self.cost_usd + row.cost_usd,
        )

    def describe(self) -> str:
        return (
            f"{plural(self.analyses, 'digest')} with an LLM, {self.input_tokens:,} tokens in / "
            f"{self.output_tokens:,} out, {usd(self.cost_usd)}"
        )


def usd(value: float) -> str:
    return f"US${value:.2f}" if value >= 10 else f"US${value:.4f}"


def _sums(rows: Iterable[UsageRow], key: Callable[[UsageRow], K]) -> list[tuple[K, Sum]]:
    """Rows summed by `key`, most expensive first (then most tokens)."""
    out: dict[K, Sum] = {}
    for row in rows:
        out[key(row)] = out.get(key(row), Sum()) + row
    return sorted(
        out.items(), key=lambda kv: (-kv[1].cost_usd, -kv[1].input_tokens - kv[1].output_tokens)
    )


def _top(lines: list[str]) -> list[str]:
    if len(lines) <= TOP:
        return lines
    return [*lines[:TOP], f"  … and {len(lines) - TOP} more"]


def _pricing_notes(rows: list[UsageRow], pricing: Pricing) -> list[str]:
    """Which costs are estimates from the default price, which models have no price, and the
    tokens recorded at US$0 (a model with no price then), which no cost above includes."""
    notes = []
    named = lambda r: r.model or "(unnamed)"  # noqa: E731
    free = dict(_sums((r for r in rows if r.cost_usd == 0), named))
    for model, _ in _sums(rows, named):
        match pricing.kind(model):
            case "default":
                assert pricing.default is not None
                i, o = pricing.default
                notes.append(
                    f"{model} is not in the price table: its cost is estimated from its tokens at "
                    f"the default US${i:g}/{o:g} per million in/out (REDIGEST_LLM_DEFAULT_PRICE)."
                )
            case "none":
                notes.append(
                    f"{model} has no price now, so the spend cap refuses it: set "
                    "REDIGEST_LLM_DEFAULT_PRICE or price it in REDIGEST_LLM_PRICES."
                )
        if (uncounted := free.get(model)) is not None:
            notes.append(
                f"{uncounted.input_tokens:,} tokens in / {uncounted.output_tokens:,} out of "
                f"{model} were recorded at US$0 (it had no price then): no cost above includes them."
            )
    return notes


async def usage_report(core: Core, request: Request) -> Reply:
    """The asker's server's LLM usage, for its managers (the caller checks who asks). Channels
    are named `#ID`, each shown as the platform's mention of it."""
    today = core.clock().date()
    rows = await core.storage.usage_since(
        request.platform, request.server_id, today - timedelta(days=29)
    )
    if not rows:
        return Reply(NO_USAGE)
    week = today - timedelta(days=6)
    lines = ["LLM usage on this server (UTC days; costs are estimates):"]
    for label, kept in (
        ("Today", [r for r in rows if r.day == today]),
        ("Last 7 days", [r for r in rows if r.day >= week]),
        ("Last 30 days", rows),
    ):
        total = Sum()
        for row in kept:
            total += row
        lines.append(f"{label}: {total.describe()}")
    lines.append("By channel, last 30 days:")
    by_channel = _sums(rows, lambda r: r.channel_id or "")
    lines += _top(
        [
            f"• {'#' + channel if channel else 'a channel not recorded'}: {total.describe()}"
            for channel, total in by_channel
        ]
    )
    labels = await _subscription_labels(core, request)
    lines.append("By subscription, last 30 days:")
    lines += _top(
        [
            f"• {labels.get(sub_id, f'#{sub_id} (removed)') if sub_id else 'asked for (no subscription)'}"
            f": {total.describe()}"
            for sub_id, total in _sums(rows, lambda r: r.subscription_id or 0)
        ]
    )
    shown = tuple(channel for channel, _ in by_channel[:TOP] if channel)
    return Reply("\n".join(lines + _pricing_notes(rows, core.engines.pricing)), channels=shown)


async def _subscription_labels(core: Core, request: Request) -> dict[int, str]:
    out = {}
    for sub in await core.storage.subscriptions(platform=request.platform):
        if sub.server_id == request.server_id:
            spec = spec_of(sub)
            watch = "watch " if isinstance(spec, WatchSpec) else ""
            out[sub.id] = f"#{sub.id} {watch}{names(spec)}"
    return out
