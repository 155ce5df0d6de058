"""Chat completion requests in the LLM simulator: validated as OpenAI does, and charged as it does.

``parse_chat_request`` refuses what OpenAI refuses (unknown models, reasoning models' rules,
token limits, loose strict schemas); ``quota_tokens`` is what the rate limiter charges.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.common import Setting, SimConfigError, checked_setting
from sim.llm.errors import invalid_request
from sim.llm.models import ModelSpec, answer_model, max_output_tokens, model_not_found, model_spec
from sim.llm.schema import check_strict_schema
from sim.llm.text import CHARS_PER_TOKEN, content_characters, content_text, count_tokens

MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass
class ChatRequest:
    """What the simulator reads from a chat completion request."""

    model: str  # as requested: an alias or a dated snapshot
    messages: list[dict]
    response_type: str  # "text", "json_object" or "json_schema"
    schema: dict | None
    max_tokens: int | None  # max_completion_tokens, or the deprecated max_tokens
    temperature: float | None  # validated like OpenAI does; answers are deterministic regardless

    @property
    def prompt_tokens(self) -> int:
        """Tokens of every message, plus the schema the model is given."""
        text = "".join(content_text(message.get("content")) for message in self.messages)
        if self.schema is not None:
            text += json.dumps(self.schema)
        return max(1, count_tokens(text))

    @property
    def answer_model(self) -> str:
        """The model the answer names: the dated snapshot behind an alias."""
        return answer_model(self.model)


def quota_tokens(body: Mapping[str, Any]) -> int:
    """The tokens OpenAI's rate limiter charges a chat completion request, before it runs.

    https://platform.openai.com/docs/guides/rate-limits : the limiter counts a request from its
    characters (about four per token) plus its maximum completion tokens, not from what the
    answer turns out to use. Exactly::

        ceil((characters of every message's content
              + len(json.dumps(body["response_format"])) when response_format is given) / 4)
        + (max_completion_tokens, else max_tokens, else the model's maximum output tokens)

    Content given as a list of parts counts the characters of its text parts. ``json.dumps`` runs
    with its default separators on the parsed response_format object. A request without a
    maximum is charged the model's whole maximum output (16,384 for gpt-4o and gpt-4o-mini, 32,768
    for the gpt-4.1 family, 128,000 for the gpt-5 family, 100,000 for the o-series; see
    MODEL_SPECS), the less forgiving reading of the documentation. ``body`` is a request that passed
    validation (parse_chat_request); an unknown model raises ValueError.
    """
    characters = sum(
        content_characters(message.get("content")) for message in body["messages"] if isinstance(message, dict)
    )
    if body.get("response_format") is not None:
        characters += len(json.dumps(body["response_format"]))
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    if limit is None:
        limit = max_output_tokens(body["model"])
    return math.ceil(characters / CHARS_PER_TOKEN) + int(limit)


def _optional_number(body: dict, name: str, kind: type, minimum: float, maximum: float | None) -> Any:
    value = body.get(name)
    if value is None:
        return None
    try:
        return checked_setting(name, value, Setting(kind, minimum, maximum))
    except SimConfigError as error:
        raise invalid_request(f"Invalid value for '{name}': {error}.", name, "invalid_value") from None


def _parse_response_format(raw: Any) -> tuple[str, dict | None]:
    if raw is None:
        return "text", None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind in ("text", "json_object"):
        return kind, None
    if kind != "json_schema":
        raise invalid_request(
            "Invalid value for 'response_format.type': expected one of 'text', 'json_object' or 'json_schema'.",
            "response_format.type",
            "invalid_value",
        )
    spec = raw.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise invalid_request(
            "Missing required parameter: 'response_format.json_schema.name'.",
            "response_format.json_schema.name",
            "missing_required_parameter",
        )
    schema = spec.get("schema", {})
    if not isinstance(schema, dict):
        raise invalid_request(
            "Invalid type for 'response_format.json_schema.schema': expected an object.",
            "response_format.json_schema.schema",
            "invalid_type",
        )
    strict = spec.get("strict")
    # https://platform.openai.com/docs/api-reference/chat/create : strict is a boolean or null.
    if strict is not None and not isinstance(strict, bool):
        raise invalid_request(
            "Invalid type for 'response_format.json_schema.strict': expected a boolean.",
            "response_format.json_schema.strict",
            "invalid_type",
        )
    if strict:
        check_strict_schema(spec["name"], schema)
    return kind, schema


def _check_token_limits(body: dict, spec: ModelSpec, model: str) -> int | None:
    """The answer's token limit; 400 for what OpenAI refuses about max_tokens/max_completion_tokens."""
    # https://platform.openai.com/docs/api-reference/chat/create : both are "integer or null", so
    # null is the same as leaving one out.
    sent = [name for name in ("max_tokens", "max_completion_tokens") if body.get(name) is not None]
    # https://platform.openai.com/docs/guides/reasoning : reasoning models take
    # max_completion_tokens only; max_tokens is refused (the API reference marks it deprecated and
    # "not compatible with o-series models").
    if spec.reasoning and "max_tokens" in sent:
        raise invalid_request(
            "Unsupported parameter: 'max_tokens' is not supported with this "
            "model. Use 'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    # https://platform.openai.com/docs/api-reference/chat/create : max_completion_tokens replaces
    # max_tokens; the reference does not say both may be sent, so (less forgiving) both are a 400.
    if len(sent) == 2:
        raise invalid_request(
            "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
            "max_tokens",
            "invalid_parameter_combination",
        )
    if not sent:
        return None
    name = sent[0]
    limit = _optional_number(body, name, int, 1, None)
    # https://platform.openai.com/docs/models : each model has a maximum of output tokens.
    most = max_output_tokens(model)
    if limit > most:
        raise invalid_request(
            f"{name} is too large: {limit}. This model supports at most {most} "
            f"completion tokens, whereas you provided {limit}.",
            name,
            "invalid_value",
        )
    return limit


def _check_temperature(body: dict, spec: ModelSpec) -> float | None:
    temperature = _optional_number(body, "temperature", float, 0, 2)
    # https://platform.openai.com/docs/guides/reasoning : reasoning models only take the default
    # temperature, 1; anything else is an unsupported value.
    if spec.reasoning and temperature is not None and temperature != 1:
        raise invalid_request(
            f"Unsupported value: 'temperature' does not support "
            f"{json.dumps(body['temperature'])} with this model. Only the default "
            "(1) value is supported.",
            "temperature",
            "unsupported_value",
        )
    return temperature


def parse_chat_request(body: Any) -> ChatRequest:
    """Validate a request body the way OpenAI does, raising a 400 or 404 ApiError when invalid."""
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("you must provide a model parameter")
    messages = body.get("messages")
    if messages is None:
        raise invalid_request("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("Invalid 'messages': expected a non-empty array.", "messages", "invalid_value")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in MESSAGE_ROLES:
            raise invalid_request(
                f"Invalid value for 'messages[{index}].role': expected one of {', '.join(MESSAGE_ROLES)}.",
                f"messages[{index}].role",
                "invalid_value",
            )
    # https://platform.openai.com/docs/guides/error-codes : a model that does not exist is a 404
    # (only the documented aliases and their dated snapshots exist here).
    spec = model_spec(model)
    if spec is None:
        raise model_not_found(model)
    # Features this simulator does not have fail loudly rather than answer something else.
    if body.get("stream"):
        raise invalid_request("stream is not supported by the simulator.", "stream", "unsupported_value")
    if body.get("n") not in (None, 1):
        raise invalid_request("Only n=1 is supported by the simulator.", "n", "unsupported_value")
    max_tokens = _check_token_limits(body, spec, model)
    temperature = _check_temperature(body, spec)
    response_type, schema = _parse_response_format(body.get("response_format"))
    return ChatRequest(
        model=model,
        messages=messages,
        response_type=response_type,
        schema=schema,
        max_tokens=max_tokens,
        temperature=temperature,
    )
