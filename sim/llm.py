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
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import math
import random
import re
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Iterator, Mapping, NamedTuple

from aiohttp import web

from sim._server import (
    ApiError,
    ConfigError,
    RunningSimulator,
    SlidingWindow,
    checked_setting,
    config_from_args,
    run_command_line,
    serve_in_thread,
    serve_until_signalled,
)

log = logging.getLogger("sim.llm")

MODELS_CREATED = 1_715_367_049  # a fixed "created" for the model list, as the real one is fixed
MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CAPTURED_REQUESTS = 1000
REFUSAL = "I'm sorry, I can't help with that."
CHARS_PER_TOKEN = 4


# --- Configuration ----------------------------------------------------------------------

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
FAULT_RATIOS = (("error", "error_ratio"), ("timeout", "timeout_ratio"),
                ("malformed", "malformed_ratio"), ("bad_enum", "bad_enum_ratio"),
                ("refusal", "refusal_ratio"), ("truncated", "truncate_ratio"))
FAULT_KINDS = ("rate_limit", "insufficient_quota", *(kind for kind, _ in FAULT_RATIOS))


def _check_fault_total(settings: Mapping[str, Any]) -> None:
    """The fault ratios share one draw per request, so together they may not exceed 1."""
    total = sum(settings[ratio] for _, ratio in FAULT_RATIOS)
    if total > 1 + 1e-9:
        raise ConfigError(f"the fault ratios add up to {total:g}; at most 1 is possible")


@dataclass
class SimConfig:
    """Everything the simulator can be told on its command line (same names, underscored)."""

    host: str = "127.0.0.1"
    port: int = 8082
    api_key: str = "sim-llm-key"
    seed: int = 1
    latency_mean: float = 3.5
    rpm: int = 500
    tpm: int = 200_000
    rate_window: float = 60.0
    error_ratio: float = 0.0
    error_status: int = 500
    timeout_ratio: float = 0.0
    hang_seconds: float = 600.0
    malformed_ratio: float = 0.0
    bad_enum_ratio: float = 0.0
    refusal_ratio: float = 0.0
    truncate_ratio: float = 0.0
    obey_injections: bool = True
    insufficient_quota: bool = False

    def __post_init__(self) -> None:
        for name, spec in RUNTIME_SETTINGS.items():
            setattr(self, name, checked_setting(name, getattr(self, name), *spec))
        _check_fault_total(dataclasses.asdict(self))
        if not self.api_key:
            raise ConfigError("api_key must not be empty")


# --- Small helpers ----------------------------------------------------------------------

def count_tokens(text: str) -> int:
    """Roughly what a tokenizer counts: one token per four characters."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def stable_hash(*parts: object) -> int:
    """A hash that, unlike hash(), is the same in every process and run."""
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


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


def openai_error(status: int, message: str, error_type: str, param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> ApiError:
    """An ApiError whose body has OpenAI's error shape."""
    return ApiError(status, {"error": {"message": message, "type": error_type, "param": param,
                                       "code": code}}, headers)


def _invalid_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
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
        429, "You exceeded your current quota, please check your plan and billing details. For more "
             "information on this error, read the docs: "
             "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota", code="insufficient_quota")


# --- Models -------------------------------------------------------------------------------

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
    return openai_error(404, f"The model `{name}` does not exist or you do not have access to it.",
                        "invalid_request_error", code="model_not_found")


# --- The ticket text -----------------------------------------------------------------------

def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part["text"] for part in content
                         if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def ticket_text(messages: list[dict]) -> str:
    """The last user message, narrowed to what lies between <ticket> and </ticket> if present."""
    text = next((content_text(message.get("content")) for message in reversed(messages)
                 if message.get("role") == "user"), "")
    start, end = text.find("<ticket>"), text.rfind("</ticket>")
    if start != -1 and end > start:
        return text[start + len("<ticket>"):end]
    return text


WORD_RE = re.compile(r"\w+")


def first_sentence(text: str, limit: int = 100) -> str:
    """The first sentence, whitespace collapsed, cut at a word boundary to ``limit`` characters."""
    collapsed = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", collapsed)
    sentence = match.group(1) if match else collapsed
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit + 1].rsplit(" ", 1)[0]
    # A word longer than the limit leaves nothing to keep whole: cut it instead.
    return cut if 0 < len(cut) <= limit else sentence[:limit]


LANGUAGE_STOPWORDS = {
    "en": {"the", "and", "is", "to", "my", "it", "not", "this", "with", "you", "for", "have", "can",
           "please", "we", "of", "was", "i"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ich", "mein", "meine", "mit", "bitte", "ein",
           "eine", "einen", "wir", "sie", "auf", "kann", "habe", "seit", "wenn", "für", "im",
           "hallo", "danke"},
    "es": {"el", "los", "las", "y", "es", "mi", "con", "por", "para", "una", "está", "pero",
           "hola", "buenos", "gracias", "desde", "puedo", "cuenta"},
    "fr": {"le", "les", "et", "est", "pas", "je", "mon", "ma", "avec", "pour", "une", "des", "vous",
           "bonjour", "merci", "mais", "depuis", "ne"},
    "pt": {"o", "os", "e", "é", "não", "meu", "minha", "com", "para", "uma", "do", "da", "você",
           "um", "nós", "olá", "obrigado", "obrigada", "mas", "desde", "conta"},
}


def guess_language(text: str) -> str:
    """A crude ISO 639-1 guess from common stopwords; English when nothing points elsewhere."""
    words = Counter(WORD_RE.findall(text.lower()))
    scores = {language: sum(words[word] for word in stopwords)
              for language, stopwords in LANGUAGE_STOPWORDS.items()}
    best = max(scores.values())
    # Dictionary order breaks ties, English first.
    return next(language for language, score in scores.items() if score == best) if best else "en"


# --- Keyword scoring of enum values ------------------------------------------------------------

