"""German address recognizer: streets with house numbers, post code + city, and the block of both.
Every German noun is capitalised, so a number before or after a capitalised word must stay unless a
street word, a city gazetteer or the word being no common noun says otherwise."""

import pytest

from app.redaction.german_addresses import address_lexicon, german_address_spans


def found(text: str) -> list[str]:
    spans = german_address_spans(text)
    assert all(s.label == "STREET_ADDRESS" for s in spans)
    return [text[s.start : s.end] for s in spans]


def test_the_lexicon_knows_cities_and_common_nouns():
    lexicon = address_lexicon()
    assert {"Berlin", "München", "Wien", "Zürich", "Aachen", "Bad Ischl"} <= lexicon.places
    assert {"Nutzer", "Update", "Arbeitsplatz"} <= lexicon.common_nouns
    assert "Berlin" not in lexicon.common_nouns
    assert "Essen" in lexicon.ambiguous_places


@pytest.mark.parametrize(
    "street",
    [
        "Hauptstraße 12",
        "Hauptstr. 12a",
        "Hauptstr 12",
        "Bahnhofstrasse 3",  # Swiss spelling
        "Lindenweg 7",
        "Goethe-Platz 1",
        "Max-Planck-Str. 3",
        "Konrad-Adenauer-Straße 5-7",
        "Berliner Allee 5",
        "Mittlerer Ring 5",
        "Kurfürstendamm 21",
        "Rheinufer 4",
        "Am Markt 3",
        "An der Alster 40",
        "Auf dem Berg 5",
        "Zur Alten Mühle 1",
        "Zum Hafen 4",
        "Unter den Linden 77",
        "Marktplatz 1",  # a common noun too, but also a street the nouns list knows
    ],
)
def test_streets_with_house_numbers(street):
    assert found(f"Bitte senden Sie es an {street}, danke.") == [street]


@pytest.mark.parametrize(
    "place",
    [
        "10115 Berlin",
        "D-80331 München",
        "A-1010 Wien",
        "CH-8001 Zürich",
        "1010 Wien",
        "3000 Bern",
        "45127 Essen",  # a common noun too, but five digits before it
        "60311 Frankfurt am Main",
        "06108 Halle (Saale)",
        "D-85748 Garching",  # no list knows it; the country prefix says it is a place
        "37073 Göttingen",
    ],
)
def test_post_code_and_city(place):
    assert found(f"Wir sitzen in {place}.") == [place]


@pytest.mark.parametrize(
    "block",
    [
        "Hauptstraße 12, 10115 Berlin",
        "Musterweg 5, 12345 Musterstadt",
        "Max-Planck-Str. 3\n85748 Garching",  # a city in no list, after a street
        "Konrad-Adenauer-Straße 5, D-53113 Bonn",
        "Marktplatz 1\n1010 Wien",
    ],
)
def test_street_and_post_code_become_one_block(block):
    assert found(f"Anschrift:\n{block}\nDeutschland") == [block]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("Wir liefern nach 45127 Essen und Dortmund", "45127 Essen"),
        ("Firma XY\n06108 Halle\nDeutschland", "06108 Halle"),
        ("Adresse: 58095 Hagen, Deutschland", "58095 Hagen"),
    ],
)
def test_places_that_are_common_nouns_too_where_a_place_stands(text, place):
    assert found(text) == [place]


@pytest.mark.parametrize("text", ["Es fallen 10000 Steuer an", "bei 10000 Regen Tropfen", "mit 20000 Split Tunneln"])
def test_places_that_are_common_nouns_too_inside_a_sentence_stay(text):
    assert found(text) == []


def test_a_tail_that_is_a_common_noun_stays_out_of_the_city():
    assert found("Wir sind ab 10115 Berlin am Montag erreichbar") == ["10115 Berlin"]


@pytest.mark.parametrize(
    "text",
    [
        "Wir haben 5000 Nutzer und 20000 Kunden",
        "Das 2024 Update kam nach 10 Minuten",
        "12 Tickets sind offen, 3 Vorfälle seit 2019",
        "Seit 2024 Berlin als Standort",  # a year before a city, inside a sentence
        "Am 12.03.2024 um 14:30 kostete es 1.234,56 €",
        "Die PLZ 10115 ist korrekt",
        "Version 2.3.1, Windows 11, Office 365",
        "Mein Arbeitsplatz 3 ist frei, Bahnsteig 4 gesperrt",  # common nouns ending in a street word
        "Monitoring 3 und Clustering 2 laufen, Verkäufer 2 meldet sich",
        "Der Speicherplatz 500 GB reicht nicht",
        "Die Firewall 2 blockiert, in Codezeile 15, Der Lösungsweg 2 hilft, Installationspfad 3",
        "Im Kapitel 2 steht es, Am Montag 5 Tickets, Im Jahr 2024, In der Version 3",
        "Jeder Weg 3 Mal, Zum Schluss 3 Punkte",
        "Im Feld 3 steht der Wert, Im Kanal 5 läuft es, In der Java 17 Umgebung, Im Java 8 Update",
        "Die Hauptstraße 2024 wurde gesperrt",  # a year is no house number
        "Rechnung 12345 Update folgt",
    ],
)
def test_numbers_beside_ordinary_words_stay(text):
    assert found(text) == []
