"""What the LLM client sends and how it reads what comes back, without a network: the request's
parameters per model family, the strict schema, the quota count, prices and error kinds."""

import httpx
import openai
import pytest

from app.clients.llm import LLMClassifier, is_config_fault, quota_tokens, response_format
from app.clients.llm_prices import cost_usd, price_for
from app.domain.rules import RulesClassifier
from app.domain.taxonomy import TAXONOMY_DIR, load_taxonomy
from app.settings import is_reasoning_model

TAXONOMY = load_taxonomy()


def classifier(model, temperature=0.0):
    return LLMClassifier(
        openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1"),
        model,
        TAXONOMY,
        RulesClassifier(TAXONOMY),
        breaker=None,
        max_tokens=400,
        temperature=temperature,
    )


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-mini", "gpt-5-nano-2025-08-07", "o3", "o4-mini", "o1"])
def test_reasoning_models_get_max_completion_tokens_and_no_temperature(model):
    assert is_reasoning_model(model)
    params = classifier(model).request_params([{"role": "user", "content": "x"}])
    assert params["max_completion_tokens"] == 400 and "max_tokens" not in params and "temperature" not in params


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4.1", "llama3.1:8b", "omni-llm"])
def test_other_models_keep_their_temperature(model):
    assert not is_reasoning_model(model)
    params = classifier(model).request_params([{"role": "user", "content": "x"}])
    assert params["temperature"] == 0.0 and params["max_completion_tokens"] == 400 and "max_tokens" not in params


def walk_objects(schema):
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield schema
        for value in schema.values():
            yield from walk_objects(value)


@pytest.mark.parametrize("taxonomy", [TAXONOMY, load_taxonomy(TAXONOMY_DIR / "it_service_catalog.yaml")])
def test_the_response_format_is_strict_and_describes_what_the_answer_model_accepts(taxonomy):
    param = response_format(taxonomy)
    assert param["type"] == "json_schema" and param["json_schema"]["strict"] is True
    schema = param["json_schema"]["schema"]
    for obj in walk_objects(schema):  # Structured Outputs: every object closed, every key required
        assert obj["additionalProperties"] is False and set(obj["required"]) == set(obj["properties"])
    for name, field in taxonomy.fields.items():
        assert schema["properties"][name]["enum"] == list(field.values)
    example = {
        "summary": "s",
        "language": "en",
        "confidence": dict.fromkeys(taxonomy.fields, 0.5),
        **{name: next(iter(field.values)) for name, field in taxonomy.fields.items()},
    }
    taxonomy.output_model.model_validate(example)  # the same object the schema describes


def test_quota_tokens_count_messages_schema_and_the_answer_budget_as_openai_does():
    messages = [{"role": "system", "content": "a" * 401}, {"role": "user", "content": "b" * 99}]
    param = response_format(TAXONOMY)
    import json

    expected = -(-(500 + len(json.dumps(param))) // 4) + 400
    assert quota_tokens(messages, param, 400) == expected
    assert len(json.dumps(param)) > 1000  # the schema is a large part of it: leaving it out undercounts


def test_prices_by_family_cover_dated_snapshots_and_cached_input():
    assert price_for("gpt-4o-mini-2024-07-18") == price_for("gpt-4o-mini")
    assert price_for("gpt-5-mini-2025-08-07").input == 0.25
    assert price_for("gpt-4o") is None  # not gpt-4o-mini: a prefix alone is no family
    assert cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    # 400k of 1M prompt tokens cached: 600k at 0.15 + 400k at 0.075, plus 100k output at 0.60.
    assert cost_usd("gpt-4o-mini", 1_000_000, 100_000, cached_tokens=400_000) == pytest.approx(0.09 + 0.03 + 0.06)
    assert cost_usd("my-local-model", 1000, 1000) == 0.0
    assert cost_usd("my-local-model", 1_000_000, 1_000_000, override=(1.0, 2.0)) == pytest.approx(3.0)


def api_error(status, body):
    request = httpx.Request("POST", "http://x/v1/chat/completions")
    response = httpx.Response(status, request=request, json={"error": body})
    return openai.OpenAI(api_key="k", base_url="http://x/v1")._make_status_error_from_response(response)


@pytest.mark.parametrize(
    "status,body,fault",
    [
        (
            400,
            {
                "message": "Unsupported parameter: 'max_tokens'",
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            },
            True,
        ),
        (
            400,
            {
                "message": "Unsupported value: 'temperature'",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": "unsupported_value",
            },
            True,
        ),
        (
            404,
            {
                "message": "The model `x` does not exist",
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            },
            True,
        ),
        (
            401,
            {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"},
            True,
        ),
        (429, {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": None}, True),
        (429, {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}, False),
        (
            400,
            {
                "message": "This model's maximum context length is 128000 tokens",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            },
            False,
        ),
        (500, {"message": "The server had an error", "type": "server_error"}, False),
    ],
)
def test_configuration_faults_are_told_apart_from_pace_outages_and_one_bad_ticket(status, body, fault):
    assert is_config_fault(api_error(status, body)) is fault