SYNONYMS = {
    "bug": ("error", "crash", "broken", "fails", "exception", "500", "404"),
    "refund": ("refund", "charge", "charged", "money back", "invoice", "billing", "cancel"),
    "feature": ("feature", "add", "would like", "wish", "suggestion", "support for"),
    "high": ("urgent", "asap", "critical", "immediately", "down", "outage", "blocking"),
    "low": ("no rush", "whenever", "eventually", "not urgent"),
    "negative": ("angry", "frustrated", "terrible", "unacceptable", "worst", "disappointed"),
    "positive": ("thanks", "thank you", "great", "love", "awesome", "appreciate"),
}
# Enum values that mean one of the concepts above under another name.
SYNONYM_ALIASES = {"billing": "refund", "payment": "refund", "defect": "bug", "technical": "bug",
                   "enhancement": "feature", "urgent": "high", "critical": "high"}
# What a careful model answers when the ticket says nothing about a field.
NEUTRAL_DEFAULTS = ("other", "medium", "normal", "neutral")
DESCRIPTION_STOPWORDS = {"when", "with", "that", "this", "from", "they", "their", "about", "should",
                         "must", "will", "have", "into", "what", "which", "only", "than", "then",
                         "does", "there", "these", "those", "also", "more", "most", "some", "such"}


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern:
    # Whole words, with the common English endings: "crash" finds "crashes" and "crashed".
    return re.compile(rf"\b{re.escape(term)}(?:s|es|ed|d|ing)?\b")


def _value_words(value: str) -> list[str]:
    return [word for word in re.split(r"[\s_-]+", value.lower()) if word]


def _description_terms(description: str, values: list[str], field_name: str) -> dict[str, set[str]]:
    """Words a description ties to one enum value ("high: outages or blocking; low: ...")."""
    lowered_values = {value.lower() for value in values}
    ignored = DESCRIPTION_STOPWORDS | lowered_values | set(_value_words(field_name))
    terms: dict[str, set[str]] = {}
    for segment in re.split(r"[;\n]|\.\s", description.lower()):
        words = WORD_RE.findall(segment)
        mentioned = [value for value in values if value.lower() in words]
        # A segment naming several values says nothing about which word belongs to which.
        if len(mentioned) == 1:
            terms.setdefault(mentioned[0], set()).update(
                word for word in words if len(word) >= 4 and word not in ignored)
    return terms


def score_enum(text: str, values: list[str], descriptions: str, field_name: str) -> dict[str, int]:
    """How often each value, its synonyms and its description words occur in the text."""
    extra = _description_terms(descriptions, values, field_name)
    owners: list[tuple[str, str]] = []
    for value in values:
        words = _value_words(value)
        concepts = {SYNONYM_ALIASES.get(word, word) for word in [value.lower(), *words]}
        terms = {" ".join(words), *extra.get(value, ()),
                 *(synonym for concept in concepts for synonym in SYNONYMS.get(concept, ()))}
        owners.extend((term, value) for term in terms if term)
    scores = dict.fromkeys(values, 0)
    working = text.lower()
    # Longest terms first, each match blanked out once counted: "not urgent" is low, and its
    # "urgent" must not count for high as well.
    for term, value in sorted(owners, key=lambda owner: (-len(owner[0]), owner)):
        working, hits = _term_pattern(term).subn(lambda match: " " * len(match.group()), working)
        scores[value] += hits
    return scores


# --- Answers that follow a JSON schema ---------------------------------------------------------

# The schema behind answers to requests without one (plain text or json_object).
DEFAULT_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "category": {"type": "string", "enum": ["bug", "refund", "feature", "other"]},
        "urgency": {"type": "string", "enum": ["low", "medium", "high"]},
        "sentiment": {"type": "string", "enum": ["negative", "neutral", "positive"]},
        "language": {"type": "string"},
    },
    "required": ["summary", "category", "urgency", "sentiment", "language"],
    "additionalProperties": False,
}
# Fixed examples for the string formats Structured Outputs supports.
FORMAT_EXAMPLES = {
    "date-time": "2025-01-01T00:00:00Z", "date": "2025-01-01", "time": "00:00:00",
    "duration": "P1D", "email": "support@example.com", "hostname": "example.com",
    "ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "uuid": "00000000-0000-4000-8000-000000000000",
    "uri": "https://example.com/",
}
# Recursive schemas stop growing at MAX_DEPTH (arrays stay as short as allowed, nullable unions
# become null); one that still goes deeper, twice as deep, cannot be answered.
MAX_DEPTH = 10
Path = tuple[str | int, ...]


