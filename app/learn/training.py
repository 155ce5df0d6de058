"""Training the local model from labelled tickets, and its model card (`python -m app train FILE`).

Texts are redacted before anything is learned, exactly as the workers redact before they classify:
the model sees what it will see in production, and no personal data reaches the model file. A
fixed fifth of the examples (chosen by a hash of their text, so the same file always splits the
same way) is held out to measure accuracy and macro-F1 for the card, per field and per ticket
language; near-duplicate tickets are held out or kept together (app.learn.splits), so a paraphrase
in the training part cannot vouch for its twin. The model that is saved is then trained on every
example, whatever its language: one model reads English, German and French tickets alike.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
from app.learn.splits import held_out as held_out_flags
from app.records import read_records
from app.redaction import Redactor
from app.redaction.languages import normalise_language

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
    language: str | None = None  # "en", "de", "fr" or "other" when known (a `language` column)


LANGUAGES = ("en", "de", "fr")


def language_code(raw: object) -> str | None:
    """A ticket's language from a label or locale ("de", "de-AT", "fr_CH", "English" is not one):
    "en", "de" or "fr", "other" for any other language code, None when empty or unreadable."""
    return normalise_language(raw)


class LanguageScore(BaseModel):
    """One language's share of a field's held-out tickets, and how the model and the majority
    class of that language's training tickets did on it."""

    held_out: int
    accuracy: float
    majority_accuracy: float


class FieldCard(BaseModel):
    examples: dict[str, int]
    held_out: int
    accuracy: float | None
    macro_f1: float | None
    majority_accuracy: float | None
    neighbour_weight: float = 0.0  # the neighbours' vote's share in this field's answers (cross-validated)
    # Per ticket language ("en", "de", "fr", "other"), for the examples whose language is known.
    by_language: dict[str, LanguageScore] = {}


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
    # Taxonomy fields the model did not learn, with why; the rules or the LLM answer them.
    not_learned: dict[str, str] = {}

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
            for language, score in card.by_language.items():
                out.append(
                    f"    {language}: accuracy {score.accuracy:.3f} on {score.held_out} held out "
                    f"(majority {score.majority_accuracy:.3f})"
                )
        for name, why in self.not_learned.items():
            out.append(f"  {name}: not learned ({why}); the rules or the LLM answer it")
        return out


def card_path(model_path: Path) -> Path:
    """The card sits beside the model: models/local.npz -> models/local.card.json."""
    return model_path.with_name(f"{model_path.stem}.card.json")


def held_out_indices(examples: list[Example]) -> list[int]:
    """The examples that measure the model for its card: a fifth, chosen by near-duplicate group
    (app.learn.splits.held_out) on the raw text, so the same file always splits the same way."""
    flags = held_out_flags([ticket_text(e.subject, e.description) for e in examples])
    return [i for i, flag in enumerate(flags) if flag]


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
    """The usable examples of a labelled file, and what could not be used: lines by reason, and
    per field whether the file has its column and which of its labels the taxonomy does not know."""

    examples: list[Example]
    rejected: Counter[str]
    columns: set[str] = field(default_factory=set)
    unknown: dict[str, Counter[str]] = field(default_factory=dict)
    objects: int = 0  # records that were objects (CSV rows, JSON objects), usable or not

    def why_unlabelled(self, name: str, taxonomy: Taxonomy) -> str:
        """Why no ticket has a usable label for field `name`."""
        if name not in self.columns:
            return f"no {name} column"
        unknown = self.unknown.get(name)
        if unknown:
            seen = ", ".join(repr(value) for value, _ in unknown.most_common(3))
            allowed = ", ".join(taxonomy.fields[name].values)
            return (
                f"the {name} column's values are not in the taxonomy (e.g. {seen}); "
                f"{name} takes {allowed} (or their tags)"
            )
        return f"the {name} column is empty"

    def lines(self) -> list[str]:
        return [f"  skipped {count}: {reason}" for reason, count in self.rejected.most_common()]

    def nothing_usable(self, path: Path, taxonomy: Taxonomy) -> str | None:
        """Why the file gives no labelled ticket at all (None: it gives some), in one line."""
        if self.examples:
            return None
        fields = ", ".join(taxonomy.fields)
        if not self.objects:
            found = (
                f"{self.rejected['not a JSON object']} lines, none a JSON object" if self.rejected else "it is empty"
            )
            return (
                f"{path} has no labelled tickets ({found}): it needs subject, description "
                f"and a column per field ({fields})"
            )
        if not self.columns:
            return (
                f"{path} has no label column: add a column for at least one of the taxonomy's fields ({fields}) "
                "beside subject and description"
            )
        reasons = "; ".join(self.why_unlabelled(name, taxonomy) for name in taxonomy.fields if name in self.columns)
        return f"{path} has no usable label: {reasons}"


