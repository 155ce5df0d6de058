"""bench/classify_eval.py's data and splits: fast checks, no model trained, no redaction."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("classify_eval", ROOT / "bench" / "classify_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up while being defined
    spec.loader.exec_module(module)
    return module


TICKETS = [(f"Subject {n}", f"Body of ticket number {n}, with some words.") for n in range(500)]
# Distinct tickets: every text its own words, so no two are near-duplicates.
DISTINCT = [(f"Subject {n}", " ".join(f"w{n}x{k}" for k in range(8))) for n in range(500)]


def test_split_b_is_deterministic_about_a_fifth_and_independent_of_split_a(bench):
    held_a, held_b = bench.splits(DISTINCT)
    assert (held_a, held_b) == bench.splits(DISTINCT)
    assert 60 <= sum(held_b) <= 140 and 60 <= sum(held_a) <= 140
    # A different salt: not the same test set, and its test fifth overlaps A's about as chance would.
    assert held_a != held_b
    assert sum(a and b for a, b in zip(held_a, held_b)) < 0.5 * min(sum(held_a), sum(held_b))


def test_near_duplicates_fall_on_one_side_of_both_splits(bench):
    body = "Our payment gateway rejects every card since this morning and customers cannot check out at all"
    paraphrases = [(f"Payments down {n}", body.replace("every", f"each {n}")) for n in range(6)]
    held_a, held_b = bench.splits(DISTINCT[:200] + paraphrases)
    assert len(set(held_a[200:])) == 1 and len(set(held_b[200:])) == 1


def test_learning_order_is_a_fixed_shuffle_of_the_training_part(bench):
    held_a, _ = bench.splits(DISTINCT)
    train = [i for i, held in enumerate(held_a) if not held]
    order = bench.learning_order(train)
    assert order == bench.learning_order(train) and sorted(order) == train and order != train
    assert not set(order) & {i for i, held in enumerate(held_a) if held}


def _write(path: Path, columns: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


VALUES = {"urgency": {"high", "medium", "low"}, "ticket_type": {"incident", "request", "problem", "change"}}


def test_load_labelled_keeps_english_german_and_french_rows_with_their_labels_once(bench, tmp_path: Path):
    columns = ["subject", "body", "type", "priority", "language"]
    _write(
        tmp_path / "tobibueck_test.csv",
        columns,
        [
            ["Down", "It broke", "Incident", "high", "en"],
            ["Down", "It broke", "Request", "low", "en"],  # a duplicate of subject and body: the first wins
            ["Kaputt", "Es geht nicht", "Incident", "high", "de"],
            ["Panne", "Rien ne marche", "Problem", "medium", "fr"],
            ["Avería", "No funciona", "Incident", "high", "es"],  # not a language read by default
            ["Help", "No type", "", "low", "en"],  # no ticket type, though the file has the column
            ["Upgrade", "Please plan it", "Change", "urgent", "en"],  # priority not a value
            ["Upgrade", "Please plan it", "Change", "medium", "en"],
        ],
    )
    # A file without a `type` column (tobibueck_german_normalized): its rows teach urgency alone.
    _write(
        tmp_path / "tobibueck_urgency.csv",
        ["subject", "body", "priority", "language"],
        [["Eilt", "Sofort", "high", "de"]],
    )
    rows = bench.load_labelled(tmp_path, VALUES)
    assert [(r.subject, r.labels, r.language, r.file) for r in rows] == [
        ("Down", {"urgency": "high", "ticket_type": "incident"}, "en", "tobibueck_test.csv"),
        ("Kaputt", {"urgency": "high", "ticket_type": "incident"}, "de", "tobibueck_test.csv"),
        ("Panne", {"urgency": "medium", "ticket_type": "problem"}, "fr", "tobibueck_test.csv"),
        ("Upgrade", {"urgency": "medium", "ticket_type": "change"}, "en", "tobibueck_test.csv"),
        ("Eilt", {"urgency": "high"}, "de", "tobibueck_urgency.csv"),
    ]
    assert [r.subject for r in bench.load_labelled(tmp_path, VALUES, ("en",))] == ["Down", "Upgrade"]


def test_the_per_language_report_scores_each_language_against_its_own_majority(bench):
    from app.learn.training import Example

    examples = [
        Example("a", "a", {"urgency": "high", "ticket_type": "incident"}, language="en"),
        Example("b", "b", {"urgency": "high", "ticket_type": "incident"}, language="en"),
        Example("c", "c", {"urgency": "low"}, language="de"),
        Example("d", "d", {"urgency": "low"}, language="de"),
        # the test part
        Example("e", "e", {"urgency": "high", "ticket_type": "request"}, language="en"),
        Example("f", "f", {"urgency": "low"}, language="de"),
        Example("g", "g", {"urgency": "high"}, language="de"),
    ]
    local = [
        {"urgency": "high", "ticket_type": "request"},
        {"urgency": "high", "ticket_type": "incident"},
        {"urgency": "high", "ticket_type": "incident"},
    ]
    table = bench.per_language(examples, [0, 1, 2, 3], [4, 5, 6], ["urgency", "ticket_type"], {"local": local})
    assert list(table) == ["en", "de"]
    assert table["en"]["urgency"] == {"n": 1, "majority_label": "high", "majority": 1.0, "local": 1.0}
    assert table["en"]["ticket_type"] == {"n": 1, "majority_label": "incident", "majority": 0.0, "local": 1.0}
    # German: its own majority (low), not the English one; no ticket type labels, so no row for it.
    assert table["de"] == {"urgency": {"n": 2, "majority_label": "low", "majority": 0.5, "local": 0.5}}
