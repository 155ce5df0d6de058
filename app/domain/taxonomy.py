"""The taxonomy: which fields the fleet assigns, their allowed values, tags and priority map.

One YAML (or JSON) file declares it; the LLM's output schema, the prompt, validation, the rules
classifier's keywords, the Zendesk tags and the urgency-to-priority map are all built from it.
`app/taxonomies/default.yaml` reproduces the seed (root cause, urgency, sentiment);
`app/taxonomies/it_service_catalog.yaml` maps tickets to an IT service catalog instead.
See README.md "Write your own taxonomy".
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

TAXONOMY_DIR = Path(__file__).resolve().parent.parent / "taxonomies"  # app/taxonomies: a path users name
DEFAULT_TAXONOMY = TAXONOMY_DIR / "default.yaml"
ZendeskPriority = Literal["low", "normal", "high", "urgent"]
# How much of the fleet's answer reaches Zendesk (README "Shadow and suggest modes"). A field:
# shadow records its prediction and writes nothing, suggest names it in the private note only,
# tag adds its tag (and names it in the note). The priority: shadow, suggest, or write it.
FieldMode = Literal["shadow", "suggest", "tag"]
PriorityMode = Literal["shadow", "suggest", "write"]
# TRIAGE_MODE, every field at once; unset, each field's own mode from the taxonomy applies.
TriageMode = Literal["shadow", "suggest", "live"]
# Fields every analysis has besides the taxonomy's own.
RESERVED_FIELDS = frozenset({"summary", "confidence", "language"})
TAG_RE = re.compile(r"^[a-z0-9_:/.-]{1,80}$")  # Zendesk tags: lowercase, no spaces
FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class TaxonomyError(ValueError):
    """The taxonomy file is missing, unreadable or inconsistent."""


class FieldValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str
    description: str = ""
    keywords: list[str] = Field(default_factory=list, description="words the rules classifier looks for")

    @field_validator("tag")
    @classmethod
    def _zendesk_tag(cls, tag: str) -> str:
        if not TAG_RE.match(tag):
            raise ValueError(f"tag {tag!r} is not a valid Zendesk tag (lowercase letters, digits, _ - : / .)")
        return tag


class TaxonomyField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    values: dict[str, FieldValue]
    default: str = Field(description="the rules classifier's answer when no keyword matches")
    # A Zendesk drop-down custom field where agents set this field: its option values (a value's
    # name or its tag) are read back as people's labels by `python -m app train --from-zendesk`.
    zendesk_field_id: int | None = Field(default=None, gt=0)
    mode: FieldMode = "tag"
    # The field's name in the private note per language ("de", "fr"; NOTE_LANGUAGE=ticket); absent,
    # the field's own name, title-cased. Never part of the prompt, so not of its fingerprint either.
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_is_a_value(self) -> TaxonomyField:
        if not self.values:
            raise ValueError("a field needs at least one value")
        if self.default not in self.values:
            raise ValueError(f"default {self.default!r} is not one of {list(self.values)}")
        return self


class PriorityRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    map: dict[str, ZendeskPriority]
    mode: PriorityMode = "write"


@dataclass(frozen=True)
class Modes:
    """What the fleet writes for each field (and the priority, None when the taxonomy maps none)
    under one TRIAGE_MODE; `ticket` is the mode a ticket is then handled in: live when a tag or a
    priority is written, suggest when only the note is, shadow when nothing is."""

    fields: dict[str, FieldMode]
    priority: PriorityMode | None

    @property
    def ticket(self) -> TriageMode:
        if "tag" in self.fields.values() or self.priority == "write":
            return "live"
        if "suggest" in self.fields.values() or self.priority == "suggest":
            return "suggest"
        return "shadow"

    def record(self) -> dict[str, str]:
        """Per field, and "priority" when one is mapped: the mode, as records carry it."""
        modes: dict[str, str] = dict(self.fields)
        if self.priority is not None:
            modes["priority"] = self.priority
        return modes


class Taxonomy(BaseModel):
    """A parsed, checked taxonomy file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    processed_tag: str = "ai_processed"
    fallback_tag: str = "ai_fallback"
    summary_max_chars: int = Field(default=100, ge=20, le=500)
    instructions: str = ""
    fields: dict[str, TaxonomyField]
    priority: PriorityRule | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        if not self.fields:
            raise ValueError("declare at least one field")
        for name in self.fields:
            if not FIELD_RE.match(name) or name in RESERVED_FIELDS:
                raise ValueError(
                    f"field name {name!r} must be a lowercase identifier other than {sorted(RESERVED_FIELDS)}"
                )
        for tag in (self.processed_tag, self.fallback_tag):
            FieldValue(tag=tag)  # same tag rules
        if self.priority is not None:
            if self.priority.field not in self.fields:
                raise ValueError(f"priority.field {self.priority.field!r} is not a declared field")
            values = set(self.fields[self.priority.field].values)
            if set(self.priority.map) != values:
                raise ValueError(f"priority.map must map exactly the values {sorted(values)}")
        return self

    @cached_property
    def fingerprint(self) -> str:
        """Short hash of the whole taxonomy but its modes and note labels (they change what is
        written, not what is asked): part of the prompt version and the cache key."""
        dumped = self.model_dump(
            exclude={"fields": {name: {"mode", "labels"} for name in self.fields}, "priority": {"mode"}}
        )
        return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:12]

    def modes(self, triage_mode: TriageMode | None = None) -> Modes:
        """Each field's mode: TRIAGE_MODE's for every field when it is set, else the taxonomy's own."""
        priority = self.priority.mode if self.priority is not None else None
        if triage_mode is None:
            return Modes({name: field.mode for name, field in self.fields.items()}, priority)
        field_mode: FieldMode = "tag" if triage_mode == "live" else triage_mode
        priority_mode: PriorityMode = "write" if triage_mode == "live" else triage_mode
        return Modes(dict.fromkeys(self.fields, field_mode), priority_mode if self.priority is not None else None)

    @cached_property
    def output_model(self) -> type[BaseModel]:
        """The Structured Outputs schema: summary, one enum per field, confidences, language.

        Only keywords OpenAI's strict mode accepts (no length or range limits); those are
        checked after parsing instead (see app.clients.llm)."""
        # Field definitions as create_model takes them, typed as `fields` below: mypy matches a
        # **dict against create_model's own keywords (__doc__, __base__...) too.
        scores: dict[str, Any] = {
            name: (float, Field(description=f"confidence in {name}, 0 to 1")) for name in self.fields
        }
        confidence = create_model("Confidence", __config__=ConfigDict(extra="forbid"), **scores)
        fields: dict[str, Any] = {
            "summary": (str, Field(description=f"one sentence, at most {self.summary_max_chars} characters")),
        }
        for name, field in self.fields.items():
            allowed = tuple(field.values)
            fields[name] = (Literal[allowed], Field(description=field.description or name))
        fields["confidence"] = (confidence, Field(description="confidence per field"))
        fields["language"] = (str, Field(description="ISO 639-1 code of the ticket's language, e.g. en"))
        return create_model("TicketAnalysis", __config__=ConfigDict(extra="forbid"), **fields)

    def tags_for(self, values: dict[str, str]) -> list[str]:
        """Processed tag first, then one tag per field value (unknown values give no tag)."""
        tags = [self.processed_tag]
        for name, field in self.fields.items():
            value = field.values.get(values.get(name, ""))
            if value is not None:
                tags.append(value.tag)
        return tags

    def priority_for(self, values: dict[str, str]) -> str | None:
        if self.priority is None:
            return None
        return self.priority.map.get(values.get(self.priority.field, ""))

    def value_for_priority(self, priority: str | None) -> str | None:
        """The priority field's value a Zendesk priority stands for (the map read backwards), or
        None when no value or several map to it. "urgent", unmapped, counts as the value mapped
        to the highest priority, since a person who chose it meant at least that."""
        if self.priority is None or not priority:
            return None
        mapped = self.priority.map
        if priority not in mapped.values() and priority == "urgent":
            priority = max(mapped.values(), key=get_args(ZendeskPriority).index)  # declared low to urgent
        values = [value for value, target in mapped.items() if target == priority]
        return values[0] if len(values) == 1 else None


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and check a taxonomy file (YAML or JSON); the default one when `path` is None."""
    path = path or DEFAULT_TAXONOMY
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TaxonomyError(f"cannot read taxonomy {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise TaxonomyError(f"taxonomy {path} is not valid YAML/JSON: {e}") from e
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg']}" for err in e.errors())
        raise TaxonomyError(f"taxonomy {path}: {problems}") from e
