"""What the simulated model answers: schema-conforming values, obeyed injections, faults and replies.

``compose_answer`` is the answer without faults; ``Outcome`` is what happens to one request
(fault script or seeded draw); ``shape_reply`` applies a content fault; ``completion_body``
writes the chat.completion object.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, NamedTuple

from sim.common import SimConfigError
from sim.llm.chat import ChatRequest
from sim.llm.schema import DEFAULT_SCHEMA, Path, SchemaAnswerer
from sim.llm.text import CHARS_PER_TOKEN, count_tokens, stable_hash, ticket_text

REFUSAL = "I'm sorry, I can't help with that."


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
        level = [
            ((*path, key), child) for path, node in level for key, child in node.items() if isinstance(child, dict)
        ]
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
        allowed_match = next(
            ((path, allowed) for path, allowed in enum_fields if wanted.lower() in map(str.lower, map(str, allowed))),
            None,
        )
        if allowed_match is not None:
            path, allowed = allowed_match
            _set_at(answer, path, next(value for value in allowed if str(value).lower() == wanted.lower()))
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


# --- Answers and faults ---------------------------------------------------------------------------


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
    raise SimConfigError(
        f"unknown outcome {entry!r}: use {', '.join(CONTENT_KINDS + SCRIPT_ONLY_KINDS)} or a status 400-599"
    )


@dataclass
class Reply:
    """The assistant message and finish reason that go out."""

    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None


def _cut(content: str, share: float) -> str:
    """A proper prefix: for JSON that is always invalid, since the closing brace goes."""
    return content[: max(1, min(len(content) - 1, int(len(content) * share)))]


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
        return Reply(content[: max_tokens * CHARS_PER_TOKEN], "length"), applied
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
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content, "refusal": reply.refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }
