"""What an LLM request costs: OpenAI's prices per model family, and the dollars for one request's tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens."""

    input: float
    cached_input: float
    output: float


# Checked against OpenAI's model pages (https://platform.openai.com/docs/pricing). Dated snapshots
# (gpt-4o-mini-2024-07-18) are priced as their family; set LLM_PRICE_INPUT_PER_MTOK and
# LLM_PRICE_OUTPUT_PER_MTOK for anything else.
PRICES_PER_MTOK = {
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
    "gpt-5": Price(1.25, 0.125, 10.00),
    "gpt-5-mini": Price(0.25, 0.025, 2.00),
    "gpt-5-nano": Price(0.05, 0.005, 0.40),
}
SNAPSHOT_RE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def price_for(model: str) -> Price | None:
    """The price of a model or of its family: "gpt-4o-mini-2024-07-18" is priced as gpt-4o-mini."""
    name = model.lower().rsplit("/", 1)[-1]
    return PRICES_PER_MTOK.get(name) or PRICES_PER_MTOK.get(SNAPSHOT_RE.sub("", name))


def cost_usd(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    override: tuple[float, float] | None = None,
) -> float:
    """Dollars for one request. Cached prompt tokens (part of prompt_tokens) cost the cached
    price where the model has one; an override prices every prompt token alike."""
    if override is not None:
        price = Price(override[0], override[0], override[1])
    else:
        price = price_for(model) or Price(0.0, 0.0, 0.0)
    cached = min(cached_tokens, prompt_tokens)
    return (
        (prompt_tokens - cached) * price.input + cached * price.cached_input + completion_tokens * price.output
    ) / 1_000_000
