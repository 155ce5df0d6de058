"""bench/classify_eval.py's data and splits: fast checks, no model trained, no redaction."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("classify_eval", ROOT / "bench" / "classify_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TICKETS = [(f"Subject {n}", f"Body of ticket number {n}, with some words.") for n in range(500)]


def test_split_b_is_deterministic_about_a_fifth_and_independent_of_split_a(bench):
    held_b = [bench.split_b_held_out(s, b) for s, b in TICKETS]
    assert held_b == [bench.split_b_held_out(s, b) for s, b in TICKETS]
    held_a = [bench.split_a_held_out(s, b) for s, b in TICKETS]
    assert 60 <= sum(held_b) <= 140 and 60 <= sum(held_a) <= 140
    # A different salt: not the same test set, and its test fifth overlaps A's about as chance would.
    assert held_a != held_b
    assert sum(a and b for a, b in zip(held_a, held_b)) < 0.5 * min(sum(held_a), sum(held_b))


def test_learning_order_is_a_fixed_shuffle_of_the_training_part(bench):
    train = [i for i, (s, b) in enumerate(TICKETS) if not bench.split_a_held_out(s, b)]
    order = bench.learning_order(train)
    assert order == bench.learning_order(train) and sorted(order) == train and order != train
    assert not set(order) & {i for i, (s, b) in enumerate(TICKETS) if bench.split_a_held_out(s, b)}


def test_load_labelled_keeps_english_rows_with_both_labels_once(bench, tmp_path: Path):
    columns = ["subject", "body", "type", "priority", "language"]
    rows = [
        ["Down", "It broke", "Incident", "high", "en"],
        ["Down", "It broke", "Request", "low", "en"],  # a duplicate of subject and body: the first wins
        ["Kaputt", "Es geht nicht", "Incident", "high", "de"],  # not English
        ["Help", "No type", "", "low", "en"],  # no ticket type
        ["Upgrade", "Please plan it", "Change", "urgent", "en"],  # priority not a value
        ["Upgrade", "Please plan it", "Change", "medium", "en"],
    ]
    with (tmp_path / "tobibueck_test.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    values = {"urgency": {"high", "medium", "low"}, "ticket_type": {"incident", "request", "problem", "change"}}
    assert bench.load_labelled(tmp_path, values) == [
        ("Down", "It broke", {"urgency": "high", "ticket_type": "incident"}),
        ("Upgrade", "Please plan it", {"urgency": "medium", "ticket_type": "change"}),
    ]
