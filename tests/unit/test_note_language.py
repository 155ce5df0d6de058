"""NOTE_LANGUAGE: the private note in English, German or French; tags, values and the machine-read
"Run:" line the same in every language, and the fleet's own notes recognised in each."""

from __future__ import annotations

import pytest

from app.domain.models import Analysis, Ticket
from app.domain.note_text import NOTE_HEADINGS, NOTE_TEXT, is_note, note_language
from app.domain.taxonomy import load_taxonomy
from app.domain.triage import format_note, plan_update
from app.fleet.writeback import BatchItem, note_written, write_triage

TAXONOMY = load_taxonomy()
ANALYSIS = Analysis(
    summary="Die Anmeldung schlägt fehl",
    values={"root_cause": "bug", "urgency": "high", "sentiment": "negative"},
    confidence={"root_cause": 0.9, "urgency": 0.8, "sentiment": 0.7},
    language="de",
    provider="llm",
    model="gpt-4o-mini",
    prompt_version="triage-v2/x",
    prompt_tokens=300,
    completion_tokens=40,
)


@pytest.mark.parametrize(
    ("setting", "ticket", "analysis", "expected"),
    [
        ("en", "de", "de", "en"),  # the default: always English
        ("ticket", "de", None, "de"),
        ("ticket", "fr", "de", "fr"),  # redaction's language wins over the classifier's
        ("ticket", None, "fr", "fr"),  # none from redaction: the classifier's
        ("ticket", None, "FR-ca", "fr"),
        ("ticket", "en", "de", "en"),
        ("ticket", "other", "es", "en"),  # a language the note is not written in: English
        ("ticket", None, None, "en"),
    ],
)
def test_the_note_language_follows_the_setting_and_the_ticket(setting, ticket, analysis, expected):
    assert note_language(setting, ticket, analysis) == expected


def test_the_english_note_is_unchanged_by_default():
    note = format_note(ANALYSIS, TAXONOMY, "run-1")
    assert note == format_note(ANALYSIS, TAXONOMY, "run-1", language="en")
    assert note.startswith("AI Analysis:\n\nSummary: Die Anmeldung schlägt fehl\nRoot Cause: bug (90%)")
    assert note.endswith("Tokens Used: 300 prompt + 40 completion\nRun: run-1")


def test_a_german_note_in_formal_german_with_the_same_values_and_run_line():
    note = format_note(ANALYSIS, TAXONOMY, "run-1", language="de")
    assert note.splitlines() == [
        "KI-Analyse:",
        "",
        "Zusammenfassung: Die Anmeldung schlägt fehl",
        "Ursache: bug (90%)",
        "Dringlichkeit: high (80%)",
        "Stimmung: negative (70%)",
        "Sprache: de",
        "",
        "---",
        "Modus: live",
        "Modell: gpt-4o-mini",
        "Prompt-Version: triage-v2/x",
        "Verbrauchte Tokens: 300 Prompt + 40 Antwort",
        "Run: run-1",
    ]


def test_a_french_note_with_french_typography_and_the_same_values():
    note = format_note(ANALYSIS, TAXONOMY, "run-1", language="fr")
    lines = note.splitlines()
    assert lines[:6] == [
        "Analyse IA :",
        "",
        "Résumé : Die Anmeldung schlägt fehl",
        "Cause : bug (90%)",
        "Urgence : high (80%)",
        "Sentiment : negative (70%)",
    ]
    assert "Mode : live" in lines and "Modèle : gpt-4o-mini" in lines and lines[-1] == "Run: run-1"


@pytest.mark.parametrize("language", ["de", "fr"])
def test_suggest_mode_and_fallback_lines_are_translated_too(language):
    modes = TAXONOMY.modes("suggest")
    fallback = ANALYSIS.model_copy(update={"fallback_reason": "LLM unavailable", "provider": "rules"})
    note = format_note(fallback, TAXONOMY, "run-1", modes, language)
    expected = {
        "de": [
            "Dringlichkeit (Vorschlag): high (80%)",
            "Priorität (Vorschlag): high",
            "Modus: suggest (nur Vorschläge: Tags, Priorität und Felder dieses Tickets wurden nicht geändert)",
            "Ersatzweise: Regelklassifikator (LLM unavailable)",
        ],
        "fr": [
            "Urgence (suggestion) : high (80%)",
            "Priorité (suggestion) : high",
            "Mode : suggest (suggestions uniquement : aucune balise, priorité ni aucun champ de ce ticket "
            "n'a été modifié)",
            "Solution de repli : classificateur à règles (LLM unavailable)",
        ],
    }[language]
    for line in expected:
        assert line in note.splitlines()
    assert "Suggested" not in note and "Fallback" not in note and "Mode: " not in note


def test_a_live_note_naming_what_is_only_suggested_and_a_local_fallback_in_german():
    taxonomy = TAXONOMY.model_copy(deep=True)
    taxonomy.fields["urgency"].mode = "suggest"
    local = ANALYSIS.model_copy(
        update={"fallback_reason": "LLM unavailable", "provider": "local", "model": "local-abc", "gate": "skipped_llm"}
    )
    lines = format_note(local, taxonomy, "r", language="de").splitlines()
    assert "Modus: live (nur vorgeschlagen: urgency)" in lines
    assert "Ersatzweise: lokales Modell local-abc (LLM unavailable)" in lines
    assert "Vorprüfung: Das lokale Modell war sich bei jedem Feld sicher; das LLM wurde nicht angefragt" in lines


def test_every_language_has_every_line_and_the_same_placeholders():
    english = NOTE_TEXT["en"]
    for language, text in NOTE_TEXT.items():
        assert text.keys() == english.keys(), language
        for key, line in text.items():
            assert sorted(_placeholders(line)) == sorted(_placeholders(english[key])) or key == "suggested_field"


def _placeholders(line: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(line) if name]


def test_tags_and_priority_do_not_depend_on_the_note_language():
    english = plan_update(ANALYSIS, TAXONOMY, "low", "t", "r")
    for language in ("de", "fr"):
        other = plan_update(ANALYSIS, TAXONOMY, "low", "t", "r", note_language=language)
        assert other.additional_tags == english.additional_tags and other.priority == english.priority
        assert other.private_note != english.private_note


class AuditedZendesk:
    """Audits holding the comment bodies given; updates recorded."""

    def __init__(self, bodies: list[str]) -> None:
        self.audits = [{"events": [{"type": "Comment", "body": body} for body in bodies]}]
        self.updates: list[object] = []

    def ticket_audits(self, ticket_id: int) -> list[dict]:
        return self.audits

    def update_ticket(self, ticket_id: int, update) -> None:
        self.updates.append(update)
        self.audits.append({"events": [{"type": "Comment", "body": update.private_note}]})


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_a_note_in_any_language_is_found_again_by_its_run(language):
    client = AuditedZendesk([format_note(ANALYSIS, TAXONOMY, "run-0", language=language), "Danke!"])
    assert note_written(client, 4, "run-0") and not note_written(client, 4, "run-1")
    known = Ticket(id=4, updated_at="t1", status="open")
    modes = TAXONOMY.modes("suggest")
    write_triage(client, 4, ANALYSIS, TAXONOMY, "run-0", known, modes=modes, check_note=True, note_language=language)
    assert client.updates == []  # it landed already: not written twice
    write_triage(client, 4, ANALYSIS, TAXONOMY, "run-1", known, modes=modes, check_note=True, note_language=language)
    assert len(client.updates) == 1 and client.updates[0].private_note.startswith(NOTE_TEXT[language]["heading"])
    assert note_written(client, 4, "run-1")


def test_only_the_fleets_headings_make_a_note():
    assert all(is_note(f"{heading}\n\nx") for heading in NOTE_HEADINGS)
    assert not is_note("Analyse: the customer wrote") and not is_note("Thanks!\nRun: run-0")


def test_a_batch_item_carries_its_note_language():
    assert BatchItem(1, ANALYSIS).note_language == "en"
    assert BatchItem(1, ANALYSIS, "de").note_language == "de"
