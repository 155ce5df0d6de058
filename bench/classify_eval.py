"""Urgency accuracy of a classifier on labelled public support tickets, beside a majority baseline.

    .venv/bin/python bench/classify_eval.py [--provider rules|llm] [--limit N] [--no-redact]

Data: the English rows of ../shared/eval/tobibueck_*.csv (synthetic support tickets, CC BY-NC),
de-duplicated on subject and body. The label is the `priority` column (low/medium/high), compared
with the urgency field of the default taxonomy (high/medium/low). Tickets are redacted first,
exactly as the fleet does. `--provider llm` uses the LLM settings (OPENAI_API_KEY / LLM_BASE_URL,
LLM_MODEL) through the same classifier the workers use; it costs money against a real API.
Ends with one JSON line: provider, accuracy, macro_f1, n, majority_accuracy, confusion.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_EVAL_DIR = ROOT.parent / "shared" / "eval"
LABELS = ("high", "medium", "low")


def load_rows(eval_dir: Path) -> list[tuple[str, str, str]]:
    """(subject, body, priority) of every distinct English ticket."""
    seen, rows = set(), []
    for path in sorted(eval_dir.glob("tobibueck_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = (row.get("subject") or "", row.get("body") or "")
                if row.get("language") != "en" or row.get("priority") not in LABELS or key in seen:
                    continue
                seen.add(key)
                rows.append((*key, row["priority"]))
    return rows


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=("rules", "llm"), default="rules")
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-redact", action="store_true", help="classify raw text (faster, less faithful)")
    args = parser.parse_args(argv)

    rows = load_rows(args.eval_dir)[: args.limit]
    classifier = build_classifier(args.provider)
    redactor = None
    if not args.no_redact:
        from app.redaction.redactor import Redactor

        redactor = Redactor()
    confusion: dict[str, Counter] = {label: Counter() for label in LABELS}
    started = time.perf_counter()
    for subject, body, gold in rows:
        if redactor is not None:
            subject, body = redactor.redact(subject).text, redactor.redact(body).text
        confusion[gold][classifier.classify(subject, body).values["urgency"]] += 1
    seconds = time.perf_counter() - started

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
        "seconds": round(seconds, 1),
    }
    print(f"{n} English tickets, urgency vs priority label ({args.provider}{'' if redactor else ', not redacted'})")
    print(f"  accuracy {result['accuracy']}  macro-F1 {result['macro_f1']}  "
          f"(majority baseline '{majority_label}': accuracy {result['majority_accuracy']}, macro-F1 "
          f"{round(macro_f1({g: Counter({majority_label: sum(confusion[g].values())}) for g in LABELS}), 4)})")
    print("  confusion (rows gold, columns predicted):")
    print("  " + " " * 8 + "".join(f"{label:>8}" for label in LABELS))
    for gold in LABELS:
        print(f"  {gold:<8}" + "".join(f"{confusion[gold][pred]:>8}" for pred in LABELS))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
