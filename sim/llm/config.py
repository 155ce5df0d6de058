"""The LLM simulator's configuration: its command line, its defaults, runtime settings and fault ratios."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.common import BaseSimConfig, SimConfigError, option, parse_config

CAPTURED_REQUESTS = 1000  # request bodies kept for /_sim/requests (and latencies for the stats)

# Settings that POST /_sim/config may change while running: name -> (type, minimum, maximum).
RUNTIME_SETTINGS: dict[str, tuple[type, float | None, float | None]] = {
    "latency_mean": (float, 0, None),
    "rpm": (int, 1, None),
    "tpm": (int, 1, None),
    "rate_window": (float, 0.001, None),
    "error_ratio": (float, 0, 1),
    "error_status": (int, 400, 599),
    "timeout_ratio": (float, 0, 1),
    "hang_seconds": (float, 0, None),
    "malformed_ratio": (float, 0, 1),
    "bad_enum_ratio": (float, 0, 1),
    "refusal_ratio": (float, 0, 1),
    "truncate_ratio": (float, 0, 1),
    "obey_injections": (bool, None, None),
    # An account without credit: https://platform.openai.com/docs/guides/error-codes
    "insufficient_quota": (bool, None, None),
}
# Fault kinds drawn by ratio, in the order one random draw is laid over them.
FAULT_RATIOS = (
    ("error", "error_ratio"),
    ("timeout", "timeout_ratio"),
    ("malformed", "malformed_ratio"),
    ("bad_enum", "bad_enum_ratio"),
    ("refusal", "refusal_ratio"),
    ("truncated", "truncate_ratio"),
)
FAULT_KINDS = ("rate_limit", "insufficient_quota", *(kind for kind, _ in FAULT_RATIOS))


def check_fault_total(settings: Mapping[str, Any]) -> None:
    """The fault ratios share one draw per request, so together they may not exceed 1."""
    total = sum(settings[ratio] for _, ratio in FAULT_RATIOS)
    if total > 1 + 1e-9:
        raise SimConfigError(f"the fault ratios add up to {total:g}; at most 1 is possible")


@dataclass
class SimConfig(BaseSimConfig):
    """Everything the simulator can be told on its command line (same names, underscored).

    Each field is an option of ``python -m sim.llm`` with its help (sim.common.parse_config); the
    options every simulator has come first (sim.common.BaseSimConfig).
    """

    RUNTIME_SETTINGS = RUNTIME_SETTINGS

    port: int = option(8082, "0 picks a free port")
    error_ratio: float = option(0.0, "share of completions that fail with --error-status")
    api_key: str = option("sim-llm-key", "the only Bearer key accepted")
    latency_mean: float = option(3.5, "mean seconds per answer, lognormal with p95 = 1.43 x mean (0: none)")
    rpm: int = option(500, "requests per window")
    tpm: int = option(
        200_000,
        "tokens per window, charged as OpenAI does before a request runs: "
        "characters of messages and response_format / 4, plus max tokens "
        "(the model's maximum output when the request sets none)",
    )
    timeout_ratio: float = option(0.0, "share of completions held --hang-seconds without an answer")
    hang_seconds: float = 600.0
    malformed_ratio: float = option(0.0, "share of answers that are not valid JSON")
    bad_enum_ratio: float = option(0.0, "share of answers with one enum field outside its enum")
    refusal_ratio: float = option(0.0, "share of answers that are refusals")
    truncate_ratio: float = option(0.0, 'share of answers cut short with finish_reason "length"')
    # On the command line: --no-obey-injections.
    obey_injections: bool = option(True, "ignore instructions inside tickets instead of following them")
    insufficient_quota: bool = option(
        False, "answer every completion 429 insufficient_quota (an account out of credit), with no retry-after"
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fault_total(dataclasses.asdict(self))
        if not self.api_key:
            raise SimConfigError("api_key must not be empty")


def parse_args(argv: list[str] | None = None) -> SimConfig:
    """Read the command line of ``python -m sim.llm`` into a SimConfig."""
    return parse_config(SimConfig, "sim.llm", argv)