class SchemaAnswerer:
    """Builds a value that conforms to a JSON schema, deterministically from the ticket text."""

    def __init__(self, text: str, root: dict):
        self.text = text
        self.root = root
        # Where enum values went and what each allowed: for bad_enum faults and injections.
        self.enum_fields: list[tuple[Path, list]] = []

    def build(self) -> Any:
        """The whole answer for the root schema."""
        return self._value(self.root, (), "", is_root=True)

    def _resolve(self, schema: Any) -> dict:
        """Follow $ref (keys beside it win, as in OpenAI's strict schemas) and merge allOf."""
        for _ in range(MAX_DEPTH):
            if not isinstance(schema, dict) or "$ref" not in schema:
                break
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**self._lookup(schema["$ref"]), **siblings}
        if not isinstance(schema, dict):
            raise _invalid_request("Invalid schema for response_format: every schema must be an "
                                   "object.", "response_format", "invalid_json_schema")
        if "allOf" in schema:
            merged = {key: value for key, value in schema.items() if key != "allOf"}
            for part in schema["allOf"]:
                merged = {**self._resolve(part), **merged}
            schema = merged
        return schema

    def _lookup(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _invalid_request(f"Invalid schema for response_format: unsupported $ref {ref!r}.",
                                   "response_format", "invalid_json_schema")
        node: Any = self.root
        for key in filter(None, ref[1:].split("/")):
            if not isinstance(node, dict) or key not in node:
                raise _invalid_request(f"Invalid schema for response_format: {ref!r} points nowhere.",
                                       "response_format", "invalid_json_schema")
            node = node[key]
        return node

    def _salt(self, path: Path) -> int:
        """A stable number for this ticket and this place in the answer."""
        return stable_hash(self.text, *path)

    def _value(self, schema: Any, path: Path, name: str, is_root: bool = False) -> Any:
        if len(path) > 2 * MAX_DEPTH:
            raise _invalid_request("Invalid schema for response_format: it nests deeper than "
                                   f"{2 * MAX_DEPTH} levels.", "response_format", "invalid_json_schema")
        schema = self._resolve(schema)
        description = schema.get("description", "")
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema["enum"], path, name, description)
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            resolved = [self._resolve(variant) for variant in variants]
            concrete = [variant for variant in resolved if variant.get("type") != "null"]
            if not concrete or (len(path) >= MAX_DEPTH and len(concrete) < len(resolved)):
                return None
            # The variant inherits the union's description ("summary of ...", enum hints).
            return self._value({"description": description, **concrete[0]}, path, name)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((entry for entry in kind if entry != "null"), "null")
        if kind is None:
            kind = ("object" if "properties" in schema or is_root
                    else "array" if "items" in schema else "string")
        if kind == "object":
            return {key: self._value(sub, (*path, key), key)
                    for key, sub in (schema.get("properties") or {}).items()}
        if kind == "array":
            return self._array(schema, path, name)
        if kind == "string":
            return self._string(schema, path, name, description)
        if kind == "integer":
            return self._integer(schema, path)
        if kind == "number":
            return self._number(schema, path)
        if kind == "boolean":
            return self._salt(path) % 2 == 0
        if kind == "null":
            return None
        raise _invalid_request(f"Invalid schema for response_format: unknown type {kind!r}.",
                               "response_format", "invalid_json_schema")

    def _enum(self, values: list, path: Path, name: str, description: str) -> Any:
        if not values:
            raise _invalid_request("Invalid schema for response_format: an enum must list values.",
                                   "response_format", "invalid_json_schema")
        self.enum_fields.append((path, list(values)))
        strings = [value for value in values if isinstance(value, str)]
        if "language" in name.lower():
            guess = guess_language(self.text)
            if guess in strings:
                return guess
        scores = score_enum(self.text, strings, description, name) if strings else {}
        best = max(scores.values(), default=0)
        if best == 0:
            default = next((value for value in NEUTRAL_DEFAULTS if value in strings), None)
            if default is not None:
                return default
            candidates = values
        else:
            candidates = [value for value in strings if scores[value] == best]
        return candidates[self._salt(path) % len(candidates)]

    def _array(self, schema: dict, path: Path, name: str) -> list:
        minimum = schema.get("minItems", 0)
        count = minimum if len(path) >= MAX_DEPTH else max(minimum, 1)
        if "maxItems" in schema:
            count = min(count, schema["maxItems"])
        items = schema.get("items", {})
        return [self._value(items, (*path, index), name) for index in range(count)]

    def _string(self, schema: dict, path: Path, name: str, description: str) -> str:
        lowered = name.lower()
        if lowered == "summary" or "summary" in description.lower():
            text = first_sentence(self.text) or "Empty ticket."
        elif "language" in lowered:
            text = guess_language(self.text)
        elif schema.get("format") in FORMAT_EXAMPLES:
            text = FORMAT_EXAMPLES[schema["format"]]
        else:
            label = lowered.replace("_", " ") or "answer"
            text = f"{label}: {first_sentence(self.text, 80) or 'no details given'}"
        maximum = schema.get("maxLength")
        if maximum is not None:
            text = text[:maximum]
        return text.ljust(schema.get("minLength", 0), ".")

    def _integer(self, schema: dict, path: Path) -> int:
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is None and high is None:
            low, high = 1, 10
        elif low is None:
            low = high - 9
        elif high is None:
            high = low + 9
        low, high = math.ceil(low), math.floor(high)
        return low + self._salt(path) % (high - low + 1)

    def _number(self, schema: dict, path: Path) -> float:
        # A confidence-like value in [0.5, 0.99], stable for this ticket and field.
        fraction = 0.5 + (self._salt(path) % 50) / 100
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if (low is None or low <= fraction) and (high is None or fraction <= high):
            return fraction
        # Outside the allowed range: place the same fraction inside it instead.
        low = high - 1 if low is None else low
        high = low + 1 if high is None else high
        return round(low + fraction * (high - low), 6)


# --- Prompt injection ---------------------------------------------------------------------------

INJECTION_RE = re.compile(r"ignore (?:all )?previous instructions", re.IGNORECASE)
MARK_RE = re.compile(r"\bmark this (?:as )?[\"']?([\w-]+)", re.IGNORECASE)
SET_RE = re.compile(r"\bset ([\w.]+) to [\"']?([^\s\"',;]+)", re.IGNORECASE)


def _find_path(value: dict, name: str) -> Path | None:
    """Where a field called ``name`` (or a dotted path) is, top level first."""
    if "." in name:
        keys = tuple(name.split("."))
        node: Any = value
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        return keys if isinstance(node, dict) else None
    level: list[tuple[Path, dict]] = [((), value)]
    while level:
        for path, node in level:
            if name in node:
                return (*path, name)
        level = [((*path, key), child) for path, node in level for key, child in node.items()
                 if isinstance(child, dict)]
    return None


