"""German and French tickets through the tasks, called directly, against real Redis and the
in-process Zendesk simulator: each is redacted by its language's rules before anything is
classified, and NOTE_LANGUAGE=ticket writes the private note in the ticket's language."""

from __future__ import annotations

import pytest

from app.settings import get_settings
from tests.integration.test_modes_tasks import claimed
from tests.integration.test_tasks import create_ticket, private_notes, run_chain

GERMAN_BODY = (
    "Sehr geehrte Damen und Herren,\nseit dem Update druckt unser Drucker keine Rechnungen mehr und die "
    "Druckerwarteschlange hängt. Bitte rufen Sie mich unter 0170 / 2688672 zurück.\n"
    "Mit freundlichen Grüßen\nJana Krüger"
)
FRENCH_BODY = (
    "Bonjour,\nnotre imprimante n'imprime plus les factures depuis la mise à jour. Pouvez-vous me rappeler "
    "au 06 12 34 56 78 ?\nCordialement,\nCamille Moreau"
)


@pytest.fixture
def note_language(fleet_env, monkeypatch):
    def set_language(value: str) -> None:
        monkeypatch.setenv("NOTE_LANGUAGE", value)
        get_settings.cache_clear()

    return set_language


def test_a_german_ticket_is_redacted_by_german_rules_and_noted_in_german(fleet_env, note_language):
    note_language("ticket")
    ticket_id = create_ticket(fleet_env, "Drucker druckt nicht", GERMAN_BODY)

    redacted, result = run_chain(claimed(ticket_id).model_dump())

    assert redacted["language"] == "de"
    text = redacted["redacted_description"]
    assert "Krüger" not in text and "2688672" not in text and "Jana" not in text
    assert "<PERSON>" in text and "<PHONE_NUMBER>" in text
    # German nouns are no names: what the classifier reads still says what is wrong.
    assert "Drucker" in text and "Rechnungen" in text and "Druckerwarteschlange" in text and "Update" in text
    assert redacted["redacted_counts"] == {"PERSON": 1, "PHONE_NUMBER": 1}
    assert result["status"] == "success"
    (note,) = private_notes(fleet_env, ticket_id)
    assert note["body"].startswith("KI-Analyse:")


def test_a_french_ticket_is_redacted_by_french_rules(fleet_env, note_language):
    note_language("ticket")
    ticket_id = create_ticket(fleet_env, "Imprimante en panne", FRENCH_BODY)

    redacted, result = run_chain(claimed(ticket_id).model_dump())

    assert redacted["language"] == "fr"
    text = redacted["redacted_description"]
    assert "Moreau" not in text and "56 78" not in text and "imprimante" in text
    (note,) = private_notes(fleet_env, ticket_id)
    assert note["body"].startswith("Analyse IA :")


def test_the_note_stays_english_by_default(fleet_env):
    ticket_id = create_ticket(fleet_env, "Drucker druckt nicht", GERMAN_BODY)

    redacted, _ = run_chain(claimed(ticket_id).model_dump())

    assert redacted["language"] == "de"
    (note,) = private_notes(fleet_env, ticket_id)
    assert note["body"].startswith("AI Analysis:")
