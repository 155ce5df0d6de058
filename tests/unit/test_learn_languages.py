"""The local model's held-out split (near-duplicates together) and its per-language figures."""

from __future__ import annotations

import pytest

from app.learn.splits import held_out, near_duplicate_groups, shingles
from app.learn.training import Example, by_language, language_code, read_examples

BODY = "Our payment gateway rejects every card since this morning and customers cannot check out at all"


def test_shingles_are_three_word_runs_of_lowercased_words():
    assert shingles("Login FAILS again, today") == {"login fails again", "fails again today"}
    assert shingles("Two words") == {"two words"} and shingles("") == set()


def test_paraphrases_share_a_group_and_unrelated_tickets_do_not():
    texts = [
        BODY,
        BODY.replace("this morning", "early today"),  # a paraphrase
        BODY.replace("every card", "each card").replace("at all", "anymore"),  # a paraphrase of both
        "Please add an export to CSV for the monthly invoices of our second account",
        "Der Drucker im zweiten Stock druckt seit gestern nur noch leere Seiten aus",
    ]
    groups = near_duplicate_groups(texts)
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4]}) == 3


def test_a_shared_template_is_not_one_group():
    # Generated tickets can all share one template: split one by one, or one group is the test part.
    texts = [f"{BODY} (ticket {n})" for n in range(100)]
    assert len(set(near_duplicate_groups(texts))) == 100
    assert 5 <= sum(held_out(texts)) <= 40


def test_the_held_out_split_keeps_a_group_together_and_does_not_depend_on_order():
    texts = [f"Ticket {n}: " + " ".join(f"w{n}x{k}" for k in range(6)) for n in range(300)]
    texts += [BODY + f" {n}" for n in range(5)]  # one group of five paraphrases
    flags = held_out(texts)
    assert len(set(flags[300:])) == 1 and 30 <= sum(flags[:300]) <= 90
    reordered = list(reversed(texts))
    assert dict(zip(reordered, held_out(reordered))) == dict(zip(texts, flags))
    assert held_out(texts, "another salt") != flags


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("fr_CH", "fr"),
        ("EN", "en"),
        ("es", "other"),
        ("", None),
        ("German", None),
        (3, None),
    ],
)
def test_a_language_column_or_locale_gives_the_language(raw, code):
    assert language_code(raw) == code


def test_a_labelled_file_may_name_each_tickets_language(tmp_path):
    from app.domain.taxonomy import load_taxonomy

    path = tmp_path / "labelled.csv"
    path.write_text(
        "subject,description,urgency,language\nDown,It broke,high,en\nKaputt,Geht nicht,high,de-DE\nPanne,Rien,low,\n",
        encoding="utf-8",
    )
    examples = read_examples(path, load_taxonomy()).examples
    assert [e.language for e in examples] == ["en", "de", None]


def test_accuracy_per_language_beside_that_languages_majority():
    examples = [
        Example("a", "", {"urgency": "high"}, language="en"),
        Example("b", "", {"urgency": "low"}, language="de"),
        Example("c", "", {"urgency": "low"}, language="de"),
        Example("d", "", {"urgency": "high"}, language="en"),
        Example("e", "", {"urgency": "low"}, language="de"),
        Example("f", "", {"urgency": "medium"}, language="fr"),  # no French learning ticket: all tickets' majority
        Example("g", "", {"urgency": "low"}),  # language unknown: left out
    ]
    predicted = [{"urgency": "high"}, {"urgency": "high"}, {"urgency": "medium"}, {"urgency": "low"}]
    scores = by_language(examples, [0, 1, 2], [3, 4, 5, 6], predicted, "urgency")
    assert scores == {
        "en": {"held_out": 1, "accuracy": 1.0, "majority_accuracy": 1.0},
        "de": {"held_out": 1, "accuracy": 0.0, "majority_accuracy": 1.0},
        "fr": {"held_out": 1, "accuracy": 1.0, "majority_accuracy": 0.0},
    }


def test_redaction_gives_each_example_without_a_language_the_one_it_detected():
    from app.learn.training import redact_examples
    from app.redaction import Redactor

    german = Example(
        "Drucker defekt",
        "Sehr geehrte Damen und Herren, unser Drucker druckt seit gestern nicht mehr. Viele Grüße, Jana Krüger",
        {},
    )
    labelled = Example("Imprimante", "Bonjour, notre imprimante est en panne depuis hier.", {}, language="de")
    texts = redact_examples([german, labelled], Redactor())
    assert german.language == "de"  # detected
    assert labelled.language == "de"  # a file's column is kept for the card's figures
    assert "Krüger" not in texts[0] and "Drucker" in texts[0]  # German rules: the name goes, nouns stay
