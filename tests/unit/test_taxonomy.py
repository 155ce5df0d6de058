"""Taxonomy files: what they declare, the schema built from them, and clear errors when wrong."""

import json

import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import ValidationError

from app.domain.taxonomy import TAXONOMY_DIR, TaxonomyError, load_taxonomy

MINIMAL = {
    "name": "t",
    "version": "1",
    "fields": {"kind": {"default": "x", "values": {"x": {"tag": "t_x"}, "y": {"tag": "t_y"}}}},
}


def write(tmp_path, data, name="t.yaml"):
    path = tmp_path / name
    path.write_text(json.dumps(data))  # JSON is valid YAML: both formats load
    return path


def test_default_reproduces_the_seed():
    taxonomy = load_taxonomy()
    assert {name: list(f.values) for name, f in taxonomy.fields.items()} == {
        "root_cause": ["refund", "bug", "feature", "other"],
        "urgency": ["high", "medium", "low"],
        "sentiment": ["negative", "neutral", "positive"],
    }
    assert taxonomy.tags_for({"root_cause": "bug", "urgency": "high", "sentiment": "neutral"}) == [
        "ai_processed",
        "ai_bug",
        "ai_high",
        "ai_neutral",
    ]
    assert [taxonomy.priority_for({"urgency": u}) for u in ("high", "medium", "low")] == ["high", "normal", "low"]


def test_output_model_is_a_strict_schema_with_enums():
    taxonomy = load_taxonomy()
    schema = to_strict_json_schema(taxonomy.output_model)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"summary", "root_cause", "urgency", "sentiment", "confidence", "language"}
    assert schema["properties"]["urgency"]["enum"] == ["high", "medium", "low"]
    model = taxonomy.output_model
    good = {
        "summary": "s",
        "root_cause": "bug",
        "urgency": "low",
        "sentiment": "neutral",
        "language": "en",
        "confidence": {"root_cause": 1, "urgency": 1, "sentiment": 1},
    }
    model.model_validate(good)
    for bad in (
        {**good, "urgency": "critical"},
        {**good, "injected": True},
        {k: v for k, v in good.items() if k != "summary"},
    ):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_the_it_catalog_example_loads():
    catalog = load_taxonomy(TAXONOMY_DIR / "it_service_catalog.yaml")
    assert list(catalog.fields) == ["category", "request_type", "sla"]
    assert catalog.priority.field == "sla"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["fields"]["kind"].update(default="z"), "default 'z' is not one of"),
        (lambda d: d["fields"]["kind"]["values"]["x"].update(tag="Has Space"), "not a valid Zendesk tag"),
        (lambda d: d["fields"].update(summary=d["fields"]["kind"]), "lowercase identifier"),
        (lambda d: d.update(priority={"field": "kind", "map": {"x": "high"}}), "map exactly the values"),
        (lambda d: d.update(priority={"field": "nope", "map": {}}), "not a declared field"),
        (lambda d: d.update(unknown_key=1), "unknown_key"),
    ],
)
def test_mistakes_are_named(tmp_path, change, message):
    data = json.loads(json.dumps(MINIMAL))
    change(data)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(write(tmp_path, data))


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("fields: [unclosed")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(broken)