def _set_at(value: Any, path: Path, new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


def _literal(text: str) -> Any:
    """What a gullible model writes for "set X to TEXT": a JSON scalar if TEXT is one."""
    text = text.rstrip(".")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return text
    return parsed if isinstance(parsed, (int, float, bool)) or parsed is None else text


def obey_injection(answer: dict, text: str, enum_fields: list[tuple[Path, list]]) -> None:
    """Do what instructions inside the ticket say, as a model without defences would."""
    for match in MARK_RE.finditer(text):
        wanted = match.group(1)
        allowed_match = next(((path, allowed) for path, allowed in enum_fields
                              if wanted.lower() in map(str.lower, map(str, allowed))), None)
        if allowed_match is not None:
            path, allowed = allowed_match
            _set_at(answer, path, next(value for value in allowed
                                       if str(value).lower() == wanted.lower()))
            continue
        # Not an allowed value anywhere: it still lands somewhere, breaking the schema.
        path = next((path for path, _ in enum_fields if path[-1] == "urgency"), None)
        if path is None and "urgency" in answer:
            path = ("urgency",)
        if path is None and enum_fields:
            path = enum_fields[0][0]
        if path is not None:
            _set_at(answer, path, wanted.lower())
    for match in SET_RE.finditer(text):
        field_name, raw = match.groups()
        _set_at(answer, _find_path(answer, field_name) or (field_name,), _literal(raw))
    answer["injected"] = True


# --- Requests and replies --------------------------------------------------------------------------

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


def content_characters(content: Any) -> int:
    """Characters of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part["text"]) for part in content
                   if isinstance(part, dict) and isinstance(part.get("text"), str))
    return 0


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
    characters = sum(content_characters(message.get("content")) for message in body["messages"]
                     if isinstance(message, dict))
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
        return checked_setting(name, value, kind, minimum, maximum)
    except ConfigError as error:
        raise _invalid_request(f"Invalid value for '{name}': {error}.", name,
                               "invalid_value") from None


def _invalid_schema(name: str, problem: str) -> ApiError:
    return _invalid_request(f"Invalid schema for response_format '{name}': {problem}",
                            "response_format", "invalid_json_schema")


def _is_object_schema(schema: dict) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema


def _strict_schema_problem(schema: Any, context: tuple[str, ...]) -> str | None:
    """The first rule of strict Structured Outputs this (sub)schema breaks, or None.

    https://platform.openai.com/docs/guides/structured-outputs#supported-schemas : with strict,
    every object must set "additionalProperties": false and list every property in "required".
    Subschemas are searched under properties, items, anyOf/oneOf/allOf and $defs/definitions.
    """
    if not isinstance(schema, dict):
        return None
    where = f"In context={context!r}, "
    if _is_object_schema(schema):
        if schema.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        required = schema.get("required")
        need = ("'required' is required to be supplied and to be an array including every key in "
                "properties.")
        if not isinstance(required, list):
            missing = next(iter(properties), None)
            return where + need + (f" Missing {missing!r}." if missing is not None else "")
        missing = next((key for key in properties if key not in required), None)
        if missing is not None:
            return where + need + f" Missing {missing!r}."
        extra = next((key for key in required if key not in properties), None)
        if extra is not None:
            return where + f"Extra required key {extra!r} supplied."
    children: list[tuple[tuple[str, ...], Any]] = []
    for keyword in ("$defs", "definitions", "properties"):
        if isinstance(schema.get(keyword), dict):
            children += [((*context, keyword, str(key)), sub) for key, sub in schema[keyword].items()]
    items = schema.get("items")
    if isinstance(items, dict):
        children.append(((*context, "items"), items))
    elif isinstance(items, list):
        children += [((*context, "items", str(index)), sub) for index, sub in enumerate(items)]
    for keyword in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(keyword), list):
            children += [((*context, keyword, str(index)), sub)
                         for index, sub in enumerate(schema[keyword])]
    for child_context, child in children:
        problem = _strict_schema_problem(child, child_context)
        if problem is not None:
            return problem
    return None


def check_strict_schema(name: str, schema: dict) -> None:
    """Raise OpenAI's 400 invalid_json_schema when a strict schema breaks Structured Outputs' rules."""
    # https://platform.openai.com/docs/guides/structured-outputs#supported-schemas : the root must
    # be an object (not anyOf, not an array).
    if schema.get("type") != "object":
        raise _invalid_schema(name, "schema must be a JSON Schema of 'type: \"object\"', got "
                                    f"'type: \"{schema.get('type')}\"'.")
    problem = _strict_schema_problem(schema, ())
    if problem is not None:
        raise _invalid_schema(name, problem)


def _parse_response_format(raw: Any) -> tuple[str, dict | None]:
    if raw is None:
        return "text", None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind in ("text", "json_object"):
        return kind, None
    if kind != "json_schema":
        raise _invalid_request("Invalid value for 'response_format.type': expected one of 'text', "
                               "'json_object' or 'json_schema'.", "response_format.type",
                               "invalid_value")
    spec = raw.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise _invalid_request("Missing required parameter: 'response_format.json_schema.name'.",
                               "response_format.json_schema.name", "missing_required_parameter")
    schema = spec.get("schema", {})
    if not isinstance(schema, dict):
        raise _invalid_request("Invalid type for 'response_format.json_schema.schema': expected "
                               "an object.", "response_format.json_schema.schema", "invalid_type")
    strict = spec.get("strict")
    # https://platform.openai.com/docs/api-reference/chat/create : strict is a boolean or null.
    if strict is not None and not isinstance(strict, bool):
        raise _invalid_request("Invalid type for 'response_format.json_schema.strict': expected a "
                               "boolean.", "response_format.json_schema.strict", "invalid_type")
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
        raise _invalid_request("Unsupported parameter: 'max_tokens' is not supported with this "
                               "model. Use 'max_completion_tokens' instead.", "max_tokens",
                               "unsupported_parameter")
    # https://platform.openai.com/docs/api-reference/chat/create : max_completion_tokens replaces
    # max_tokens; the reference does not say both may be sent, so (less forgiving) both are a 400.
    if len(sent) == 2:
        raise _invalid_request("Setting 'max_tokens' and 'max_completion_tokens' at the same time "
                               "is not supported.", "max_tokens", "invalid_parameter_combination")
    if not sent:
        return None
    name = sent[0]
    limit = _optional_number(body, name, int, 1, None)
    # https://platform.openai.com/docs/models : each model has a maximum of output tokens.
    most = max_output_tokens(model)
    if limit > most:
        raise _invalid_request(f"{name} is too large: {limit}. This model supports at most {most} "
                               f"completion tokens, whereas you provided {limit}.", name, "invalid_value")
    return limit


def _check_temperature(body: dict, spec: ModelSpec) -> float | None:
    temperature = _optional_number(body, "temperature", float, 0, 2)
    # https://platform.openai.com/docs/guides/reasoning : reasoning models only take the default
    # temperature, 1; anything else is an unsupported value.
    if spec.reasoning and temperature is not None and temperature != 1:
        raise _invalid_request(f"Unsupported value: 'temperature' does not support "
                               f"{json.dumps(body['temperature'])} with this model. Only the default "
                               "(1) value is supported.", "temperature", "unsupported_value")
    return temperature


def parse_chat_request(body: Any) -> ChatRequest:
    """Validate a request body the way OpenAI does, raising a 400 or 404 ApiError when invalid."""
    if not isinstance(body, dict):
        raise _invalid_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid_request("you must provide a model parameter")
    messages = body.get("messages")
    if messages is None:
        raise _invalid_request("Missing required parameter: 'messages'.", "messages",
                               "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise _invalid_request("Invalid 'messages': expected a non-empty array.", "messages",
                               "invalid_value")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in MESSAGE_ROLES:
            raise _invalid_request(f"Invalid value for 'messages[{index}].role': expected one of "
                                   f"{', '.join(MESSAGE_ROLES)}.", f"messages[{index}].role",
                                   "invalid_value")
    # https://platform.openai.com/docs/guides/error-codes : a model that does not exist is a 404
    # (only the documented aliases and their dated snapshots exist here).
    spec = model_spec(model)
    if spec is None:
        raise model_not_found(model)
    # Features this simulator does not have fail loudly rather than answer something else.
    if body.get("stream"):
        raise _invalid_request("stream is not supported by the simulator.", "stream", "unsupported_value")
    if body.get("n") not in (None, 1):
        raise _invalid_request("Only n=1 is supported by the simulator.", "n", "unsupported_value")
    max_tokens = _check_token_limits(body, spec, model)
    temperature = _check_temperature(body, spec)
    response_type, schema = _parse_response_format(body.get("response_format"))
    return ChatRequest(model=model, messages=messages, response_type=response_type, schema=schema,
                       max_tokens=max_tokens, temperature=temperature)


@dataclass
class Answer:
    """What the model would say without faults."""

    value: Any  # the structured answer
    content: str  # as written: JSON, or plain text for response_format "text"
    enum_fields: list[tuple[Path, list]]
    is_json: bool


def compose_answer(chat: ChatRequest, obey_injections: bool) -> Answer:
    """The model's answer to a request: schema-conforming, unless the ticket talks it out of it."""
    text = ticket_text(chat.messages)
    answerer = SchemaAnswerer(text, chat.schema if chat.schema is not None else DEFAULT_SCHEMA)
    value = answerer.build()
    if obey_injections and isinstance(value, dict) and INJECTION_RE.search(text):
        obey_injection(value, text, answerer.enum_fields)
    if chat.response_type == "text":
        content = "\n".join(f"{key}: {item}" for key, item in value.items())
        return Answer(value, content, answerer.enum_fields, is_json=False)
    return Answer(value, json.dumps(value, ensure_ascii=False), answerer.enum_fields, is_json=True)


class Outcome(NamedTuple):
    """What happens to one request: "ok" or a fault kind, with the status of an error."""

    kind: str
    status: int | None = None


OK = Outcome("ok")
CONTENT_KINDS = ("ok", "timeout", "malformed", "bad_enum", "refusal", "truncated")
# Scriptable outcomes that are neither content nor a status: an account out of credit.
SCRIPT_ONLY_KINDS = ("insufficient_quota",)
OUT_OF_ENUM = ("unknown", "critical", "n/a", "unspecified")


def error_outcome(status: int) -> Outcome:
    """The outcome of an injected failure with this status (429 is a rate limit)."""
    return Outcome("rate_limit") if status == 429 else Outcome("error", status)


def parse_outcome(entry: Any) -> Outcome:
    """One entry of a fault script: a name of CONTENT_KINDS, "insufficient_quota" or a status 400-599."""
    text = str(entry).strip().lower()
    if text in CONTENT_KINDS or text in SCRIPT_ONLY_KINDS:
        return Outcome(text)
    if text.isdigit() and 400 <= int(text) <= 599:
        return error_outcome(int(text))
    raise ConfigError(f"unknown outcome {entry!r}: use {', '.join(CONTENT_KINDS + SCRIPT_ONLY_KINDS)} "
                      "or a status 400-599")


@dataclass
class Reply:
    """The assistant message and finish reason that go out."""

    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None


def _cut(content: str, share: float) -> str:
    """A proper prefix: for JSON that is always invalid, since the closing brace goes."""
    return content[:max(1, min(len(content) - 1, int(len(content) * share)))]


def shape_reply(answer: Answer, kind: str, rng: random.Random, max_tokens: int | None) -> tuple[Reply, bool]:
    """The reply for an outcome kind, and whether the fault could be applied to this answer."""
    if kind == "refusal":
        return Reply(None, refusal=REFUSAL), True
    if kind == "malformed":
        return Reply(_cut(answer.content, 0.5)), True
    if kind == "truncated":
        return Reply(_cut(answer.content, 0.3), "length"), True
    applied = False
    content = answer.content
    if kind == "bad_enum" and answer.is_json and answer.enum_fields:
        path, allowed = rng.choice(answer.enum_fields)
        wrong = next(value for value in OUT_OF_ENUM if value not in allowed)
        value = copy.deepcopy(answer.value)
        _set_at(value, path, wrong)
        content, applied = json.dumps(value, ensure_ascii=False), True
    if max_tokens is not None and count_tokens(content) > max_tokens:
        # A real model stops mid-answer when it runs out of tokens.
        return Reply(content[:max_tokens * CHARS_PER_TOKEN], "length"), applied
    return Reply(content), applied


def completion_body(chat: ChatRequest, reply: Reply, prompt_tokens: int) -> dict:
    """A chat.completion object as OpenAI returns it."""
    completion_tokens = count_tokens(reply.content or reply.refusal or "")
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        # https://platform.openai.com/docs/models : an alias answers with its dated snapshot's name.
        "model": chat.answer_model,
        "system_fingerprint": f"fp_{stable_hash(chat.answer_model) % 16**10:010x}",
        "service_tier": "default",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.content, "refusal": reply.refusal,
                        "annotations": []},
            "logprobs": None,
            "finish_reason": reply.finish_reason,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        },
    }