def read_examples(path: Path, taxonomy: Taxonomy) -> ReadReport:
    """The labelled tickets of a file: `subject`, `description` and a column per taxonomy field
    (empty: not labelled for that field), optionally `language` (or `locale`: "de", "fr-CH"), which
    the card's per-language figures use. Lines and labels that cannot be used are counted by reason."""
    lookup = value_lookup(taxonomy)
    examples, rejected = [], Counter[str]()
    columns: set[str] = set()
    objects = 0
    unknown: dict[str, Counter[str]] = {name: Counter() for name in taxonomy.fields}
    for _, record in read_records(path, "subject, description and one column per field"):
        if not isinstance(record, dict):  # NOT_JSON too
            rejected["not a JSON object"] += 1
            continue
        objects += 1
        columns.update(name for name in taxonomy.fields if name in record)
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
                unknown[name][str(raw).strip()[:30]] += 1
                continue
            labels[name] = value
        if not labels:
            rejected["no label for any field"] += 1
            continue
        language = language_code(record.get("language") or record.get("locale"))
        examples.append(Example(subject, description, labels, language=language))
    return ReadReport(examples, rejected, columns, {name: found for name, found in unknown.items() if found}, objects)


# Training ----------------------------------------------------------------------------


class Progress(Protocol):
    """Where training says what it is doing: a phase (with its number of steps when it has some),
    then a step at a time. The CLI shows it on stderr; tests and benchmarks pass nothing."""

    def phase(self, text: str, steps: int | None = None) -> None: ...

    def advance(self, steps: int = 1) -> None: ...


class Silent:
    """No progress shown."""

    def phase(self, text: str, steps: int | None = None) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


REDACTION_CHUNK = 200  # tickets per spaCy batch in one process: small enough to show progress


