"""The local model: training, the model file (no code on load, the taxonomy checked), its card,
labelled files, and the classifier the workers use."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from app import services
from app.domain.taxonomy import TAXONOMY_DIR, load_taxonomy
from app.learn.classifier import LocalClassifier
from app.learn.model import LocalModelError, load_model
from app.learn.training import Example, card_path, check_trainable, read_examples
from tests.conftest import labelled_tickets

TAXONOMY = load_taxonomy()


def test_the_model_learns_every_field_and_says_how_well_on_held_out_tickets(local_model_file: Path):
    card = json.loads(card_path(local_model_file).read_text())
    assert card["taxonomy"] == {"name": "support-triage", "version": "1"}
    assert card["examples"] == 400 and 0.15 < card["held_out_share"] < 0.25
    for name in TAXONOMY.fields:
        field = card["fields"][name]
        assert sum(field["examples"].values()) == 400
        # Measured on tickets it did not learn from, and far better than always saying the commonest value.
        assert field["held_out"] > 50 and field["accuracy"] > field["majority_accuracy"] + 0.2
        assert 0 < field["macro_f1"] <= 1


def test_a_loaded_model_answers_as_the_trained_one(local_model_file: Path):
    model = load_model(local_model_file, TAXONOMY)
    classifier = LocalClassifier(model, TAXONOMY)
    fresh = [Example(r.pop("subject"), r.pop("description"), r) for r in labelled_tickets(60, seed=5)]
    right = 0
    for example in fresh:
        analysis = classifier.classify(example.subject, example.description)
        assert analysis.provider == "local" and analysis.model == model.model_id
        assert set(analysis.values) == set(TAXONOMY.fields) == set(analysis.confidence)
        assert all(0 < c <= 1 for c in analysis.confidence.values())
        right += analysis.values["root_cause"] == example.labels["root_cause"]
    assert right >= 50  # new tickets, not the training ones


def test_loading_a_model_never_runs_code_in_it(tmp_path: Path, local_model_file: Path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    # A model file whose arrays are pickled objects: what a trojaned .npz would be.
    evil = tmp_path / "evil.npz"
    with np.load(local_model_file) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["kept"] = np.array([Payload()], dtype=object)
    np.savez(evil, **arrays)
    with pytest.raises(LocalModelError, match=r"not a Triage Fleet model \(it holds pickled objects") as refused:
        load_model(evil, TAXONOMY)
    assert "allow_pickle" not in str(refused.value)
    assert not marker.exists()
    # A plain pickle under the model's name is refused the same way.
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(
        LocalModelError, match=r"not a Triage Fleet model \(some other file, not a NumPy .npz"
    ) as refused:
        load_model(pickled, TAXONOMY)
    assert "allow_pickle" not in str(refused.value)
    assert not marker.exists()


def test_a_model_for_another_taxonomy_is_refused_with_the_reason(tmp_path: Path, local_model_file: Path):
    bumped = tmp_path / "v2.yaml"
    bumped.write_text((TAXONOMY_DIR / "default.yaml").read_text().replace('version: "1"', 'version: "2"'))
    with pytest.raises(LocalModelError, match=r"trained for taxonomy 'support-triage' version 1.*version 2"):
        load_model(local_model_file, load_taxonomy(bumped))
    with pytest.raises(LocalModelError, match="trained for taxonomy"):
        load_model(local_model_file, load_taxonomy(TAXONOMY_DIR / "it_service_catalog.yaml"))


def test_missing_and_damaged_files_say_so(tmp_path: Path):
    with pytest.raises(LocalModelError, match="no local model at .*python -m app train"):
        load_model(tmp_path / "none.npz", TAXONOMY)
    other = tmp_path / "other.npz"
    np.savez(other, header=np.array(json.dumps({"format": "something-else"})))
    with pytest.raises(
        LocalModelError, match="not a Triage Fleet model .its header names no Triage Fleet model format"
    ):
        load_model(other, TAXONOMY)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "the file is empty"),
        (b"subject,description\nhello,world\n", "a text file, not a NumPy .npz archive"),
        (bytes(range(256)) * 8, "some other file, not a NumPy .npz archive"),
        (b"PK\x03\x04" + b"\x00" * 60, "a damaged or truncated zip archive"),
        (None, "a single NumPy array, not a model archive"),
        ("zip", "a zip archive of files that are not NumPy arrays"),
        ("arrays", "a NumPy archive without a model header"),
    ],
)
def test_a_file_that_is_not_a_model_says_what_it_is_not_and_how_to_make_one(tmp_path: Path, content, what: str):
    import zipfile

    path = tmp_path / "model.npz"
    if content is None:
        with path.open("wb") as handle:
            np.save(handle, np.zeros(3))
    elif content == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("notes.txt", "hello")
    elif content == "arrays":
        np.savez(path, weights=np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(LocalModelError) as refused:
        load_model(path, TAXONOMY)
    message = str(refused.value)
    # One sentence: the file, what it is not (and what it is), how to make a model. Never numpy's
    # invitation to load pickles, which the model file's promise is never to do.
    assert message == f"{path} is not a Triage Fleet model ({what}); make one with `python -m app train FILE`"
    assert "pickle" not in message


def test_labelled_files_csv_and_json_lines(tmp_path: Path):
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text(
        "subject,description,urgency,root_cause,sentiment\n"
        "Site down,Everything fails,high,bug,\n"  # sentiment unlabelled
        "Refund,Charged twice,ai_low,REFUND,negative\n"  # a tag and any case work
        "Hello,,critical,other,neutral\n"  # 'critical' is no urgency value
        ",,high,bug,negative\n"
    )  # no text at all
    read = read_examples(csv_file, TAXONOMY)
    assert [e.labels for e in read.examples] == [
        {"urgency": "high", "root_cause": "bug"},
        {"urgency": "low", "root_cause": "refund", "sentiment": "negative"},
        {"root_cause": "other", "sentiment": "neutral"},
    ]
    assert read.rejected == {
        "urgency label not in the taxonomy (e.g. 'critical')": 1,
        "no subject and no description": 1,
    }
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text('{"subject": "a", "description": "b", "urgency": "low"}\n[1]\nnot json\n')
    read = read_examples(jsonl, TAXONOMY)
    assert len(read.examples) == 1 and sum(read.rejected.values()) == 2
    headerless = tmp_path / "bad.csv"
    headerless.write_text("title,body\nx,y\n")
    with pytest.raises(ValueError, match="needs a header with subject, description"):
        read_examples(headerless, TAXONOMY)


def test_what_cannot_make_a_model_is_refused_with_the_reason():
    rows = labelled_tickets(30)
    few = [Example("s", "d", {"urgency": "low", "root_cause": "bug", "sentiment": "neutral"})] * 5
    with pytest.raises(LocalModelError, match="5 labelled tickets; training needs at least 20"):
        check_trainable(few, TAXONOMY)
    one_value = [Example(r["subject"], r["description"], {"urgency": "low"}) for r in rows]
    with pytest.raises(
        LocalModelError,
        match=r"no field can be learned \(root_cause: no labels; urgency: every label is 'low'; "
        r"it needs examples of at least two values; sentiment: no labels\)",
    ):
        check_trainable(one_value, TAXONOMY)


def test_the_fields_with_labels_are_learned_and_the_others_named():
    rows = labelled_tickets(30)
    no_sentiment = [
        Example(r["subject"], r["description"], {"urgency": r["urgency"], "root_cause": r["root_cause"]}) for r in rows
    ]
    assert check_trainable(no_sentiment, TAXONOMY) == (["root_cause", "urgency"], {"sentiment": "no labels"})
    one_urgency = [Example(r["subject"], r["description"], {**r, "urgency": "low"}) for r in rows]
    fields, not_learned = check_trainable(one_urgency, TAXONOMY)
    assert fields == ["root_cause", "sentiment"] and not_learned["urgency"].startswith("every label is 'low'")


def test_a_model_of_urgency_alone_answers_urgency_and_the_rules_the_rest(urgency_model_file: Path):
    from app.domain.rules import RulesClassifier

    card = json.loads(card_path(urgency_model_file).read_text())
    assert set(card["fields"]) == {"urgency"}
    assert card["not_learned"] == {"root_cause": "no labels", "sentiment": "no labels"}
    model = load_model(urgency_model_file, TAXONOMY)  # a model of some fields loads
    assert set(model.fields) == {"urgency"} and set(model.memory.labels) == {"urgency"}
    classifier, rules = LocalClassifier(model, TAXONOMY), RulesClassifier(TAXONOMY)
    assert classifier.rules_fields == ["root_cause", "sentiment"]
    right = 0
    for row in labelled_tickets(60, seed=5):
        analysis = classifier.classify(row["subject"], row["description"])
        by_rules = rules.classify(row["subject"], row["description"])
        assert analysis.provider == "local" and analysis.model == model.model_id
        assert list(analysis.values) == list(TAXONOMY.fields) == list(analysis.confidence)
        assert analysis.rules_fields == ["root_cause", "sentiment"]
        for name in ("root_cause", "sentiment"):
            assert analysis.values[name] == by_rules.values[name]
            assert analysis.confidence[name] == by_rules.confidence[name]
        model_values, model_confidence = model.predict([f"{row['subject']}\n{row['description']}"])[0]
        assert analysis.values["urgency"] == model_values["urgency"]
        assert analysis.confidence["urgency"] == model_confidence["urgency"]
        right += analysis.values["urgency"] == row["urgency"]
        # Never sure enough for the gate, whatever the threshold: the model knows nothing of two fields.
        assert not classifier.sure_of(analysis, 0.0)
        assert analysis.record()["rules_fields"] == ["root_cause", "sentiment"]
    assert right >= 45  # urgency really comes from what the model learned


def test_the_gate_is_sure_only_of_a_model_that_answered_every_field(local_model_file: Path):
    classifier = LocalClassifier(load_model(local_model_file, TAXONOMY), TAXONOMY)
    assert classifier.rules_fields == []
    analysis = classifier.classify("Refund please", "I was charged twice for my plan, please refund me")
    assert analysis.rules_fields is None and "rules_fields" not in analysis.record()
    assert classifier.sure_of(analysis, 0.0)
    assert not classifier.sure_of(analysis.model_copy(update={"confidence": {"urgency": 1.0}}), 0.5)


def test_a_labelled_file_says_why_a_field_has_no_labels(tmp_path: Path):
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "subject,description,urgency,root_cause\n"
        "Site down,Everything fails,high,P1\n"
        "Refund,Charged twice,low,Defect\n"
        "Slow,Pages take long,,P1\n"
    )
    read = read_examples(labels, TAXONOMY)
    assert read.nothing_usable(labels, TAXONOMY) is None
    assert read.why_unlabelled("sentiment", TAXONOMY) == "no sentiment column"
    assert read.why_unlabelled("root_cause", TAXONOMY) == (
        "the root_cause column's values are not in the taxonomy (e.g. 'P1', 'Defect'); "
        "root_cause takes refund, bug, feature, other (or their tags)"
    )
    only_unknown = tmp_path / "unknown.csv"
    only_unknown.write_text("subject,description,root_cause,sentiment\nSite down,Everything fails,P1,\n")
    read = read_examples(only_unknown, TAXONOMY)
    assert read.nothing_usable(only_unknown, TAXONOMY) == (
        f"{only_unknown} has no usable label: the root_cause column's values are not in the taxonomy (e.g. 'P1'); "
        "root_cause takes refund, bug, feature, other (or their tags); the sentiment column is empty"
    )
    no_column = tmp_path / "none.csv"
    no_column.write_text("subject,description,priority\nSite down,Everything fails,high\n")
    assert "has no label column: add a column for at least one of the taxonomy's fields (root_cause, urgency, " in (
        read_examples(no_column, TAXONOMY).nothing_usable(no_column, TAXONOMY) or ""
    )
    junk = tmp_path / "junk.jsonl"
    junk.write_text("not json\n[1, 2]\n")
    assert read_examples(junk, TAXONOMY).nothing_usable(junk, TAXONOMY) == (
        f"{junk} has no labelled tickets (2 lines, none a JSON object): it needs subject, description "
        "and a column per field (root_cause, urgency, sentiment)"
    )


def test_the_configured_model_loads_once_and_a_wrong_one_stops_start_up(monkeypatch, tmp_path, local_model_file):
    from app.settings import ConfigError

    monkeypatch.setenv("LOCAL_MODEL_PATH", str(local_model_file))
    monkeypatch.setenv("LLM_PROVIDER", "local")
    services.reset()
    try:
        assert services.classifier() is services.local_classifier()
        assert services.local_classifier() is services.local_classifier()  # shared, loaded once
        bumped = tmp_path / "v2.yaml"
        bumped.write_text((TAXONOMY_DIR / "default.yaml").read_text().replace('version: "1"', 'version: "2"'))
        monkeypatch.setenv("TAXONOMY_FILE", str(bumped))
        services.reset()
        with pytest.raises(ConfigError, match="LOCAL_MODEL_PATH: .*trained for taxonomy"):
            services.classifier()
        monkeypatch.delenv("TAXONOMY_FILE")
        monkeypatch.setenv("LOCAL_MODEL_PATH", str(tmp_path / "missing.npz"))
        services.reset()
        with pytest.raises(ConfigError, match="LLM_PROVIDER=local: no model at LOCAL_MODEL_PATH"):
            services.classifier()
        monkeypatch.setenv("LLM_PROVIDER", "openai")
        monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1")
        monkeypatch.setenv("LOCAL_GATE_CONFIDENCE", "0.9")
        services.reset()
        with pytest.raises(ConfigError, match="LOCAL_GATE_CONFIDENCE needs a local model"):
            services.classifier()
    finally:
        services.reset()


def test_a_near_twin_of_a_labelled_ticket_takes_its_labels_with_the_measured_confidence(local_model_file: Path):
    from app.learn.model import TWIN_BANDS

    model = load_model(local_model_file, TAXONOMY)
    assert model.memory is not None and model.memory.rows.shape[0] == 400
    for name in TAXONOMY.fields:
        precision = model.memory.band_precision[name]
        assert precision.shape == TWIN_BANDS.shape and ((0 < precision) & (precision < 1)).all()
    # A training ticket asked again (redacted as training redacted it) is its own twin.
    example = labelled_tickets(400)[7]
    ((subject, description),) = [
        (s.text, d.text) for s, d in services.redactor().redact_tickets([(example["subject"], example["description"])])
    ]
    values, confidence = model.predict([f"{subject}\n{description}"])[0]
    assert values == {name: example[name] for name in TAXONOMY.fields}
    # The twin's measured precision (its band: similarity 0.9 and up), unless the regression is surer.
    for name in TAXONOMY.fields:
        assert confidence[name] >= round(float(model.memory.band_precision[name][-1]), 4)
    twin, similarity = model.memory.nearest(model.features.transform([f"{subject}\n{description}"]))
    assert twin[0] == 7 and similarity[0] > 0.99


def test_a_model_whose_remembered_labels_do_not_fit_is_refused(tmp_path: Path, local_model_file: Path):
    with np.load(local_model_file) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["urgency.memory_labels"] = np.full_like(arrays["urgency.memory_labels"], 7)  # no such class
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, **arrays)
    with pytest.raises(LocalModelError, match="remembered labels of the wrong shape"):
        load_model(damaged, TAXONOMY)


def test_the_neighbours_weight_is_chosen_by_cross_validation_and_kept_in_the_file(local_model_file: Path):
    from app.learn.model import NEIGHBOUR_WEIGHTS, Features
    from app.learn.training import NEIGHBOUR_MIN_EXAMPLES, choose_neighbour_weight

    model = load_model(local_model_file, TAXONOMY)
    assert set(model.memory.neighbour_weight) == set(TAXONOMY.fields)
    assert all(weight in NEIGHBOUR_WEIGHTS for weight in model.memory.neighbour_weight.values())
    rows = labelled_tickets(150, seed=3)
    texts = [f"{r['subject']}\n{r['description']}" for r in rows]
    features = Features.fit(texts).transform(texts)
    labels = [r["urgency"] for r in rows]
    chosen = choose_neighbour_weight(features, labels, np.ones(len(labels)))
    assert chosen in NEIGHBOUR_WEIGHTS and chosen == choose_neighbour_weight(features, labels, np.ones(len(labels)))
    few = NEIGHBOUR_MIN_EXAMPLES - 1
    assert choose_neighbour_weight(features[:few], labels[:few], np.ones(few)) == 0.0  # too few to judge