# --- State ----------------------------------------------------------------------------------------

# Latency is lognormal with p95 = P95_OVER_MEAN x mean. For a lognormal, p95 / mean is
# exp(Z95 * sigma - sigma**2 / 2); sigma is the smaller root of that equation.
P95_OVER_MEAN = 1.43
Z95 = 1.6448536269514722
LATENCY_SIGMA = Z95 - math.sqrt(Z95 ** 2 - 2 * math.log(P95_OVER_MEAN))


class SimState:
    """All in-memory state of one simulator; touched only from its event loop."""

    def __init__(self, config: SimConfig):
        self.config = config
        self.started = time.monotonic()
        # Separate generators, so changing latency never changes which requests fail.
        self.fault_rng = random.Random(f"{config.seed}:faults")
        self.latency_rng = random.Random(f"{config.seed}:latency")
        # Set on shutdown: hung and sleeping requests answer at once instead of holding it up.
        self.stopping = asyncio.Event()
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget statistics, the fault script, captured requests and the rate-limit windows."""
        self.request_window = SlidingWindow()
        self.token_window = SlidingWindow()
        self.script: deque[Outcome] = deque()
        self.captured: deque[Any] = deque(maxlen=CAPTURED_REQUESTS)
        self.requests_total = 0
        self.responses_by_status: Counter[str] = Counter()
        self.completions_ok = 0
        self.faults_injected = Counter(dict.fromkeys(FAULT_KINDS, 0))
        self.prompt_tokens_total = 0
        self.completion_tokens_total = 0
        self.quota_tokens_total = 0  # what admitted requests were charged to the token window
        self.requests_by_model: Counter[str] = Counter()
        # The latencies drawn (not wall time, which also counts event-loop delay under load).
        self.sampled_latencies: deque[float] = deque(maxlen=CAPTURED_REQUESTS)
        # Requests being answered during a reset still finish: in_flight keeps counting them.
        self.max_in_flight = self.in_flight

    # Faults and limits -----------------------------------------------------------------

    def admit(self, now: float, model: str, tokens: int) -> Outcome:
        """Charge a request to the rate budgets and decide its outcome, or raise a 429 ApiError.

        ``tokens`` is the request's quota_tokens(). Nothing is charged for a 429, whether an
        account out of credit, the budget or the fault script caused it.
        """
        config = self.config
        # https://platform.openai.com/docs/guides/error-codes : an account out of credit is
        # refused whatever its rate limits say.
        if config.insufficient_quota:
            self.faults_injected["insufficient_quota"] += 1
            raise insufficient_quota_error()
        for kind, window, limit, weight in (("requests", self.request_window, config.rpm, 1),
                                            ("tokens", self.token_window, config.tpm, tokens)):
            wait = window.wait_for_slot(now, limit, config.rate_window, weight)
            if wait:
                used = limit - window.remaining(now, limit, config.rate_window)
                raise rate_limit_error(model, kind, limit, used, weight, wait)
        outcome = self.script.popleft() if self.script else self._draw_outcome()
        if outcome.kind == "rate_limit":
            self.faults_injected["rate_limit"] += 1
            raise rate_limit_error(model, "requests", config.rpm, config.rpm, 1, 1.0)
        if outcome.kind == "insufficient_quota":
            self.faults_injected["insufficient_quota"] += 1
            raise insufficient_quota_error()
        self.request_window.record(now)
        self.token_window.record(now, tokens)
        self.quota_tokens_total += tokens
        return outcome

    def _draw_outcome(self) -> Outcome:
        roll = self.fault_rng.random()  # drawn for every request, so a seed fixes the sequence
        for kind, ratio_name in FAULT_RATIOS:
            ratio = getattr(self.config, ratio_name)
            if roll < ratio:
                return error_outcome(self.config.error_status) if kind == "error" else Outcome(kind)
            roll -= ratio
        return OK

    def latency(self) -> float:
        """Seconds to think about one answer: lognormal around latency_mean."""
        mean = self.config.latency_mean
        if mean <= 0:
            return 0.0
        seconds = self.latency_rng.lognormvariate(math.log(mean) - LATENCY_SIGMA ** 2 / 2, LATENCY_SIGMA)
        self.sampled_latencies.append(seconds)
        return seconds

    async def pause(self, seconds: float) -> None:
        """Sleep without blocking other requests; cut short when the server stops."""
        if seconds > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)

    def rate_limit_headers(self, now: float) -> dict[str, str]:
        """OpenAI's x-ratelimit-* headers; a reset is when the oldest counted use leaves the window."""
        config = self.config
        headers = {}
        for kind, window, limit in (("requests", self.request_window, config.rpm),
                                    ("tokens", self.token_window, config.tpm)):
            headers[f"x-ratelimit-limit-{kind}"] = str(limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(window.remaining(now, limit, config.rate_window))
            headers[f"x-ratelimit-reset-{kind}"] = openai_duration(window.reset_after(now, config.rate_window))
        return headers

    # Reports ---------------------------------------------------------------------------------

    def stats(self) -> dict:
        """The figures behind GET /_sim/stats."""
        return {
            "requests_total": self.requests_total,
            "responses_by_status": dict(self.responses_by_status),
            "responses_400": self.responses_by_status["400"],
            "responses_404": self.responses_by_status["404"],
            "responses_429": self.responses_by_status["429"],
            "completions_ok": self.completions_ok,
            "faults_injected": dict(self.faults_injected),
            "prompt_tokens_total": self.prompt_tokens_total,
            "completion_tokens_total": self.completion_tokens_total,
            "quota_tokens_total": self.quota_tokens_total,
            "requests_by_model": dict(self.requests_by_model),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "sampled_latencies_ms": [round(seconds * 1000, 1) for seconds in self.sampled_latencies],
            "script_pending": len(self.script),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }

    def config_view(self) -> dict:
        """Current configuration for GET /_sim/config (the API key left out)."""
        view = dataclasses.asdict(self.config)
        view.pop("api_key")
        return view


def rate_limit_error(model: str, kind: str, limit: int, used: int, requested: int,
                     wait: float) -> ApiError:
    """OpenAI's 429 for the "requests" or "tokens" budget, with when to come back."""
    unit = "requests per min (RPM)" if kind == "requests" else "tokens per min (TPM)"
    if math.isinf(wait):
        # Larger than the whole budget: waiting never helps, so tell the SDK not to retry.
        return openai_error(
            429, f"Request too large for {model} in organization org-sim on {unit}: Limit {limit}, "
                 f"Requested {requested}. The input or output tokens must be reduced in order to "
                 "run successfully.", kind, code="rate_limit_exceeded",
            headers={"x-should-retry": "false"})
    message = (f"Rate limit reached for {model} in organization org-sim on {unit}: Limit {limit}, "
               f"Used {used}, Requested {requested}. Please try again in {openai_duration(wait)}. "
               "Visit https://platform.openai.com/account/rate-limits to learn more.")
    headers = {"retry-after": str(max(1, math.ceil(wait))),
               "retry-after-ms": str(max(1, math.ceil(wait * 1000)))}
    return openai_error(429, message, kind, code="rate_limit_exceeded", headers=headers)


# --- Application plumbing ---------------------------------------------------------------------

STATE_KEY = web.AppKey("state", SimState)


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def _authorized(request: web.Request, config: SimConfig) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    # Constant-time comparison of bytes (compare_digest refuses non-ASCII str).
    return scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(),
                                                              config.api_key.encode())