def redact_examples(examples: list[Example], redactor: Redactor, progress: Progress | None = None) -> list[str]:
    """The model's texts: each example's subject and description, redacted in spaCy batches.

    Redaction is most of a training run's time, so a large file is redacted by one forked process
    per core (each inherits the loaded spaCy model; nothing is loaded again)."""
    progress = progress or Silent()
    tickets = [(example.subject, example.description) for example in examples]
    processes = min(os.cpu_count() or 1, len(tickets) // PARALLEL_REDACTION_FROM + 1)
    redacted: list[tuple[str, str]] = []
    if processes > 1:
        global _redactor_for_children
        _redactor_for_children = redactor
        size = min(-(-len(tickets) // (processes * 4)), REDACTION_CHUNK)
        chunks = [tickets[i : i + size] for i in range(0, len(tickets), size)]
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            for chunk in pool.map(_redact_chunk, chunks):  # in order, each as soon as it is done
                redacted += chunk
                progress.advance(len(chunk))
    else:
        for start in range(0, len(tickets), REDACTION_CHUNK):
            chunk = _redact_with(redactor, tickets[start : start + REDACTION_CHUNK])
            redacted += chunk
            progress.advance(len(chunk))
    for example, (_, language) in zip(examples, redacted):
        if example.language is None:  # no column said it: the language redaction detected
            example.language = language
    return [text for text, _ in redacted]


PARALLEL_REDACTION_FROM = 400  # tickets; below this a pool costs more than it saves
_redactor_for_children: Redactor | None = None


def _redact_with(redactor: Redactor, tickets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each ticket's redacted text and the language it was redacted as. The language is detected,
    as the workers detect it, even where a file's column names one: the model learns from what
    the fleet will send it (a `language` column is often wrong: 361 of the public "German"
    tickets are English)."""
    return [
        (ticket_text(subject.text, description.text), subject.language)
        for subject, description in redactor.redact_tickets(tickets)
    ]


def _redact_chunk(tickets: list[tuple[str, str]]) -> list[tuple[str, str]]:
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
    texts: list[str],
    examples: list[Example],
    indices: list[int],
    taxonomy: Taxonomy,
    source: str,
    fields: list[str] | None = None,
    progress: Progress | None = None,
) -> LocalModel:
    """A model from the examples at `indices` (texts already redacted) for `fields` (default: every
    field these examples can teach, see `learnable`)."""
    progress = progress or Silent()
    fields = learnable([examples[i] for i in indices], taxonomy)[0] if fields is None else fields
    features = Features.fit([texts[i] for i in indices])
    rows = features.transform([texts[i] for i in indices])
    position = {example: row for row, example in enumerate(indices)}
    models, weights = {}, {}
    for number, name in enumerate(fields, start=1):
        chosen, labels, label_weights = _labelled(examples, indices, name)
        progress.phase(f"fitting {name} ({number} of {len(fields)}, {len(labels)} labels)")
        labelled_rows = rows[[position[i] for i in chosen]]
        models[name] = fit_field(labelled_rows, labels, label_weights)
        weights[name] = choose_neighbour_weight(labelled_rows, labels, label_weights)
    remembered = indices[-MEMORY_MAX:]  # the newest, when a file is in time order
    codes = {
        name: np.array(
            [
                models[name].classes.index(examples[i].labels[name]) if name in examples[i].labels else -1
                for i in remembered
            ]
        )
        for name in fields
    }
    memory = Memory.build(rows[[position[i] for i in remembered]], codes, weights)
    return LocalModel(taxonomy.name, taxonomy.version, features, models, today(), source, memory)


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


def learnable(examples: list[Example], taxonomy: Taxonomy) -> tuple[list[str], dict[str, str]]:
    """The fields these examples can teach (labels of at least two values), and for every other
    field why not. A team may have labels for some fields only (urgency, from its priorities): the
    model learns those, and the rules or the LLM answer the rest."""
    fields, not_learned = [], {}
    for name in taxonomy.fields:
        values = Counter(example.labels[name] for example in examples if name in example.labels)
        if not values:
            not_learned[name] = "no labels"
        elif len(values) < 2:
            not_learned[name] = f"every label is {next(iter(values))!r}; it needs examples of at least two values"
        else:
            fields.append(name)
    return fields, not_learned


def check_trainable(examples: list[Example], taxonomy: Taxonomy) -> tuple[list[str], dict[str, str]]:
    """`learnable`, or the reason nothing can be: too few tickets, or no field with labels of two values."""
    if len(examples) < MIN_EXAMPLES:
        raise LocalModelError(f"{len(examples)} labelled tickets; training needs at least {MIN_EXAMPLES}")
    fields, not_learned = learnable(examples, taxonomy)
    if not fields:
        reasons = "; ".join(f"{name}: {why}" for name, why in not_learned.items())
        raise LocalModelError(f"no field can be learned ({reasons})")
    return fields, not_learned


def train(
    examples: list[Example],
    taxonomy: Taxonomy,
    redactor: Redactor,
    source: str,
    model_path: Path,
    progress: Progress | None = None,
) -> tuple[LocalModel, ModelCard]:
    """Measure on a held-out fifth, train on everything, save the model and its card."""
    progress = progress or Silent()
    fields, not_learned = check_trainable(examples, taxonomy)
    started = time.perf_counter()
    progress.phase(f"redacting {len(examples)} tickets", len(examples))
    texts = redact_examples(examples, redactor, progress)
    held_out = held_out_indices(examples)
    set_aside = set(held_out)
    learning = [i for i in range(len(examples)) if i not in set_aside]
    learned = ", ".join(fields) + (f"; not learned: {', '.join(not_learned)}" if not_learned else "")
    progress.phase(f"measuring a model of {len(learning)} tickets on the {len(held_out)} held out ({learned})")
    scores = evaluate(texts, examples, learning, held_out, taxonomy, source, fields, progress)
    progress.phase(f"the model of all {len(examples)} tickets ({learned})")
    model = fit_model(texts, examples, list(range(len(examples))), taxonomy, source, fields, progress)
    seconds = time.perf_counter() - started
    progress.phase(f"saving {model_path}")
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
            for name in fields
        },
        not_learned=not_learned,
        training_seconds=round(seconds, 2),
    )
    return model, card


def evaluate(
    texts: list[str],
    examples: list[Example],
    learning: list[int],
    held_out: list[int],
    taxonomy: Taxonomy,
    source: str,
    fields: list[str],
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """Accuracy, macro-F1 and the majority baseline per field, on `held_out` for a model of `learning`,
    and per field the same per ticket language (`by_language`)."""
    empty: dict[str, Any] = {"held_out": 0, "accuracy": None, "macro_f1": None, "majority_accuracy": None}
    progress = progress or Silent()
    try:
        check_trainable([examples[i] for i in learning], taxonomy)
    except LocalModelError:
        return {name: dict(empty) for name in fields}  # too small to split: the card says so
    # The fields the learning part can teach too (a rare value may be only in the held-out part).
    measured = [name for name in learnable([examples[i] for i in learning], taxonomy)[0] if name in fields]
    model = fit_model(texts, examples, learning, taxonomy, source, measured, progress)
    answers = model.predict([texts[i] for i in held_out])
    scores: dict[str, dict[str, Any]] = {}
    for name in fields:
        pairs = [
            (examples[i].labels[name], answer[0][name])
            for i, answer in zip(held_out, answers)
            if name in examples[i].labels and name in answer[0]
        ]
        if not pairs:
            scores[name] = dict(empty)
            continue
        gold, predicted = zip(*pairs)
        majority = _majority_label(examples, learning, name)
        scores[name] = {
            "held_out": len(pairs),
            "accuracy": round(sum(g == p for g, p in pairs) / len(pairs), 4),
            "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4),
            "majority_accuracy": round(sum(g == majority for g in gold) / len(pairs), 4),
            "by_language": by_language(examples, learning, held_out, [answer[0] for answer in answers], name),
        }
    return scores


def _majority_label(examples: list[Example], indices: list[int], name: str) -> str | None:
    counts = Counter(examples[i].labels[name] for i in indices if name in examples[i].labels)
    return counts.most_common(1)[0][0] if counts else None


def by_language(
    examples: list[Example], learning: list[int], held_out: list[int], predicted: list[dict[str, str]], name: str
) -> dict[str, dict[str, Any]]:
    """Field `name`'s accuracy per ticket language on `held_out` (answers `predicted`, parallel to
    it), beside the majority class of that language's learning tickets (of all learning tickets
    when none is in that language). Examples of unknown language are left out."""
    scores: dict[str, dict[str, Any]] = {}
    known = {language for i in held_out if (language := examples[i].language)}
    for language in sorted(known, key=_language_order):
        pairs = [
            (examples[i].labels[name], answer[name])
            for i, answer in zip(held_out, predicted)
            if examples[i].language == language and name in examples[i].labels and name in answer
        ]
        if not pairs:
            continue
        same = [i for i in learning if examples[i].language == language]
        majority = _majority_label(examples, same, name) or _majority_label(examples, learning, name)
        scores[language] = {
            "held_out": len(pairs),
            "accuracy": round(sum(gold == answer for gold, answer in pairs) / len(pairs), 4),
            "majority_accuracy": round(sum(gold == majority for gold, _ in pairs) / len(pairs), 4),
        }
    return scores


def _language_order(language: str) -> tuple[int, str]:
    return ((*LANGUAGES, "other").index(language) if language in (*LANGUAGES, "other") else 9, language)


def save_card(card: ModelCard, model_path: Path) -> Path:
    path = card_path(model_path)
    path.write_text(json.dumps(card.model_dump(), indent=2) + "\n", encoding="utf-8")
    return path
