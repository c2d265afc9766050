"""What an LLM's tokens cost: the price table (US$ per million tokens), and a default price for a
model the table does not list. A model with neither has no price: its cost cannot be counted,
so whoever enforces a budget must refuse it rather than count it as free."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from digest.report import Depth

Price = tuple[float, float, float, float]  # input, output, cache write, cache read

# US$ per million tokens. Estimates; override with REDIGEST_LLM_PRICES, and price a model the
# table does not list with REDIGEST_LLM_DEFAULT_PRICE.
DEFAULT_PRICES: dict[str, Price] = {
    "claude-haiku-5-5": (1.0, 5.0, 1.25, 0.10),
    "claude-sonnet-5-5": (3.0, 15.0, 3.75, 0.30),
    "claude-opus-5-5": (5.0, 25.0, 6.25, 0.50),
    "claude-haiku-4-5": (1.0, 5.0, 1.25, 0.10),
    "claude-sonnet-4-6": (3.0, 15.0, 3.75, 0.30),
}

PriceKind = Literal["listed", "default", "none"]


class Tokens(Protocol):
    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...


@runtime_checkable
class PricedAnalyzer(Protocol):
    """An analyser that pays for its tokens (the LLM analyser)."""

    def unpriced_model(self, depth: Depth) -> str | None:
        """The model it writes with at `depth` when nothing prices it (its cost could not be
        counted, so a budget must refuse it); None when it is priced."""
        ...


def parse_default_price(text: str) -> tuple[float, float]:
    """ "3,15" (US$ per million input, output tokens) → (3.0, 15.0); ValueError if it is not."""
    parts = [p.strip() for p in text.replace(";", ",").replace("/", ",").split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2 or not all(0 <= v <= 10_000 for v in values):
        raise ValueError('give two prices in US$ per million tokens, input and output, like "3,15"')
    return values[0], values[1]


def _usd(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class Pricing:
    """The price table and the default price for models it does not list (None: no default)."""

    prices: Mapping[str, Price] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    default: tuple[float, float] | None = None

    def kind(self, model: str | None) -> PriceKind:
        if model is not None and model in self.prices:
            return "listed"
        return "default" if self.default is not None else "none"

    def price(self, model: str | None) -> Price | None:
        """The model's price; a default-priced model's cache tokens count as input tokens
        (never cheaper than they may be)."""
        if model is not None and model in self.prices:
            return self.prices[model]
        if self.default is None:
            return None
        i, o = self.default
        return (i, o, i, i)

    def cost(self, tokens: Tokens, model: str | None) -> float:
        """US$ for these tokens; 0 only for a model with no price (see `kind`)."""
        p = self.price(model)
        if p is None:
            return 0.0
        total = (
            tokens.input_tokens * p[0]
            + tokens.output_tokens * p[1]
            + tokens.cache_write_tokens * p[2]
            + tokens.cache_read_tokens * p[3]
        )
        return round(total / 1_000_000, 6)

    def startup_lines(self, models: Mapping[str, Mapping[Depth, str]]) -> list[str]:
        """One line per model of these analysers (by name, then depth), each named once."""
        return [
            self.startup_line(m) for m in sorted({m for d in models.values() for m in d.values()})
        ]

    def startup_line(self, model: str) -> str:
        """One line for start-up: how this model's cost is counted."""
        match self.kind(model):
            case "listed":
                p = self.prices[model]
                return (
                    f"LLM model {model}: priced at US${_usd(p[0])}/{_usd(p[1])} per million "
                    "tokens in/out."
                )
            case "default":
                assert self.default is not None
                i, o = self.default
                return (
                    f"LLM model {model} has no price: counted at the default "
                    f"US${_usd(i)}/{_usd(o)} per million tokens in/out (REDIGEST_LLM_DEFAULT_PRICE)."
                )
            case _:
                return (
                    f"LLM model {model} has no price and no REDIGEST_LLM_DEFAULT_PRICE: the spend "
                    "cap refuses it (offline analyser used) — set one of them, or price it in "
                    "REDIGEST_LLM_PRICES."
                )
