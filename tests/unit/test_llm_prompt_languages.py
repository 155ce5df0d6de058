"""The LLM prompt for German and French tickets: the values stay the taxonomy's, the summary's
language follows NOTE_LANGUAGE, and any change to the prompt changes its version (and cache key)."""

from __future__ import annotations

import app.clients.llm as llm
from app.clients.llm import build_messages, prompt_version, system_prompt
from app.domain.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()


def test_the_prompt_says_tickets_may_be_german_or_french_and_values_are_never_translated():
    prompt = system_prompt(TAXONOMY)
    assert "English, German, French or another language" in prompt
    assert "exactly as written" in prompt and "never translated" in prompt
    assert "One of: refund" in prompt  # the values themselves, as the taxonomy spells them


def test_the_summary_language_follows_note_language():
    assert "- summary: one sentence in English, at most 100 characters." in system_prompt(TAXONOMY)
    ticket = system_prompt(TAXONOMY, "ticket")
    assert (
        "- summary: one sentence in the ticket's language when it is German or French, otherwise in English" in ticket
    )
    messages = build_messages(TAXONOMY, "Rechnung doppelt", "Bitte erstatten Sie den Betrag.", "ticket")
    assert messages[0]["content"] == ticket and "Rechnung doppelt" in messages[1]["content"]


def test_a_changed_prompt_changes_the_prompt_version(monkeypatch):
    english, ticket = prompt_version(TAXONOMY), prompt_version(TAXONOMY, "ticket")
    assert english.startswith("triage-v2/support-triage@1/") and english != ticket
    assert prompt_version(TAXONOMY) == english  # stable for the same prompt
    monkeypatch.setattr(llm, "SYSTEM_PROMPT", llm.SYSTEM_PROMPT.replace("untrusted data", "data"))
    assert prompt_version(TAXONOMY) != english