def _unauthorized(request: web.Request) -> ApiError:
    _, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if not key:
        return openai_error(
            401, "You didn't provide an API key. You need to provide your API key in an "
                 "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error")
    # Like OpenAI, show only enough of the key to recognise it.
    shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "*" * len(key)
    return openai_error(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                             "https://platform.openai.com/account/api-keys.",
                        "invalid_request_error", code="invalid_api_key")


@web.middleware
async def api_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Auth, counters and OpenAI's headers for /v1; a 400 for bad /_sim input."""
    if not request.path.startswith("/v1/"):
        try:
            return await handler(request)
        except ConfigError as error:
            return web.json_response({"error": str(error)}, status=400)
    state = _state(request)
    started = time.monotonic()
    state.requests_total += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        if not _authorized(request, state.config):
            raise _unauthorized(request)
        response = await handler(request)
    except ApiError as error:
        response = error.response()
    except web.HTTPException as error:  # the router's 404 and 405
        response = openai_error(error.status, f"Invalid URL ({request.method} {request.path})",
                                "invalid_request_error").response()
    except Exception:  # a bug in a handler: answer like a server would, and say so in the log
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = injected_error(500).response()
    finally:
        state.in_flight -= 1
    response.headers.update(state.rate_limit_headers(time.monotonic()))
    response.headers["x-request-id"] = f"req_{uuid.uuid4().hex}"
    response.headers["openai-processing-ms"] = str(round((time.monotonic() - started) * 1000))
    state.responses_by_status[str(response.status)] += 1
    return response


