"""OpenAI Chat Completions simulator that speaks the real wire protocol.

One aiohttp process with in-memory state. The official ``openai`` SDK pointed at
``{base_url}/v1`` works against it unchanged: ``chat.completions.create`` and ``.parse`` with
Structured Outputs, ``models.list``/``retrieve``, error classes, and the SDK's own retries
honouring ``retry-after``. It follows OpenAI's documentation strictly, and where that is silent
it takes the less forgiving reading, so a client that works here works against OpenAI:

* only documented models exist (MODEL_SPECS: gpt-4o-mini, gpt-4o, the gpt-4.1 and gpt-5
  families, o1, o3, o3-mini, o4-mini, and their dated snapshots such as
  ``gpt-4o-mini-2024-07-18``); any other is a 404 ``model_not_found``, and an answer to an
  alias names the dated snapshot behind it;
* reasoning models (gpt-5 family, o-series) refuse ``max_tokens`` (400
  ``unsupported_parameter``) and any ``temperature`` but 1 (400 ``unsupported_value``); no model
  takes ``max_tokens`` and ``max_completion_tokens`` together, or more than its maximum output;
* strict Structured Outputs: every object of a strict schema, nested ones and ``$defs``
  included, must set ``additionalProperties: false`` and require every property (400
  ``invalid_json_schema`` otherwise);
* answers that conform to the request's JSON schema, deterministic from the ticket text
  (keyword-scored enums, a one-sentence summary, a language guess, stable confidences);
* real ``chat.completion`` objects with usage, and OpenAI's request and token rate limits
  (sliding windows, 429 with ``retry-after``/``retry-after-ms``, ``x-ratelimit-*`` headers).
  A request is charged before it runs, as OpenAI's limiter counts it: ``quota_tokens(body)``,
  its characters (messages and response_format) / 4 plus its maximum completion tokens (the
  model's whole maximum output when it sets none);
* an account out of credit (``insufficient_quota``: 429 without ``retry-after``), lognormal
  latency served concurrently, and seeded faults: errors, hangs, malformed or off-schema JSON,
  refusals and truncation, by ratio or scripted exactly;
* a gullible model that obeys prompt injections in the ticket, so tests can prove the
  client does not.

Unauthenticated ``/_sim/*`` endpoints expose statistics (``responses_400``/``_404``/``_429``,
``quota_tokens_total`` and more), runtime configuration, the fault script and the captured
request bodies. Run ``python -m sim.llm --help`` for the options; import ``create_app`` or
``running_simulator`` to embed it.

The package: ``config`` (SimConfig, the command line, runtime settings, fault ratios),
``errors`` (OpenAI's error answers), ``models`` (known models, snapshots, reasoning rules,
maximum output), ``text`` (reading the ticket), ``schema`` (SchemaAnswerer, strict-schema
rules), ``chat`` (request validation, quota_tokens), ``answers`` (answers, injections, faults,
replies), ``state`` (SimState), ``handlers`` (/v1 and /_sim) and ``app`` (middleware, routes,
and the ways to run it).
"""

from sim.llm.app import create_app, main, running_simulator, state_of
from sim.llm.chat import ChatRequest, parse_chat_request, quota_tokens
from sim.llm.config import RUNTIME_SETTINGS, SimConfig, parse_args
from sim.llm.models import (
    KNOWN_MODELS,
    MODEL_SPECS,
    MODELS,
    ModelSpec,
    answer_model,
    max_output_tokens,
    model_spec,
)
from sim.llm.schema import SchemaAnswerer, check_strict_schema
from sim.llm.state import SimState

__all__ = [
    "KNOWN_MODELS",
    "MODELS",
    "MODEL_SPECS",
    "RUNTIME_SETTINGS",
    "ChatRequest",
    "ModelSpec",
    "SchemaAnswerer",
    "SimConfig",
    "SimState",
    "answer_model",
    "check_strict_schema",
    "create_app",
    "main",
    "max_output_tokens",
    "model_spec",
    "parse_args",
    "parse_chat_request",
    "quota_tokens",
    "running_simulator",
    "state_of",
]
