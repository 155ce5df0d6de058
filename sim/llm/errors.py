"""OpenAI's error answers as the LLM simulator gives them: the error shape, faults and rate limits."""

from __future__ import annotations

import math
from http import HTTPStatus

from sim.common import ApiError


def openai_duration(seconds: float) -> str:
    """A duration the way OpenAI's x-ratelimit-reset-* headers write it: 120ms, 1s, 6m0s."""
    # Rounded up, so a client that waits this long is never early.
    millis = math.ceil(max(0.0, seconds) * 1000)
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    minutes, millis = divmod(millis, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "") + f"{secs}s"


def openai_error(
    status: int,
    message: str,
    error_type: str,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    """An ApiError whose body has OpenAI's error shape."""
    return ApiError(status, {"error": {"message": message, "type": error_type, "param": param, "code": code}}, headers)


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    """OpenAI's 400 invalid_request_error."""
    return openai_error(400, message, "invalid_request_error", param, code)


# What OpenAI says for the statuses it is known to answer with; others get their phrase.
SERVER_ERROR_MESSAGES = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout. The server did not answer in time.",
}


def injected_error(status: int) -> ApiError:
    """The answer of an injected failure with the given status."""
    if status in SERVER_ERROR_MESSAGES:
        message = SERVER_ERROR_MESSAGES[status]
    else:
        try:
            message = f"{HTTPStatus(status).phrase} (simulated failure)."
        except ValueError:
            message = "Simulated failure."
    return openai_error(status, message, "server_error" if status >= 500 else "invalid_request_error")


def insufficient_quota_error() -> ApiError:
    """OpenAI's 429 for an account out of credit: waiting does not help, so no retry-after.

    https://platform.openai.com/docs/guides/error-codes ("429 - You exceeded your current quota").
    """
    return openai_error(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
        code="insufficient_quota",
    )


def rate_limit_error(model: str, kind: str, limit: int, used: int, requested: int, wait: float) -> ApiError:
    """OpenAI's 429 for the "requests" or "tokens" budget, with when to come back."""
    unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
    if math.isinf(wait):
        # Larger than the whole budget: waiting never helps, so tell the SDK not to retry.
        return openai_error(
            429,
            f"Request too large for {model} in organization org-sim on {unit}: Limit {limit}, "
            f"Requested {requested}. The input or output tokens must be reduced in order to "
            "run successfully.",
            kind,
            code="rate_limit_exceeded",
            headers={"x-should-retry": "false"},
        )
    message = (
        f"Rate limit reached for {model} in organization org-sim on {unit}: Limit {limit}, "
        f"Used {used}, Requested {requested}. Please try again in {openai_duration(wait)}. "
        "Visit https://platform.openai.com/account/rate-limits to learn more."
    )
    headers = {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(max(1, math.ceil(wait * 1000)))}
    return openai_error(429, message, kind, code="rate_limit_exceeded", headers=headers)
