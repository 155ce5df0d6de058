"""The private note's wording in English, German and French (NOTE_LANGUAGE).

With NOTE_LANGUAGE=ticket a German or French ticket's note is written in its language, in the
formal register an agent would use with a colleague's tool; every other ticket's note, and every
note with NOTE_LANGUAGE=en (the default), is English. Only the words around the facts change:
field values, tags, priorities, mode names, model names and the run id are the same in every
language, and the "Run: <id>" line, which app.fleet.writeback.note_written reads back, is never
translated. A note is recognised by its first line, one of NOTE_HEADINGS.

French lines put a space before the colon, as French typography does.
"""

from __future__ import annotations

from typing import Literal

NoteLanguage = Literal["en", "ticket"]
# The languages a note may be written in besides English.
TRANSLATED = ("de", "fr")

NOTE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "heading": "AI Analysis:",
        "summary": "Summary: {summary}",
        "field": "{label}: {value}",
        "suggested_field": "Suggested {label_lower}: {value}",
        "suggested_priority": "Suggested priority: {value}",
        "language": "Language: {value}",
        "mode": "Mode: {mode}",
        "mode_suggest": "Mode: suggest (suggestions only: no tag, priority or field of this ticket was changed)",
        "suggested_only": " (suggested only: {names})",
        "model": "Model: {value}",
        "fallback_rules": "Fallback: rules classifier ({reason})",
        "fallback_local": "Fallback: local model {model} ({reason})",
        "rules": "Rules: {names} (not learned by the local model)",
        "gate": "Gate: the local model was sure of every field; the LLM was not asked",
        "prompt_version": "Prompt Version: {value}",
        "tokens": "Tokens Used: {prompt} prompt + {completion} completion",
    },
    "de": {
        "heading": "KI-Analyse:",
        "summary": "Zusammenfassung: {summary}",
        "field": "{label}: {value}",
        "suggested_field": "{label} (Vorschlag): {value}",
        "suggested_priority": "Priorität (Vorschlag): {value}",
        "language": "Sprache: {value}",
        "mode": "Modus: {mode}",
        "mode_suggest": (
            "Modus: suggest (nur Vorschläge: Tags, Priorität und Felder dieses Tickets wurden nicht geändert)"
        ),
        "suggested_only": " (nur vorgeschlagen: {names})",
        "model": "Modell: {value}",
        "fallback_rules": "Ersatzweise: Regelklassifikator ({reason})",
        "fallback_local": "Ersatzweise: lokales Modell {model} ({reason})",
        "rules": "Regeln: {names} (vom lokalen Modell nicht gelernt)",
        "gate": "Vorprüfung: Das lokale Modell war sich bei jedem Feld sicher; das LLM wurde nicht angefragt",
        "prompt_version": "Prompt-Version: {value}",
        "tokens": "Verbrauchte Tokens: {prompt} Prompt + {completion} Antwort",
    },
    "fr": {
        "heading": "Analyse IA :",
        "summary": "Résumé : {summary}",
        "field": "{label} : {value}",
        "suggested_field": "{label} (suggestion) : {value}",
        "suggested_priority": "Priorité (suggestion) : {value}",
        "language": "Langue : {value}",
        "mode": "Mode : {mode}",
        "mode_suggest": (
            "Mode : suggest (suggestions uniquement : aucune balise, priorité ni aucun champ de ce ticket "
            "n'a été modifié)"
        ),
        "suggested_only": " (suggéré uniquement : {names})",
        "model": "Modèle : {value}",
        "fallback_rules": "Solution de repli : classificateur à règles ({reason})",
        "fallback_local": "Solution de repli : modèle local {model} ({reason})",
        "rules": "Règles : {names} (non appris par le modèle local)",
        "gate": "Filtre : le modèle local était sûr de chaque champ ; le LLM n'a pas été sollicité",
        "prompt_version": "Version du prompt : {value}",
        "tokens": "Jetons utilisés : {prompt} prompt + {completion} réponse",
    },
}
# Every language's first line: how a note of the fleet is recognised, whatever its language.
NOTE_HEADINGS = tuple(text["heading"] for text in NOTE_TEXT.values())


def note_language(setting: str, ticket_language: str | None, analysis_language: str | None = None) -> str:
    """The language to write a ticket's note in: with NOTE_LANGUAGE=ticket, the ticket's (as
    redaction decided it, else as the classifier read it) when it is German or French; English
    otherwise."""
    if setting != "ticket":
        return "en"
    for language in (ticket_language, analysis_language):
        code = (language or "").strip().lower()[:2]
        if code:
            return code if code in TRANSLATED else "en"
    return "en"


def is_note(body: str) -> bool:
    """Whether a comment body is one of the fleet's notes (its first line is a NOTE_HEADINGS one)."""
    return body.startswith(NOTE_HEADINGS)
