"""Classifier accuracy on labelled public support tickets: the rules, the LLM or the local model.

    .venv/bin/python bench/classify_eval.py [--provider rules|llm] [--limit N] [--no-redact] [--languages en,de,fr]
    .venv/bin/python bench/classify_eval.py --provider local [--limit N] [--no-redact] [--no-train] [--cv]
        [--languages en,de,fr]

Data: the English, German and French rows of ../shared/eval/tobibueck_*.csv (synthetic support
tickets, CC BY-NC; `--languages` picks others by the `language` column, `--languages en` is the
English-only set of earlier figures), de-duplicated on subject and body (the first row of a pair
wins). Tickets are redacted first, exactly as the fleet does; `--no-redact` classifies the raw
text (faster, less faithful). Every figure is also given per language (the `language` column),
beside that language's majority class.

`--provider rules|llm` scores urgency only: the `priority` column (low/medium/high) against the
urgency field of the fleet's taxonomy (TAXONOMY_FILE, else the default one), beside the majority
class of all rows. `--provider llm` uses the LLM settings (OPENAI_API_KEY / LLM_BASE_URL,
LLM_MODEL) through the same classifier the workers use; it costs money against a real API.
Ends with one JSON line: provider, accuracy, macro_f1, n, majority_label, majority_accuracy,
confusion, by_language: {LANG: {n, accuracy, majority_label, majority_accuracy}}, seconds.

`--provider local` trains and scores the local model (app.learn) on both fields of
bench/eval_taxonomy.yaml: urgency (the `priority` column) and ticket_type (the `type` column,
lowercased); a row needs a label for each of those columns its file has
(tobibueck_german_normalized has no `type`: its German tickets teach and measure urgency alone).
One model learns every language together, as `python -m app train` does. Every ticket is
redacted once, as the fleet does, in one forked process per core (app.learn.training.redact_examples), timed on its own.
  Split A (the headline): the model card's fixed split, app.learn.splits.held_out: near-duplicate
  tickets (word 3-shingle Jaccard >= 0.15, transitively) form a group, and a hash of each group
  holds out 1 in 5 groups whole; the rest is the training part. The data is full of paraphrases
  (German above all: a ticket whose nearest other ticket shares 15-20% of its shingles carries the
  same priority 97% of the time); a per-ticket hash put one paraphrase in training and its twin
  in the test fifth, which flattered the figures (English urgency 0.519 then, 0.46 grouped).
  REGULARISATION_C was chosen by
  cross-validation inside that training 80% (`--cv` repeats it) and TWIN_SIMILARITY by
  leave-one-out inside it (the nearest other training ticket at >= 0.5 had the same labels 94% of
  the time, at >= 0.4 78%). Said plainly: while exploring, the test figures of both splits were
  also seen for a few twin thresholds; 0.5 is the leave-one-out choice, not the best test figure.
  Per language and field: n, the majority class of that language's training tickets, rules and
  local accuracy; German urgency also per file. Side by side per field,
  accuracy and macro-F1 of: the majority class (most common label of the training part), the
  rules (RulesClassifier with the eval taxonomy), and local (`fit_model` on the training part,
  answered through `LocalClassifier.classify` one ticket at a time, as the workers do).
  Split B: a second split of the same groups with another salt ("split-b:");
  majority, rules and local accuracy per field, so a figure that only held on split A shows.
  Learning curve: local accuracy on split A's test fifth when trained on the first 250 / 500 /
  1,000 / all tickets of a fixed, seeded shuffle of split A's training part.
  Gate: for thresholds 0.6 / 0.7 / 0.8 / 0.9 (and the default, DEFAULT_GATE_CONFIDENCE of
  app.learn.classifier, 0.9 where it is not defined): coverage (share of test tickets whose every
  field's confidence is >= the threshold, `LocalClassifier.sure_of`) and, on those tickets, the
  accuracy per field and the share with every field right.
  Speed: ms per ticket of `LocalClassifier.classify` (mean over the test fifth, one call per
  ticket, after one warm-up call); seconds of `fit_model` on the training part (redacted text:
  features and fits); seconds of the full `app.learn.training.train` on every row into a
  temporary directory (redaction, held-out measurement, final fit and save: what
  `python -m app train FILE` runs, less loading spaCy), skipped with `--no-train`.
  Targets (from the issues), each printed met / not met: English urgency accuracy >= 0.53 and
  >= the rules' + 0.05; English ticket type accuracy >= 0.75 (both set on English tickets, so
  measured on split A's English ones); German urgency accuracy >= 0.75 (issue 29); at the default
  gate threshold >= 90% of the answered tickets with every field right; <= 2 ms per ticket;
  <= 60 s to train on 3,000 tickets
  (train() seconds, scaled linearly up to 3,000 tickets when there are fewer).
  `--cv`: 5-fold cross-validation of REGULARISATION_C inside split A's training part (about
  three minutes more on two cores); adds a table and the `cv` and `cv_best_c` keys.
Ends with one JSON line:
  provider ("local"), n (rows), languages: {LANG: rows}, n_train, n_test, redacted (bool),
  fields: {FIELD: {majority_label, majority: {accuracy, macro_f1}, rules: {...}, local: {...}}},
  by_language: {LANG: {FIELD: {n, majority_label, majority, rules, local}}} (accuracies),
  de_urgency_by_file: {FILE: {n, majority, local}},
  split_b: {n_train, n_test, languages: {LANG: {FIELD: {n, majority_label, majority, local}}},
    fields: {FIELD: {majority, rules, local}}} (accuracies),
    gate_default: {threshold, coverage, answered, all_right} (split B's gate at the default),
  learning_curve: [{n_train, FIELD: accuracy, ...}],
  gate: {"THRESHOLD": {coverage, answered, accuracy: {FIELD: accuracy or null}, all_right}},
  default_gate_threshold, ms_per_ticket, fit_seconds, train_seconds, train_tickets (null with
  --no-train), redaction_seconds,
  targets: {urgency_accuracy, ticket_type_accuracy, gate_accuracy, ms_per_ticket, train_seconds,
  de_urgency_accuracy}
  (booleans; null when not measured), and with --cv: cv: {C: {FIELD: accuracy, mean}}, cv_best_c.
Runs in about a minute and a half on two cores (without --cv); the same data gives the same
figures, timings aside.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_EVAL_DIR = ROOT.parent / "shared" / "eval"
EVAL_TAXONOMY = ROOT / "bench" / "eval_taxonomy.yaml"
LABELS = ("high", "medium", "low")
LANGUAGES = ("en", "de", "fr")  # the `language` column's values read by default (--languages)
# The eval taxonomy's fields and the CSV column each is labelled by (values lowercased).
COLUMNS = {"urgency": "priority", "ticket_type": "type"}
SPLIT_B_SALT = "split-b:"
CURVE_SIZES = (250, 500, 1000)
CURVE_SEED = 20240501
GATE_THRESHOLDS = (0.6, 0.7, 0.8, 0.9)
CV_FOLDS = 5
CV_C_VALUES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
# Targets from the issue.
URGENCY_TARGET, URGENCY_OVER_RULES, TYPE_TARGET = 0.53, 0.05, 0.75
GATE_ACCURACY_TARGET, MS_TARGET, TRAIN_SECONDS_TARGET, TRAIN_TICKETS_TARGET = 0.90, 2.0, 60.0, 3000
DE_URGENCY_TARGET = 0.75  # issue 29: German urgency accuracy on a split that keeps near-duplicates together


def load_rows(eval_dir: Path, languages: tuple[str, ...] = LANGUAGES) -> list[tuple[str, str, str, str]]:
    """(subject, body, priority, language) of every distinct ticket in one of `languages`."""
    seen, rows = set(), []
    for path in sorted(eval_dir.glob("tobibueck_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row.get("subject") or "", row.get("body") or "")
                if row.get("language") not in languages or row.get("priority") not in LABELS or key in seen:
                    continue
                seen.add(key)
                rows.append((*key, row["priority"], row["language"]))
    return rows


@dataclass(frozen=True)
class Row:
    """One distinct labelled ticket of the eval files: its labels, language and file."""

    subject: str
    body: str
    labels: dict[str, str]
    language: str
    file: str


def load_labelled(eval_dir: Path, values: dict[str, set[str]], languages: tuple[str, ...] = LANGUAGES) -> list[Row]:
    """Every distinct ticket in one of `languages` labelled for each field of `values` (field ->
    allowed values; a field's label is its COLUMNS column, lowercased) whose column its file has:
    tobibueck_german_normalized has no `type` column, so its tickets teach and measure urgency alone."""
    seen, rows = set(), []
    for path in sorted(eval_dir.glob("tobibueck_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            present = [name for name in values if COLUMNS[name] in (reader.fieldnames or [])]
            for row in reader:
                key = (row.get("subject") or "", row.get("body") or "")
                labels = {name: (row.get(COLUMNS[name]) or "").strip().lower() for name in present}
                if (
                    row.get("language") not in languages
                    or key in seen
                    or not labels
                    or any(labels[n] not in values[n] for n in present)
                ):
                    continue
                seen.add(key)
                rows.append(Row(*key, labels, row["language"], path.name))
    return rows


def _text(subject: str, body: str) -> str:
    from app.learn.model import ticket_text

    return ticket_text(subject, body)


def splits(tickets: list[tuple[str, str]]) -> tuple[list[bool], list[bool]]:
    """Held-out flags of split A (the model card's: app.learn.splits.held_out, near-duplicates
    grouped) and of split B (the same groups, a differently salted hash), per ticket."""
    from app.learn.splits import held_out, near_duplicate_groups

    texts = [_text(subject, body) for subject, body in tickets]
    groups = near_duplicate_groups(texts)
    return held_out(texts, groups=groups), held_out(texts, SPLIT_B_SALT, groups=groups)


def learning_order(train_indices: list[int], seed: int = CURVE_SEED) -> list[int]:
    """A fixed, seeded shuffle of the training part: the learning curve trains on its first N."""
    order = list(train_indices)
    random.Random(seed).shuffle(order)
    return order


def macro_f1(confusion: dict[str, Counter]) -> float:
    scores = []
    for label in LABELS:
        true_positive = confusion[label][label]
        predicted = sum(confusion[gold][label] for gold in LABELS)
        actual = sum(confusion[label].values())
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def build_classifier(provider: str):
    """The rules need no settings at all; the LLM classifier is built from the fleet's settings."""
    import os

    from app.domain.rules import RulesClassifier
    from app.domain.taxonomy import load_taxonomy

    if provider == "rules":
        taxonomy_file = os.environ.get("TAXONOMY_FILE")
        return RulesClassifier(load_taxonomy(Path(taxonomy_file) if taxonomy_file else None))
    from app import services

    return services.classifier()


def run_urgency(args: argparse.Namespace) -> int:
    """--provider rules|llm: urgency only, every row (as before the local model)."""
    rows = load_rows(args.eval_dir, args.languages)[: args.limit]
    classifier = build_classifier(args.provider)
    redactor = None
    if not args.no_redact:
        from app.redaction.redactor import Redactor

        redactor = Redactor()
    confusion: dict[str, Counter] = {label: Counter() for label in LABELS}
    right_by_language: dict[str, list[bool]] = {}
    started = time.perf_counter()
    for subject, body, gold, language in rows:
        if redactor is not None:
            subject, body = redactor.redact(subject).text, redactor.redact(body).text
        answer = classifier.classify(subject, body).values["urgency"]
        confusion[gold][answer] += 1
        right_by_language.setdefault(language, []).append(answer == gold)
    seconds = time.perf_counter() - started
    by_language = {}
    for language, right in right_by_language.items():
        golds = Counter(gold for *_, gold, lang in rows if lang == language)
        by_language[language] = {
            "n": len(right),
            "accuracy": round(sum(right) / len(right), 4),
            "majority_label": golds.most_common(1)[0][0],
            "majority_accuracy": round(golds.most_common(1)[0][1] / len(right), 4),
        }

    n = len(rows)
    correct = sum(confusion[label][label] for label in LABELS)
    majority_label, majority_count = Counter(gold for *_, gold in rows).most_common(1)[0]
    result = {
        "provider": args.provider,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "macro_f1": round(macro_f1(confusion), 4),
        "n": n,
        "majority_label": majority_label,
        "majority_accuracy": round(majority_count / n, 4) if n else 0.0,
        "confusion": {gold: {pred: confusion[gold][pred] for pred in LABELS} for gold in LABELS},
        "by_language": by_language,
        "seconds": round(seconds, 1),
    }
    counts = ", ".join(f"{lang} {scores['n']}" for lang, scores in by_language.items())
    print(f"{n} tickets ({counts}), urgency vs priority label ({args.provider}{'' if redactor else ', not redacted'})")
    print(
        f"  accuracy {result['accuracy']}  macro-F1 {result['macro_f1']}  "
        f"(majority baseline '{majority_label}': accuracy {result['majority_accuracy']}, macro-F1 "
        f"{round(macro_f1({g: Counter({majority_label: sum(confusion[g].values())}) for g in LABELS}), 4)})"
    )
    print("  confusion (rows gold, columns predicted):")
    print("  " + " " * 8 + "".join(f"{label:>8}" for label in LABELS))
    for gold in LABELS:
        print(f"  {gold:<8}" + "".join(f"{confusion[gold][pred]:>8}" for pred in LABELS))
    print("  per language (majority: that language's most common label):")
    for language, scores in by_language.items():
        print(
            f"  {language:<8}{scores['n']:>6} tickets  accuracy {scores['accuracy']:.3f}  "
            f"majority '{scores['majority_label']}' {scores['majority_accuracy']:.3f}"
        )
    print(json.dumps(result))
    return 0


# --provider local ---------------------------------------------------------------------


class _NoRedaction:
    """--no-redact: a redactor that finds nothing, so the same code paths run on raw text."""

    def redact_tickets(self, tickets: list[tuple[str, str]]) -> list[tuple[Any, Any]]:
        from app.redaction.redactor import Redaction

        return [(Redaction(subject, []), Redaction(description, [])) for subject, description in tickets]


def _score(gold: list[str], predicted: list[str]) -> dict[str, float | None]:
    """Accuracy and macro-F1 (over the labels seen in gold or predicted, as the model card's)."""
    from sklearn.metrics import f1_score

    if not gold:
        return {"accuracy": None, "macro_f1": None}
    return {
        "accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / len(gold), 4),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro", zero_division=0)), 4),
    }


