"""The models the LLM simulator knows: OpenAI's documented families, their snapshots and limits.

Only documented models exist; a request may name an alias or one of its dated snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.common import ApiError
from sim.llm.errors import openai_error

MODELS_CREATED = 1_715_367_049  # a fixed "created" for the model list, as the real one is fixed


@dataclass(frozen=True)
class ModelSpec:
    """One model family as OpenAI documents it on https://platform.openai.com/docs/models ."""

    alias: str
    # Dated snapshots, the first being the one the alias points at (what answers name).
    snapshots: tuple[str, ...]
    # The most output tokens one request may ask for (the "Max output tokens" of the model page).
    max_output_tokens: int
    # gpt-5 family and o-series: https://platform.openai.com/docs/guides/reasoning
    reasoning: bool = False


# Snapshot dates and output limits from each model's page under https://platform.openai.com/docs/models .
MODEL_SPECS = (
    ModelSpec("gpt-4o-mini", ("2024-07-18",), 16_384),
    ModelSpec("gpt-4o", ("2024-08-06", "2024-05-13", "2024-11-20"), 16_384),
    ModelSpec("gpt-4.1", ("2025-04-14",), 32_768),
    ModelSpec("gpt-4.1-mini", ("2025-04-14",), 32_768),
    ModelSpec("gpt-4.1-nano", ("2025-04-14",), 32_768),
    ModelSpec("gpt-5", ("2025-08-07",), 128_000, reasoning=True),
    ModelSpec("gpt-5-mini", ("2025-08-07",), 128_000, reasoning=True),
    ModelSpec("gpt-5-nano", ("2025-08-07",), 128_000, reasoning=True),
    ModelSpec("o1", ("2024-12-17",), 100_000, reasoning=True),
    ModelSpec("o3", ("2025-04-16",), 100_000, reasoning=True),
    ModelSpec("o3-mini", ("2025-01-31",), 100_000, reasoning=True),
    ModelSpec("o4-mini", ("2025-04-16",), 100_000, reasoning=True),
)
# The first gpt-4o snapshot wrote at most 4,096 tokens (https://platform.openai.com/docs/models/gpt-4o).
SNAPSHOT_MAX_OUTPUT_TOKENS = {"gpt-4o-2024-05-13": 4_096}
MODELS = tuple(spec.alias for spec in MODEL_SPECS)  # the aliases
# Every name a request may use: the aliases and their documented dated snapshots, nothing else.
_MODEL_NAMES: dict[str, ModelSpec] = {
    **{spec.alias: spec for spec in MODEL_SPECS},
    **{f"{spec.alias}-{date}": spec for spec in MODEL_SPECS for date in spec.snapshots},
}
KNOWN_MODELS = tuple(_MODEL_NAMES)


def model_spec(name: str) -> ModelSpec | None:
    """The family of a model alias or dated snapshot name; None for a model OpenAI does not have."""
    return _MODEL_NAMES.get(name)


def answer_model(name: str) -> str:
    """The ``model`` an answer names: an alias becomes the snapshot it points at, as OpenAI's do."""
    spec = _MODEL_NAMES[name]
    return f"{name}-{spec.snapshots[0]}" if name == spec.alias else name


def max_output_tokens(name: str) -> int:
    """The most completion tokens the named model (alias or snapshot) writes in one answer."""
    if name in SNAPSHOT_MAX_OUTPUT_TOKENS:
        return SNAPSHOT_MAX_OUTPUT_TOKENS[name]
    spec = model_spec(name)
    if spec is None:
        raise ValueError(f"unknown model {name!r}")
    return spec.max_output_tokens


def model_not_found(name: str) -> ApiError:
    """OpenAI's 404 for a model that does not exist (https://platform.openai.com/docs/guides/error-codes)."""
    return openai_error(
        404,
        f"The model `{name}` does not exist or you do not have access to it.",
        "invalid_request_error",
        code="model_not_found",
    )
