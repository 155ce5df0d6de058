"""German names and places (app/redaction/german.py) and the language decision (languages.py):
what each rule finds, and what it leaves alone."""

from __future__ import annotations

import pytest

from app.redaction.german import german_lexicon, german_name_spans
from app.redaction.languages import detect_language, normalise_language


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.label) for s in sorted(german_name_spans(text))]


def words(text: str) -> set[str]:
    return {value for value, _ in found(text)}


# --- cue words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Sehr geehrte Frau Koch, vielen Dank.", "Koch"),  # a surname that is a noun, after Frau
        ("Bitte leiten Sie das an Herrn Dr. Winter weiter.", "Winter"),
        ("Sehr geehrter Herr Fischer-Nowak,", "Fischer-Nowak"),
        ("Mit freundlichen Grüßen\nAnna Bauer", "Anna Bauer"),
        ("Viele Grüße, Jonas Wolf", "Jonas Wolf"),
        ("Mein Name ist Krzysztofiak und ich habe ein Problem.", "Krzysztofiak"),
        ("Ansprechpartnerin: Ayşe Yılmaz", "Ayşe Yılmaz"),
        ("Hallo Lukas,\ndanke für die Rückmeldung.", "Lukas"),
        ("Bitte um Rückruf. - Petra Sommer", "Petra Sommer"),
    ],
)
def test_a_name_after_a_cue_is_a_person(text, name):
    assert (name, "PERSON") in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sehr geehrtes Support-Team, der Drucker druckt nicht.",
        "Hallo zusammen, die Synchronisierung schlägt fehl.",
        "Mit freundlichen Grüßen\nIhr Kundendienst",
        "Vielen Dank für Ihre Zeit und Geduld.",
        "Dear Customer Support, the dashboard is down.",
    ],
)
def test_a_cue_before_ordinary_words_redacts_nothing(text):
    assert found(text) == []


# --- the lexicon: names, nouns, compounds ----------------------------------------------------


def test_a_given_name_opens_a_name_and_takes_a_surname_that_is_also_a_noun():
    assert ("Thomas Koch", "PERSON") in found("Das Ticket hat Thomas Koch gestern eröffnet.")


def test_a_surname_alone_is_a_person_unless_it_is_also_a_noun():
    assert ("Merkel", "PERSON") in found("Die Rede hielt gestern Merkel im Bundestag.")
    assert found("Der Koch bereitet das Essen vor.") == []


@pytest.mark.parametrize(
    "text",
    [
        "Die Druckerwarteschlange hängt seit dem Update.",  # a compound of known nouns
        "Bitte prüfen Sie die Systemzeit und die Datensynchronisation.",
        "Das manuelle Aktualisieren der Dashboards hilft nur kurz.",  # a nominalised verb
        "Unsere Rechnungen aus dem Abrechnungsportal fehlen.",
    ],
)
def test_ordinary_capitalised_german_words_stay(text):
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Wir nutzen Google Drive und Microsoft Teams.",  # everyday English words and products
        "Die Integration mit ClickUp und QuickBooks bricht ab.",  # inner capitals: products
        "Leider stürzt Chrome beim Öffnen des Dashboards ab.",
    ],
)
def test_products_and_english_words_stay(text):
    assert found(text) == []


def test_an_unknown_capitalised_word_inside_a_sentence_is_taken_for_a_name():
    assert ("Sarkozy", "PERSON") in found("Die Pläne wurden von Sarkozy vorgestellt.")


def test_a_sentences_first_word_is_a_name_only_when_no_german_word_reads_so():
    assert words("Dennoch führt dies zu Fehlern.") == set()
    assert words("Zusätzlich stürzt die App ab.") == set()


def test_a_role_before_a_surname_marks_it_even_when_it_is_also_a_noun():
    assert ("Schwarz", "PERSON") in found("Das bestätigte Bürgermeister Schwarz am Abend.")
    assert found("Bitte wenden Sie sich an unseren Teamleiter Support.") == []


def test_an_initial_or_a_verb_of_saying_marks_a_surname():
    assert ("Wiegemann", "PERSON") in found("Das Buch von A. Wiegemann erschien 1990.")
    assert ("Richter", "PERSON") in found("Das sei unklar, sagte Richter am Montag.")


# --- places ----------------------------------------------------------------------------------


def test_places_from_the_gazetteer_are_locations():
    assert ("Mainz", "LOCATION") in found("Er ist wieder in Mainz angekommen.")
    assert ("Deutschland", "LOCATION") in found("In Deutschland ist das erlaubt.")
    assert ("Irlands", "LOCATION") in found("Die Küste Irlands ist rau.")  # genitive


def test_a_place_that_is_also_a_noun_needs_a_preposition():
    assert ("Essen", "LOCATION") in found("Wir wohnen in Essen.")
    assert found("Das Essen war kalt.") == []


def test_the_lexicon_knows_what_each_word_can_be():
    lexicon = german_lexicon()
    assert "Drucker" in lexicon.common and "Koch" in lexicon.common and "Koch" in lexicon.surnames
    assert "Sabine" in lexicon.given and "München" in lexicon.places
    assert lexicon.is_compound("Druckerwarteschlange")
    assert not lexicon.is_common("Thälmann")  # "-mann" ends surnames: no compound without a noun before it


# --- the language ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Sehr geehrte Damen und Herren, unser Drucker funktioniert seit gestern nicht mehr.", "de"),
        ("Bonjour, notre imprimante ne fonctionne plus depuis hier, pouvez-vous nous aider ?", "fr"),
        ("Hello, our printer stopped working yesterday, could you help us please?", "en"),
        ("Hola, nuestra impresora dejó de funcionar ayer, ¿pueden ayudarnos por favor?", "other"),
        ("ok", "en"),  # too short to tell: English rules
    ],
)
def test_the_language_is_detected(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("value", "language"),
    [("de", "de"), ("de-AT", "de"), ("de_CH", "de"), ("FR", "fr"), ("en-GB", "en"), ("es", "other"), ("", None),
     ("deutsch!", None), (7, None)],
)  # fmt: skip
def test_a_callers_language_is_normalised(value, language):
    assert normalise_language(value) == language


def test_a_name_and_address_record_the_detector_is_unsure_of_stays_with_the_english_rules():
    record = ">Marta Palermo\n>Cityscan\n>Marta Palermo\n>1072 Pohlstrasse 9\n>Suite 858\n>Börßum\n>Germany 74"
    assert detect_language(record) == "en"


@pytest.mark.parametrize(
    "text",
    [
        "Die Instanz von Redis 6.2 startet nicht.",  # a version after it
        "Das Dell XPS 13 bootet nicht.",  # a model after it
        "Als Nutzer von OptiInvest Analytics bin ich unzufrieden.",  # a product word beside it
        "Die ETL-Pipeline zu Monday.com ist ausgefallen.",  # a domain
    ],
)
def test_an_unknown_word_in_a_products_name_stays(text):
    assert found(text) == []


def test_a_name_before_a_phone_number_or_a_year_is_still_a_name():
    assert ("Krzysztofiak", "PERSON") in found("Bitte rufen Sie Frau Krzysztofiak 0170 2688672 an.")
    assert ("Kolbinger", "PERSON") in found("Das Werk schrieb Kolbinger 1986 in Wien.")