def _majority(examples: list[Any], indices: list[int], name: str) -> str:
    """The most common label of field `name` among the tickets at `indices` labelled for it."""
    return Counter(examples[i].labels[name] for i in indices if name in examples[i].labels).most_common(1)[0][0]


def _accuracy(examples: list[Any], indices: list[int], name: str, predicted: list[dict[str, str]]) -> float | None:
    """Accuracy on the tickets at `indices` labelled for `name` of `predicted` (values per ticket,
    parallel to `indices`); None when none is labelled."""
    pairs = [
        (examples[i].labels[name], values[name]) for i, values in zip(indices, predicted) if name in examples[i].labels
    ]
    if not pairs:
        return None
    return round(sum(gold == answer for gold, answer in pairs) / len(pairs), 4)


def per_language(
    examples: list[Any],
    train: list[int],
    test: list[int],
    fields: list[str],
    methods: dict[str, list[dict[str, str]]],
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per ticket language and field, on the test tickets labelled for it: n, the majority class of
    that language's training tickets and its accuracy, and each method's accuracy (`methods`: name
    -> values per test ticket, parallel to `test`)."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for language in sorted({examples[i].language for i in test}, key=lambda lang: (LANGUAGES + (lang,)).index(lang)):
        mine = [k for k, i in enumerate(test) if examples[i].language == language]
        indices = [test[k] for k in mine]
        learned_from = [i for i in train if examples[i].language == language] or train
        table[language] = {}
        for name in fields:
            labelled = [i for i in indices if name in examples[i].labels]
            if not labelled:
                continue
            majority = _majority(examples, learned_from, name)
            table[language][name] = {
                "n": len(labelled),
                "majority_label": majority,
                "majority": _accuracy(examples, indices, name, [{name: majority}] * len(indices)),
                **{
                    method: _accuracy(examples, indices, name, [values[k] for k in mine])
                    for method, values in methods.items()
                },
            }
    return table


def _all_right(example: Any, values: dict[str, str]) -> bool:
    """Every field the ticket is labelled for answered right."""
    return all(values[name] == label for name, label in example.labels.items())


def _fmt(value: float | None, width: int = 10) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


def _cross_validate(
    texts: list[str], examples: list[Any], train: list[int], taxonomy: Any, fields: list[str]
) -> dict[str, dict[str, float]]:
    """Mean accuracy per field over CV_FOLDS folds of the training part, for each C in CV_C_VALUES."""
    import app.learn.model as model_module
    from app.learn.training import fit_model

    order = learning_order(train, seed=CURVE_SEED + 1)
    folds = [order[k::CV_FOLDS] for k in range(CV_FOLDS)]
    saved, results = model_module.REGULARISATION_C, {}
    try:
        for c in CV_C_VALUES:
            model_module.REGULARISATION_C = c  # fit_field reads it at each call
            correct = Counter[str]()
            for k, fold in enumerate(folds):
                rest = [i for j, other in enumerate(folds) if j != k for i in other]
                answers = fit_model(texts, examples, rest, taxonomy, "cv").predict([texts[i] for i in fold])
                for name in fields:
                    correct[name] += sum(examples[i].labels.get(name) == a[0][name] for i, a in zip(fold, answers))
            scores = {name: round(correct[name] / sum(name in examples[i].labels for i in train), 4) for name in fields}
            scores["mean"] = round(sum(scores.values()) / len(fields), 4)
            results[f"{c:g}"] = scores
    finally:
        model_module.REGULARISATION_C = saved
    return results


def run_local(args: argparse.Namespace) -> int:
    import app.learn.classifier as classifier_module
    from app.domain.rules import RulesClassifier
    from app.domain.taxonomy import load_taxonomy
    from app.learn.classifier import LocalClassifier
    from app.learn.model import REGULARISATION_C
    from app.learn.training import Example, fit_model, redact_examples, train

    taxonomy = load_taxonomy(EVAL_TAXONOMY)
    fields = list(taxonomy.fields)
    values = {name: set(taxonomy.fields[name].values) for name in fields}
    rows = load_labelled(args.eval_dir, values, args.languages)[: args.limit]
    examples = [Example(row.subject, row.body, row.labels, language=row.language) for row in rows]
    source = f"{args.eval_dir.name}/tobibueck_*.csv ({', '.join(args.languages)})"
    n = len(examples)
    languages = Counter(row.language for row in rows)

    # Redact once, as the fleet does; the model and the rules read the same redacted text.
    if args.no_redact:
        redactor: Any = _NoRedaction()
        load_seconds = 0.0
    else:
        from app.redaction.redactor import Redactor

        started = time.perf_counter()
        redactor = Redactor()
        load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    texts = redact_examples(examples, redactor)
    redaction_seconds = time.perf_counter() - started
    # Back to (subject, description) for classify(): ticket_text joins them with the first "\n"
    # (a subject has none), so classify() reads exactly the text the model was trained on.
    redacted = [tuple(text.split("\n", 1)) for text in texts]

    held_a, held_b = splits([(e.subject, e.description) for e in examples])
    train_a = [i for i in range(n) if not held_a[i]]
    test_a = [i for i in range(n) if held_a[i]]
    train_b = [i for i in range(n) if not held_b[i]]
    test_b = [i for i in range(n) if held_b[i]]

    rules = RulesClassifier(taxonomy)
    rule_values = [rules.classify(subject, description).values for subject, description in redacted]

    # Split A: fit on the training 80%, answer the test fifth one ticket at a time, as the workers do.
    started = time.perf_counter()
    model = fit_model(texts, examples, train_a, taxonomy, source)
    fit_seconds = time.perf_counter() - started
    local = LocalClassifier(model, taxonomy)
    local.classify(*redacted[test_a[0]])  # warm-up
    analyses, classify_seconds = [], 0.0
    for i in test_a:
        started = time.perf_counter()
        analyses.append(local.classify(*redacted[i]))
        classify_seconds += time.perf_counter() - started
    ms_per_ticket = classify_seconds / len(test_a) * 1000
    batch_agrees = [values for values, _ in model.predict([texts[i] for i in test_a])] == [a.values for a in analyses]

    table: dict[str, dict[str, Any]] = {}
    answer_of = {i: analysis.values for i, analysis in zip(test_a, analyses)}
    for name in fields:
        tested = [i for i in test_a if name in examples[i].labels]
        gold = [examples[i].labels[name] for i in tested]
        majority = _majority(examples, train_a, name)
        table[name] = {
            "majority_label": majority,
            "majority": _score(gold, [majority] * len(gold)),
            "rules": _score(gold, [rule_values[i][name] for i in tested]),
            "local": _score(gold, [answer_of[i][name] for i in tested]),
        }
    languages_a = per_language(
        examples,
        train_a,
        test_a,
        fields,
        {"rules": [rule_values[i] for i in test_a], "local": [answer_of[i] for i in test_a]},
    )
    # German urgency per file: the files differ (tobibueck_german_normalized's texts often say how urgent).
    german = [i for i in test_a if examples[i].language == "de" and "urgency" in examples[i].labels]
    german_majority = _majority(examples, [i for i in train_a if examples[i].language == "de"] or train_a, "urgency")
    de_urgency_by_file = {
        name: {
            "n": len(chosen),
            "majority": _accuracy(examples, chosen, "urgency", [{"urgency": german_majority}] * len(chosen)),
            "local": _accuracy(examples, chosen, "urgency", [answer_of[i] for i in chosen]),
        }
        for name in sorted({rows[i].file for i in german})
        for chosen in [[i for i in german if rows[i].file == name]]
    }

    # Split B: the same, on a split nobody tuned on (batch predictions: the same answers, see above).
    model_b = fit_model(texts, examples, train_b, taxonomy, source)
    answers_b = model_b.predict([texts[i] for i in test_b])
    predicted_b = [values for values, _ in answers_b]
    split_b = {
        "n_train": len(train_b),
        "n_test": len(test_b),
        "languages": per_language(examples, train_b, test_b, fields, {"local": predicted_b}),
        "fields": {
            name: {
                "majority": _accuracy(
                    examples, test_b, name, [{name: _majority(examples, train_b, name)}] * len(test_b)
                ),
                "rules": _accuracy(examples, test_b, name, [rule_values[i] for i in test_b]),
                "local": _accuracy(examples, test_b, name, predicted_b),
            }
            for name in fields
        },
    }

    # Learning curve on split A's test fifth; "all" is the headline model above.
    order = learning_order(train_a)
    curve = []
    for size in [s for s in CURVE_SIZES if s < len(train_a)]:
        answers = fit_model(texts, examples, order[:size], taxonomy, source).predict([texts[i] for i in test_a])
        curve.append(
            {"n_train": size, **{name: _accuracy(examples, test_a, name, [v for v, _ in answers]) for name in fields}}
        )
    curve.append({"n_train": len(train_a), **{name: table[name]["local"]["accuracy"] for name in fields}})

    # The gate: on the tickets the model is sure of, how often is it right?
    default_threshold = float(getattr(classifier_module, "DEFAULT_GATE_CONFIDENCE", 0.9))
    sure_b = [
        (i, values)
        for i, (values, confidence) in zip(test_b, answers_b)
        if all(confidence[f] >= default_threshold for f in fields)
    ]
    split_b["gate_default"] = {
        "threshold": default_threshold,
        "coverage": round(len(sure_b) / len(test_b), 4),
        "answered": len(sure_b),
        "all_right": round(sum(_all_right(examples[i], v) for i, v in sure_b) / len(sure_b), 4) if sure_b else None,
    }
    thresholds = sorted(set(GATE_THRESHOLDS) | {default_threshold})
    gate = {}
    for threshold in thresholds:
        sure = [(i, a) for i, a in zip(test_a, analyses) if local.sure_of(a, threshold)]
        gate[f"{threshold:g}"] = {
            "coverage": round(len(sure) / len(test_a), 4),
            "answered": len(sure),
            "accuracy": {
                name: _accuracy(examples, [i for i, _ in sure], name, [a.values for _, a in sure]) for name in fields
            },
            "all_right": round(sum(_all_right(examples[i], a.values) for i, a in sure) / len(sure), 4)
            if sure
            else None,
        }

    cv = _cross_validate(texts, examples, train_a, taxonomy, fields) if args.cv else None

    # The full training run, as `python -m app train FILE` does it (the redactor is already loaded).
    train_seconds = card = None
    if not args.no_train:
        with tempfile.TemporaryDirectory() as directory:
            started = time.perf_counter()
            _, card = train(examples, taxonomy, redactor, source, Path(directory) / "local.npz")
            train_seconds = time.perf_counter() - started

    # Report ---------------------------------------------------------------------------
    print(
        f"{n} tickets ({', '.join(f'{lang} {languages[lang]}' for lang in args.languages if languages[lang])}) "
        f"labelled for {', '.join(f'{f} ({COLUMNS[f]})' for f in fields)}; "
        + (
            "NOT redacted"
            if args.no_redact
            else f"redacted in {redaction_seconds:.1f} s (spaCy loaded in {load_seconds:.1f} s)"
        )
    )
    print(
        f"\nsplit A (the model card's: near-duplicate groups, 1 in 5 held out): {len(train_a)} train / "
        f"{len(test_a)} test; "
        f"REGULARISATION_C={REGULARISATION_C:g}, chosen by CV inside the training part only"
    )
    print(f"  {'':<26}" + "".join(f"{name:>20}  " for name in fields))
    print(f"  {'':<26}" + "".join(f"{'accuracy':>10}{'macro-F1':>10}  " for _ in fields))
    for method in ("majority", "rules", "local"):
        label = f"majority ({'/'.join(table[f]['majority_label'] for f in fields)})" if method == "majority" else method
        print(
            f"  {label:<26}"
            + "".join(f"{_fmt(table[f][method]['accuracy'])}{_fmt(table[f][method]['macro_f1'])}  " for f in fields)
        )
    print(
        f"  (local answered through LocalClassifier.classify one ticket at a time; a batch predict gives "
        f"{'the same' if batch_agrees else 'DIFFERENT'} answers)"
    )
    print_languages("split A per language (accuracy; majority: that language's training majority)", languages_a)
    print("  German urgency per file (majority: the German training majority)")
    for name, scores in de_urgency_by_file.items():
        print(
            f"    {name:<46}{scores['n']:>6}  local {_fmt(scores['local'], 0)}  majority {_fmt(scores['majority'], 0)}"
        )

    print(
        f"\nsplit B (sha256({SPLIT_B_SALT!r} + text) % 5 == 0 held out): "
        f"{split_b['n_train']} train / {split_b['n_test']} test; accuracy"
    )
    print(f"  {'':<26}" + "".join(f"{name:>12}" for name in fields))
    for method in ("majority", "rules", "local"):
        print(f"  {method:<26}" + "".join(_fmt(split_b["fields"][f][method], 12) for f in fields))
    print_languages("split B per language (accuracy)", split_b["languages"])
    gate_b = split_b["gate_default"]
    print(
        f"  gate at the default {gate_b['threshold']:g}: coverage {gate_b['coverage']:.3f} ({gate_b['answered']} "
        f"tickets), every field right on {_fmt(gate_b['all_right'], 0).strip()} of them"
    )

    print("\nlearning curve (local accuracy on split A's test fifth; first N of a seeded shuffle of its training part)")
    print(f"  {'train tickets':<26}" + "".join(f"{name:>12}" for name in fields))
    for point in curve:
        print(f"  {point['n_train']:<26}" + "".join(_fmt(point[f], 12) for f in fields))

    print("\ngate (split A's test fifth; answered = every field's confidence >= threshold)")
    print(
        f"  {'threshold':<12}{'coverage':>10}{'answered':>10}"
        + "".join(f"{name:>12}" for name in fields)
        + f"{'all right':>11}"
    )
    for key, row in gate.items():
        mark = "  <- default" if float(key) == default_threshold else ""
        print(
            f"  {key:<12}{_fmt(row['coverage'])}{row['answered']:>10}"
            + "".join(_fmt(row["accuracy"][f], 12) for f in fields)
            + _fmt(row["all_right"], 11)
            + mark
        )

    if cv is not None:
        print(f"\ncross-validation inside split A's training part ({CV_FOLDS} folds, mean accuracy)")
        print(f"  {'C':<12}" + "".join(f"{name:>12}" for name in [*fields, "mean"]))
        for c, scores in cv.items():
            mark = "  <- REGULARISATION_C" if float(c) == REGULARISATION_C else ""
            print(f"  {c:<12}" + "".join(_fmt(scores[name], 12) for name in [*fields, "mean"]) + mark)

    print("\nspeed")
    print(
        f"  LocalClassifier.classify: {ms_per_ticket:.3f} ms per ticket (mean of {len(test_a)} calls, one ticket "
        "each, after a warm-up)"
    )
    print(f"  fit_model on the {len(train_a)} training tickets (redacted; features and fits): {fit_seconds:.1f} s")
    if train_seconds is not None:
        print(
            f"  train() on all {n} tickets (redaction, held-out measurement, final fit, save): {train_seconds:.1f} s"
            f"; its card: " + ", ".join(f"{name} accuracy {card.fields[name].accuracy}" for name in fields)
        )

    # Targets ---------------------------------------------------------------------------
    # The English targets were set on English tickets: measured on them (the same model, split A).
    english = languages_a.get("en", {})
    urgency = {m: {"accuracy": english.get("urgency", {}).get(m)} for m in ("rules", "local")}
    kind = {"local": {"accuracy": english.get("ticket_type", {}).get("local")}}
    de_urgency = languages_a.get("de", {}).get("urgency")
    default_gate = gate[f"{default_threshold:g}"]
    per_target_tickets = (train_seconds * max(1.0, TRAIN_TICKETS_TARGET / n)) if train_seconds is not None else None
    targets = {
        "urgency_accuracy": urgency["local"]["accuracy"] >= URGENCY_TARGET
        and urgency["local"]["accuracy"] >= urgency["rules"]["accuracy"] + URGENCY_OVER_RULES
        if english.get("urgency")
        else None,
        "ticket_type_accuracy": kind["local"]["accuracy"] >= TYPE_TARGET if english.get("ticket_type") else None,
        "gate_accuracy": default_gate["all_right"] is not None and default_gate["all_right"] >= GATE_ACCURACY_TARGET,
        "ms_per_ticket": ms_per_ticket <= MS_TARGET,
        "train_seconds": per_target_tickets <= TRAIN_SECONDS_TARGET if per_target_tickets is not None else None,
        "de_urgency_accuracy": de_urgency["local"] >= DE_URGENCY_TARGET if de_urgency else None,
    }
    status = {True: "met    ", False: "NOT met", None: "not run"}
    print("\ntargets")
    print(
        f"  {status[targets['urgency_accuracy']]}  English urgency accuracy >= {URGENCY_TARGET} and >= rules + "
        f"{URGENCY_OVER_RULES}: {_fmt(urgency['local']['accuracy'], 0)} (rules {_fmt(urgency['rules']['accuracy'], 0)})"
    )
    print(
        f"  {status[targets['ticket_type_accuracy']]}  English ticket type accuracy >= {TYPE_TARGET}: "
        f"{_fmt(kind['local']['accuracy'], 0)}"
    )
    print(
        f"  {status[targets['gate_accuracy']]}  default gate {default_threshold:g}: >= {GATE_ACCURACY_TARGET:.0%} "
        f"of answered tickets with every field right: {_fmt(default_gate['all_right'], 0)} "
        f"(coverage {default_gate['coverage']:.1%}, {default_gate['answered']} of {len(test_a)})"
    )
    print(
        f"  {status[targets['de_urgency_accuracy']]}  German urgency accuracy >= {DE_URGENCY_TARGET}: "
        + (
            f"{de_urgency['local']:.3f} on {de_urgency['n']} held out (majority {de_urgency['majority']:.3f})"
            if de_urgency
            else "no German tickets"
        )
    )
    print(f"  {status[targets['ms_per_ticket']]}  <= {MS_TARGET:g} ms per ticket: {ms_per_ticket:.3f} ms")
    print(
        f"  {status[targets['train_seconds']]}  <= {TRAIN_SECONDS_TARGET:g} s to train on {TRAIN_TICKETS_TARGET:,} "
        "tickets: "
        + (
            "not measured (--no-train)"
            if train_seconds is None
            else f"{train_seconds:.1f} s on {n:,}"
            + (f" (scaled: {per_target_tickets:.1f} s)" if n < TRAIN_TICKETS_TARGET else "")
        )
    )

    result: dict[str, Any] = {
        "provider": "local",
        "n": n,
        "languages": dict(languages),
        "n_train": len(train_a),
        "n_test": len(test_a),
        "redacted": not args.no_redact,
        "fields": table,
        "by_language": languages_a,
        "de_urgency_by_file": de_urgency_by_file,
        "split_b": split_b,
        "learning_curve": curve,
        "gate": gate,
        "default_gate_threshold": default_threshold,
        "ms_per_ticket": round(ms_per_ticket, 4),
        "fit_seconds": round(fit_seconds, 2),
        "train_seconds": round(train_seconds, 2) if train_seconds is not None else None,
        "train_tickets": n if train_seconds is not None else None,
        "redaction_seconds": round(redaction_seconds, 2),
        "targets": targets,
    }
    if cv is not None:
        result["cv"] = cv
        result["cv_best_c"] = float(max(cv, key=lambda c: cv[c]["mean"]))
    print(json.dumps(result))
    return 0


def print_languages(title: str, table: dict[str, dict[str, dict[str, Any]]]) -> None:
    """A per-language table: a row per language and method, a column per field (n in the first row)."""
    print(title)
    fields = list(dict.fromkeys(name for scores in table.values() for name in scores))
    print(f"    {'':<30}" + "".join(f"{name:>14}" for name in fields))
    for language, scores in table.items():
        methods = [key for key in next(iter(scores.values())) if key not in ("n", "majority_label")]
        print(f"    {language + ' (n)':<30}" + "".join(f"{scores[f]['n'] if f in scores else '-':>14}" for f in fields))
        for method in methods:
            label = method
            if method == "majority":
                label = "majority (" + "/".join(scores[f]["majority_label"] for f in fields if f in scores) + ")"
            print(f"      {label:<18}" + "".join(_fmt(scores[f][method] if f in scores else None, 14) for f in fields))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=("rules", "llm", "local"), default="rules")
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    parser.add_argument("--limit", type=int, default=None, help="only the first N distinct tickets")
    parser.add_argument(
        "--languages",
        type=lambda text: tuple(part.strip() for part in text.split(",") if part.strip()),
        default=LANGUAGES,
        help="the `language` column's values to read, comma-separated (default en,de,fr)",
    )
    parser.add_argument("--no-redact", action="store_true", help="classify raw text (faster, less faithful)")
    parser.add_argument("--no-train", action="store_true", help="local: skip timing the full train() run")
    parser.add_argument(
        "--cv", action="store_true", help="local: also cross-validate REGULARISATION_C inside the training part"
    )
    args = parser.parse_args(argv)
    if args.provider == "local":
        return run_local(args)
    return run_urgency(args)


if __name__ == "__main__":
    sys.exit(main())
