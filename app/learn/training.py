"""Training the local model from labelled tickets, and its model card (`python -m app train FILE`).

Texts are redacted before anything is learned, exactly as the workers redact before they classify:
the model sees what it will see in production, and no personal data reaches the model file. A
fixed fifth of the examples (chosen by a hash of their text, so the same file always splits the
same way) is held out to measure accuracy and macro-F1 for the card; the model that is saved is
then trained on every example.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from scipy import sparse
from sklearn.metrics import f1_score

from app.domain.taxonomy import Taxonomy
from app.learn.model import (
    MEMORY_MAX,
    NEIGHBOUR_WEIGHTS,
    Features,
    LocalModel,
    LocalModelError,
    Memory,
    blend,
    fit_field,
    neighbours,
    ticket_text,
    today,
)
from app.records import read_records
from app.redaction import Redactor

HELD_OUT_ONE_IN = 5  # a fifth of the examples measure the model for its card
MIN_EXAMPLES = 20
NEIGHBOUR_FOLDS = 3
NEIGHBOUR_MIN_EXAMPLES = 60  # fewer: too few to judge the neighbours' vote, the regression answers alone


@dataclass
class Example:
    """One labelled ticket (raw text: redacted by `train`). `labels` may lack a field; `weights`
    gives a label more say than 1.0 (a person's correction outweighs the fleet's own answer)."""

    subject: str
    description: str
    labels: dict[str, str]
    weights: dict[str, float] = field(default_factory=dict)


class FieldCard(BaseModel):
    examples: dict[str, int]
    held_out: int
    accuracy: float | None
    macro_f1: float | None
    majority_accuracy: float | None
    neighbour_weight: float = 0.0  # the neighbours' vote's share in this field's answers (cross-validated)


class ModelCard(BaseModel):
    """What a model is, what it learned from and how well it did; saved beside the model."""

    model_id: str
    model_file: str
    taxonomy: dict[str, str]
    trained_at: str
    source: str
    examples: int
    held_out_share: float
    fields: dict[str, FieldCard]
    training_seconds: float
    override_rate: dict[str, Any] | None = None

    def lines(self) -> list[str]:
        out = [
            f"model {self.model_id} for taxonomy {self.taxonomy['name']} v{self.taxonomy['version']}, "
            f"trained {self.trained_at} on {self.examples} tickets from {self.source} "
            f"in {self.training_seconds:.1f} s"
        ]
        for name, card in self.fields.items():
            counts = ", ".join(f"{value} {count}" for value, count in card.examples.items())
            scored = (
                f"accuracy {card.accuracy:.3f}, macro-F1 {card.macro_f1:.3f} on {card.held_out} held out "
                f"(majority {card.majority_accuracy:.3f})"
                if card.accuracy is not None
                else "no held-out part"
            )
            out.append(f"  {name}: {scored}; examples: {counts}")
        return out


def card_path(model_path: Path) -> Path:
    """The card sits beside the model: models/local.npz -> models/local.card.json."""
    return model_path.with_name(f"{model_path.stem}.card.json")


def is_held_out(subject: str, description: str) -> bool:
    digest = hashlib.sha256(ticket_text(subject, description).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % HELD_OUT_ONE_IN == 0


# Reading labelled files ---------------------------------------------------------------


def value_lookup(taxonomy: Taxonomy) -> dict[str, dict[str, str]]:
    """Per field, what a label may say (the value's name or its tag, any case) -> the value."""
    lookup: dict[str, dict[str, str]] = {}
    for name, spec in taxonomy.fields.items():
        lookup[name] = {}
        for value, declared in spec.values.items():
            lookup[name][value.lower()] = value
            lookup[name][declared.tag.lower()] = value
    return lookup


@dataclass
class ReadReport:
    examples: list[Example]
    rejected: Counter[str]

    def lines(self) -> list[str]:
        return [f"  skipped {count}: {reason}" for reason, count in self.rejected.most_common()]


def read_examples(path: Path, taxonomy: Taxonomy) -> ReadReport:
    """The labelled tickets of a file: `subject`, `description` and a column per taxonomy field
    (empty: not labelled for that field). Lines and labels that cannot be used are counted by reason."""
    lookup = value_lookup(taxonomy)
    examples, rejected = [], Counter[str]()
    for _, record in read_records(path, "subject, description and one column per field"):
        if not isinstance(record, dict):  # NOT_JSON too
            rejected["not a JSON object"] += 1
            continue
        texts = [record.get(key) for key in ("subject", "description")]
        if any(text is not None and not isinstance(text, str) for text in texts):
            rejected["subject or description is not text"] += 1
            continue
        subject, description = ((text or "").strip() for text in texts)
        if not subject and not description:
            rejected["no subject and no description"] += 1
            continue
        labels = {}
        for name in taxonomy.fields:
            raw = record.get(name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            value = lookup[name].get(str(raw).strip().lower())
            if value is None:
                rejected[f"{name} label not in the taxonomy (e.g. {str(raw)[:30]!r})"] += 1
                continue
            labels[name] = value
        if not labels:
            rejected["no label for any field"] += 1
            continue
        examples.append(Example(subject, description, labels))
    return ReadReport(examples, rejected)


# Training ----------------------------------------------------------------------------


def redact_examples(examples: list[Example], redactor: Redactor) -> list[str]:
    """The model's texts: each example's subject and description, redacted in spaCy batches.

    Redaction is most of a training run's time, so a large file is redacted by one forked process
    per core (each inherits the loaded spaCy model; nothing is loaded again)."""
    tickets = [(example.subject, example.description) for example in examples]
    processes = min(os.cpu_count() or 1, len(tickets) // PARALLEL_REDACTION_FROM + 1)
    if processes > 1:
        global _redactor_for_children
        _redactor_for_children = redactor
        size = -(-len(tickets) // (processes * 4))
        chunks = [tickets[i : i + size] for i in range(0, len(tickets), size)]
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            return [text for chunk in pool.map(_redact_chunk, chunks) for text in chunk]
    return _redact_with(redactor, tickets)


PARALLEL_REDACTION_FROM = 400  # tickets; below this a pool costs more than it saves
_redactor_for_children: Redactor | None = None


def _redact_with(redactor: Redactor, tickets: list[tuple[str, str]]) -> list[str]:
    return [ticket_text(subject.text, description.text) for subject, description in redactor.redact_tickets(tickets)]


def _redact_chunk(tickets: list[tuple[str, str]]) -> list[str]:
    assert _redactor_for_children is not None  # set by the parent before it forked
    return _redact_with(_redactor_for_children, tickets)


def _labelled(examples: list[Example], indices: list[int], name: str) -> tuple[list[int], list[str], np.ndarray]:
    chosen = [i for i in indices if name in examples[i].labels]
    return (
        chosen,
        [examples[i].labels[name] for i in chosen],
        np.array([examples[i].weights.get(name, 1.0) for i in chosen]),
    )


def fit_model(
    texts: list[str], examples: list[Example], indices: list[int], taxonomy: Taxonomy, source: str
) -> LocalModel:
    """A model from the examples at `indices` (texts already redacted)."""
    features = Features.fit([texts[i] for i in indices])
    rows = features.transform([texts[i] for i in indices])
    position = {example: row for row, example in enumerate(indices)}
    fields, weights = {}, {}
    for name in taxonomy.fields:
        chosen, labels, label_weights = _labelled(examples, indices, name)
        labelled_rows = rows[[position[i] for i in chosen]]
        fields[name] = fit_field(labelled_rows, labels, label_weights)
        weights[name] = choose_neighbour_weight(labelled_rows, labels, label_weights)
    remembered = indices[-MEMORY_MAX:]  # the newest, when a file is in time order
    codes = {
        name: np.array(
            [
                fields[name].classes.index(examples[i].labels[name]) if name in examples[i].labels else -1
                for i in remembered
            ]
        )
        for name in taxonomy.fields
    }
    memory = Memory.build(rows[[position[i] for i in remembered]], codes, weights)
    return LocalModel(taxonomy.name, taxonomy.version, features, fields, today(), source, memory)


def choose_neighbour_weight(rows: sparse.csr_matrix, labels: list[str], weights: np.ndarray) -> float:
    """The weight of the neighbours' vote for one field (NEIGHBOUR_WEIGHTS) that answers best in
    NEIGHBOUR_FOLDS-fold cross-validation on these examples; 0 (the regression alone) on a tie or
    for fewer than NEIGHBOUR_MIN_EXAMPLES. Tickets templated alike but labelled differently (the
    vote is noise there) choose 0; accounts that see the same problems again choose more."""
    if len(labels) < NEIGHBOUR_MIN_EXAMPLES or len(set(labels)) < 2:
        return 0.0
    gold = np.array(labels)
    fold_of = np.random.default_rng(0).permutation(len(labels)) % NEIGHBOUR_FOLDS
    right = dict.fromkeys(NEIGHBOUR_WEIGHTS, 0)
    for fold in range(NEIGHBOUR_FOLDS):
        learn, test = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
        if len(set(gold[learn])) < 2:
            return 0.0
        field = fit_field(rows[learn], list(gold[learn]), weights[learn])
        probabilities = field.probabilities(rows[test])
        classes = np.array(field.classes)
        codes = np.array([field.classes.index(label) if label in field.classes else -1 for label in gold[learn]])
        found = neighbours(rows[test], rows[learn].T.tocsr(), {"field": codes}, {"field": len(classes)})
        for weight in NEIGHBOUR_WEIGHTS:
            answers = classes[blend(probabilities, found.votes["field"], weight).argmax(axis=1)]
            right[weight] += int(np.sum(answers == gold[test]))
    return max(NEIGHBOUR_WEIGHTS, key=lambda weight: (right[weight], -weight))


def check_trainable(examples: list[Example], taxonomy: Taxonomy) -> None:
    """Refuse, with the reason, what cannot make a model: too few tickets, a field never labelled,
    or a field whose labels all say the same."""
    if len(examples) < MIN_EXAMPLES:
        raise LocalModelError(f"{len(examples)} labelled tickets; training needs at least {MIN_EXAMPLES}")
    for name in taxonomy.fields:
        values = Counter(example.labels[name] for example in examples if name in example.labels)
        if not values:
            raise LocalModelError(f"no ticket has a label for {name!r}; add a {name} column")
        if len(values) < 2:
            raise LocalModelError(
                f"every {name!r} label is {next(iter(values))!r}; the model needs examples of at least two values"
            )


def train(
    examples: list[Example], taxonomy: Taxonomy, redactor: Redactor, source: str, model_path: Path
) -> tuple[LocalModel, ModelCard]:
    """Measure on a held-out fifth, train on everything, save the model and its card."""
    check_trainable(examples, taxonomy)
    started = time.perf_counter()
    texts = redact_examples(examples, redactor)
    held_out = [i for i, example in enumerate(examples) if is_held_out(example.subject, example.description)]
    set_aside = set(held_out)
    learning = [i for i in range(len(examples)) if i not in set_aside]
    scores = evaluate(texts, examples, learning, held_out, taxonomy, source)
    model = fit_model(texts, examples, list(range(len(examples))), taxonomy, source)
    seconds = time.perf_counter() - started
    model.save(model_path)
    card = ModelCard(
        model_id=model.model_id,
        model_file=str(model_path),
        taxonomy={"name": taxonomy.name, "version": taxonomy.version},
        trained_at=model.trained_at,
        source=source,
        examples=len(examples),
        held_out_share=round(len(held_out) / len(examples), 3),
        fields={
            name: FieldCard(
                examples=dict(Counter(e.labels[name] for e in examples if name in e.labels).most_common()),
                neighbour_weight=model.memory.neighbour_weight[name] if model.memory else 0.0,
                **scores[name],
            )
            for name in taxonomy.fields
        },
        training_seconds=round(seconds, 2),
    )
    return model, card


def evaluate(
    texts: list[str], examples: list[Example], learning: list[int], held_out: list[int], taxonomy: Taxonomy, source: str
) -> dict[str, dict[str, Any]]:
    """Accuracy, macro-F1 and the majority baseline per field, on `held_out` for a model of `learning`."""
    empty = {"held_out": 0, "accuracy": None, "macro_f1": None, "majority_accuracy": None}
    try:
        check_trainable([examples[i] for i in learning], taxonomy)
    except LocalModelError:
        return {name: dict(empty) for name in taxonomy.fields}  # too small to split: the card says so
    model = fit_model(texts, examples, learning, taxonomy, source)
    answers = model.predict([texts[i] for i in held_out])
    scores: dict[str, dict[str, Any]] = {}
    for name in taxonomy.fields:
        pairs = [
            (examples[i].labels[name], answer[0][name])
            for i, answer in zip(held_out, answers)
            if name in examples[i].labels
        ]
        if not pairs:
            scores[name] = dict(empty)
            continue
        gold, predicted = zip(*pairs)
        majority = Counter(examples[i].labels[name] for i in learning if name in examples[i].labels).most_common(1)[0][
            0
        ]
        scores[name] = {
            "held_out": len(pairs),
            "accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 4),
            "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4),
            "majority_accuracy": round(sum(g == majority for g in gold) / len(pairs), 4),
        }
    return scores


def save_card(card: ModelCard, model_path: Path) -> Path:
    path = card_path(model_path)
    path.write_text(json.dumps(card.model_dump(), indent=2) + "\n", encoding="utf-8")
    return path