# --- /v1 handlers -------------------------------------------------------------------------------------

async def _read_captured_body(request: web.Request, state: SimState) -> Any:
    """The JSON body, captured as received for /_sim/requests (as text when it is not JSON)."""
    raw = await request.text()
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        state.captured.append(raw)
        raise _invalid_request("We could not parse the JSON body of your request. The OpenAI API "
                               "expects a JSON payload, but what was sent was not valid JSON.") from None
    state.captured.append(body)
    return body


async def handle_chat_completions(request: web.Request) -> web.Response:
    state = _state(request)
    config = state.config
    body = await _read_captured_body(request, state)
    chat = parse_chat_request(body)
    answer = compose_answer(chat, config.obey_injections)  # an unanswerable schema is a 400 too
    prompt_tokens = chat.prompt_tokens
    state.requests_by_model[chat.model] += 1
    # https://platform.openai.com/docs/guides/rate-limits : the token budget is charged up front,
    # from the request's characters and maximum completion tokens (see quota_tokens).
    outcome = state.admit(time.monotonic(), chat.model, quota_tokens(body))
    if outcome.kind == "error":
        state.faults_injected["error"] += 1
        raise injected_error(outcome.status)
    if outcome.kind == "timeout":
        state.faults_injected["timeout"] += 1
        await state.pause(config.hang_seconds)
        raise injected_error(504)
    await state.pause(state.latency())
    reply, applied = shape_reply(answer, outcome.kind, state.fault_rng, chat.max_tokens)
    if applied:
        state.faults_injected[outcome.kind] += 1
    else:
        state.completions_ok += 1
    body = completion_body(chat, reply, prompt_tokens)
    state.prompt_tokens_total += body["usage"]["prompt_tokens"]
    state.completion_tokens_total += body["usage"]["completion_tokens"]
    return web.json_response(body)


def _model_object(name: str) -> dict:
    return {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": "system"}


async def handle_models(request: web.Request) -> web.Response:
    """GET /v1/models: every alias and dated snapshot the simulator knows."""
    return web.json_response({"object": "list", "data": [_model_object(name) for name in KNOWN_MODELS]})


async def handle_model(request: web.Request) -> web.Response:
    """GET /v1/models/{model}: one model, or OpenAI's 404 model_not_found."""
    # https://platform.openai.com/docs/api-reference/models/retrieve
    name = request.match_info["model"]
    if model_spec(name) is None:
        raise model_not_found(name)
    return web.json_response(_model_object(name))


# --- /_sim handlers ---------------------------------------------------------------------------------

async def _sim_payload(request: web.Request) -> dict:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError("the request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ConfigError("the request body must be a JSON object")
    return payload


async def handle_sim_stats(request: web.Request) -> web.Response:
    return web.json_response(_state(request).stats())


async def handle_sim_config_get(request: web.Request) -> web.Response:
    return web.json_response(_state(request).config_view())


async def handle_sim_config_post(request: web.Request) -> web.Response:
    """Change runtime settings; all-or-nothing, 400 naming the first bad value."""
    state = _state(request)
    payload = await _sim_payload(request)
    settings = {}
    for name, value in payload.items():
        if name not in RUNTIME_SETTINGS:
            raise ConfigError(f"unknown setting {name}")
        settings[name] = checked_setting(name, value, *RUNTIME_SETTINGS[name])
    _check_fault_total({**dataclasses.asdict(state.config), **settings})
    for name, value in settings.items():
        setattr(state.config, name, value)
    return web.json_response(state.config_view())


async def handle_sim_script(request: web.Request) -> web.Response:
    """Replace the fault script: outcomes the next requests take in order ([] clears it)."""
    state = _state(request)
    outcomes = (await _sim_payload(request)).get("outcomes")
    if not isinstance(outcomes, list):
        raise ConfigError('send {"outcomes": [...]}')
    state.script = deque(parse_outcome(entry) for entry in outcomes)
    return web.json_response({"queued": len(state.script)})


async def handle_sim_requests(request: web.Request) -> web.Response:
    captured = _state(request).captured
    raw = request.query.get("limit", str(CAPTURED_REQUESTS))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError("limit must be a whole number >= 1")
    limit = int(raw)
    return web.json_response({"requests": list(captured)[-limit:]})


async def handle_sim_reset(request: web.Request) -> web.Response:
    state = _state(request)
    state.reset()
    return web.json_response(state.stats())


# --- Application ------------------------------------------------------------------------------------

async def _release_waiters(app: web.Application) -> None:
    app[STATE_KEY].stopping.set()


def create_app(config: SimConfig) -> web.Application:
    """Build the simulator's aiohttp application."""
    app = web.Application(middlewares=[api_middleware])
    app[STATE_KEY] = SimState(config)
    app.router.add_post("/v1/chat/completions", handle_chat_completions)
    app.router.add_get("/v1/models", handle_models)
    app.router.add_get("/v1/models/{model}", handle_model)
    app.router.add_get("/_sim/stats", handle_sim_stats)
    app.router.add_get("/_sim/config", handle_sim_config_get)
    app.router.add_post("/_sim/config", handle_sim_config_post)
    app.router.add_post("/_sim/script", handle_sim_script)
    app.router.add_get("/_sim/requests", handle_sim_requests)
    app.router.add_post("/_sim/reset", handle_sim_reset)
    # on_shutdown runs before the server waits for open requests, so hangs end first.
    app.on_shutdown.append(_release_waiters)
    return app


def state_of(app: web.Application) -> SimState:
    """The in-memory state behind an application made by create_app."""
    return app[STATE_KEY]


@contextlib.contextmanager
def running_simulator(**options: Any) -> Iterator[RunningSimulator]:
    """Serve a simulator on a free port in a background thread for the ``with`` block.

    ``options`` are SimConfig fields; ``port`` defaults to 0 (a free port). The SDK's
    base_url is ``simulator.base_url + "/v1"``.
    """
    config = SimConfig(**{"port": 0, **options})
    with serve_in_thread(create_app, state_of, config, "llm-sim") as simulator:
        yield simulator


async def serve(config: SimConfig) -> None:
    """Serve until SIGTERM or SIGINT, announcing the address once connections are accepted."""
    await serve_until_signalled(create_app(config), config, "llm simulator")


def parse_args(argv: list[str] | None = None) -> SimConfig:
    """Read the command line into a SimConfig."""
    defaults = SimConfig()
    parser = argparse.ArgumentParser(prog="python -m sim.llm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    parser.add_argument("--api-key", default=defaults.api_key, help="the only Bearer key accepted")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of faults and latency")
    parser.add_argument("--latency-mean", type=float, default=defaults.latency_mean,
                        help="mean seconds per answer, lognormal with p95 = 1.43 x mean (0: none)")
    parser.add_argument("--rpm", type=int, default=defaults.rpm, help="requests per window")
    parser.add_argument("--tpm", type=int, default=defaults.tpm,
                        help="tokens per window, charged as OpenAI does before a request runs: "
                             "characters of messages and response_format / 4, plus max tokens "
                             "(the model's maximum output when the request sets none)")
    parser.add_argument("--rate-window", type=float, default=defaults.rate_window,
                        help="rate-limit window in seconds (shorten it to compress time)")
    parser.add_argument("--error-ratio", type=float, default=defaults.error_ratio,
                        help="share of completions that fail with --error-status")
    parser.add_argument("--error-status", type=int, default=defaults.error_status)
    parser.add_argument("--timeout-ratio", type=float, default=defaults.timeout_ratio,
                        help="share of completions held --hang-seconds without an answer")
    parser.add_argument("--hang-seconds", type=float, default=defaults.hang_seconds)
    parser.add_argument("--malformed-ratio", type=float, default=defaults.malformed_ratio,
                        help="share of answers that are not valid JSON")
    parser.add_argument("--bad-enum-ratio", type=float, default=defaults.bad_enum_ratio,
                        help="share of answers with one enum field outside its enum")
    parser.add_argument("--refusal-ratio", type=float, default=defaults.refusal_ratio,
                        help="share of answers that are refusals")
    parser.add_argument("--truncate-ratio", type=float, default=defaults.truncate_ratio,
                        help='share of answers cut short with finish_reason "length"')
    parser.add_argument("--no-obey-injections", dest="obey_injections", action="store_false",
                        help="ignore instructions inside tickets instead of following them")
    parser.add_argument("--insufficient-quota", action="store_true",
                        help="answer every completion 429 insufficient_quota (an account out of "
                             "credit), with no retry-after")
    return config_from_args(parser, SimConfig, argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sim.llm``."""
    run_command_line(serve, parse_args(argv))


if __name__ == "__main__":
    main()
