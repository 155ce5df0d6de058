"""German identifier recognizers: phone numbers, Steuer-ID, Sozialversicherungsnummer, Personalausweis
and customer numbers. Each is found where its parser, check digit or cue says so, and the numbers
German support text is full of (dates, times, amounts, versions, order numbers) are left alone."""

import pytest

from app.redaction.german_ids import (
    customer_number_spans,
    german_identifier_spans,
    german_phone_spans,
    icao_check_digit,
    id_card_spans,
    id_card_valid,
    rvnr_valid,
    social_security_spans,
    tax_id_spans,
)
from app.redaction.spans import merge_spans


def found(text: str) -> list[tuple[str, str]]:
    return sorted((text[s.start : s.end], s.label) for s in merge_spans(german_identifier_spans(text)))


def phones(text: str) -> list[str]:
    return [text[s.start : s.end] for s in german_phone_spans(text)]


# --- phone numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "030 12345678",
        "030/1234567",
        "0511 / 791307",
        "030-1234567",
        "030 1234567-0",  # a switchboard's extension
        "(030) 1234567",
        "(089) 12 34 56 7",
        "0911/27 14 26 8",  # subscriber digits in groups
        "0171 - 123 45 67",
        "0170/1234567",
        "01512 3456789",
        "+49 30 1234567",
        "+49 (0)30 1234567",
        "+49 (0) 30 1234567",
        "+49-30-1234567",
        "+4930123456",
        "0049 89 123456-0",
        "+43 1 5121234",  # Vienna
        "+41 44 668 18 00",  # Zürich
        "+1 212 555 0100",
    ],
)
def test_german_phone_formats_are_found_without_a_cue(number):
    assert phones(f"Sie erreichen mich unter der {number}, danke.") == [number]
    assert phones(f"Bitte zurückmelden {number}") == [number]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Tel.: 1234567", "1234567"),  # a local number without area code, after a cue
        ("Telefon 01 5121234 (Wien)", "01 5121234"),  # Austrian, tried after a cue
        ("Mobil: 044 668 18 00", "044 668 18 00"),
        ("Kundendienstnummer: (0170) 51630746", "(0170) 51630746"),
        ("call me at (555) 123-4567", "(555) 123-4567"),
    ],
)
def test_cued_phone_numbers(text, number):
    assert phones(text) == [number]


def test_a_trailing_year_stays_out_of_the_number():
    assert phones("Rufen Sie 030 1234567 2024 an") == ["030 1234567"]
    assert phones("Tel. 0911/27 14 26 8") == ["0911/27 14 26 8"]


@pytest.mark.parametrize(
    "text",
    [
        "Am 12.03.2024 um 14:30 Uhr",
        "ein Betrag von 1.234,56 € und 1.234.567 Nutzer",
        "Die PLZ 10115 und 80331 München",
        "Seit 2024 nutzen wir Version 2.3.1 und Windows 11",
        "Google Chrome Version 111.0.5563.64 auf einem Laptop",  # the English finder takes this one
        "Build 22621.2428, Fehlercode 0x80070005, Port 8080",
        "IBAN DE89 3704 0044 0532 0130 00",
        "Bestellnummer 0123456789 und Auftragsnummer: 0301234567",  # order numbers, no phone cue
        "Rechnung 2024-001234 und Bestellnummer 1234 5678",  # the English finder takes both
        "Die Seriennummer lautet 01234-56789-01",
        "Zeitraum 01.01.2023 - 31.12.2023, Termin 15.04.2024, 09:00-10:30 Uhr",
        "Datum 2024-03-12, 24/7 Support, 100 Mbit/s, 0,5 Sekunden, Seite 3 von 10",
        "Telefonkonferenz am 3.5. mit 12 Teilnehmern",
    ],
)
def test_numbers_that_are_no_phone_numbers_stay(text):
    assert phones(text) == []


# --- Steuer-ID ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Meine Steuer-ID: 36 574 261 809", "IdNr. 36574261809", "36574261809 laut Bescheid", "TIN 86 095 742 719"],
)
def test_tax_ids_with_a_valid_check_digit_are_found_cue_or_not(text):
    assert [s.label for s in tax_id_spans(text)] == ["DE_TAX_ID"]


@pytest.mark.parametrize(
    "text",
    [
        "Steuer-ID 36574261890",  # check digit wrong
        "Steuer-ID 36554266806",  # more than one digit repeated
        "Bestellung 12345678901",
        "Telefon 01701234567",  # a leading 0 is never a tax ID
        "Summe 36.574.261.809",
    ],
)
def test_invalid_tax_ids_stay(text):
    assert tax_id_spans(text) == []


# --- Sozialversicherungsnummer ---------------------------------------------------------------------------


def test_rvnr_check_digit():
    assert rvnr_valid("15070649C103")  # the Deutsche Rentenversicherung's worked example
    assert rvnr_valid("10010490A443")
    assert rvnr_valid("15 070649 C 103")
    assert not rvnr_valid("15070649C104")  # check digit off by one
    assert not rvnr_valid("15071349C103")  # month 13
    assert not rvnr_valid("95070649C103")  # no area number above 89
    assert not rvnr_valid("12 123456 A 123")  # the format sample, no valid number


@pytest.mark.parametrize("number", ["15070649C103", "15 070649 C 103", "15 070649 C 10 3", "15070649c103"])
def test_social_security_numbers_printed_any_way(number):
    text = f"Meine SV-Nummer ist {number}."
    assert [(text[s.start : s.end], s.label) for s in social_security_spans(text)] == [(number, "DE_SOCIAL_SECURITY")]


def test_social_security_lookalikes_stay():
    assert social_security_spans("Artikel 15070649C104 und Modell 12 123456 A 123") == []


# --- Personalausweis -----------------------------------------------------------------------------------------


def test_icao_check_digit():
    assert icao_check_digit("T22000129") == 3  # the specimen card's T22000129 3
    assert id_card_valid("T220001293") and not id_card_valid("T220001294")
    assert id_card_valid("1220001297")  # a card from before November 2010: digits only
    assert not id_card_valid("A220001293")  # A is not among the number's letters


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Ausweisnummer: L01X00T47", "L01X00T47"),
        ("Personalausweis Nr. T22000129 3", "T22000129 3"),
        ("Personalausweisnummer T220001293", "T220001293"),
        ("Ausweis-Nr. LZ6311T47", "LZ6311T47"),
        ("wie auf dem Ausweis T220001293 steht", "T220001293"),  # check digit right, no cue needed
    ],
)
def test_id_card_numbers(text, number):
    assert [(text[s.start : s.end], s.label) for s in id_card_spans(text)] == [(number, "ID_CARD")]


@pytest.mark.parametrize(
    "text",
    [
        "Der Code T220001294 ist falsch",  # check digit wrong, no cue
        "Seriennummer T220001293",  # a serial number's cue
        "Fehler CFGHJKLMNP im Log",  # no digit
        "Ausweisnummer bitte nachreichen",
    ],
)
def test_id_card_lookalikes_stay(text):
    assert id_card_spans(text) == []


# --- Kunden-, Vertrags-, Rechnungsnummer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Kundennummer: 123456", "123456"),
        ("Kd.-Nr. 98765", "98765"),
        ("Kundennr. 4711", "4711"),
        ("Kunden-Nr.: K-2024-17", "K-2024-17"),
        ("Meine Kundennummer ist 4711.", "4711"),
        ("Kundennummer #A12345", "A12345"),
        ("Vertragsnummer V-2024-0012", "V-2024-0012"),
        ("Vertragsnr.: 55512", "55512"),
        ("Rechnungsnummer: RE-4711, fällig am 12.03.2024", "RE-4711"),
        ("Rechnungsnr. 2024/0815", "2024/0815"),
        ("Mitgliedsnummer 123 456 789 seit Jahren", "123 456 789"),
        ("Versicherungsnummer lautet 12/345/678", "12/345/678"),
    ],
)
def test_customer_numbers_after_their_cue(text, number):
    assert [(text[s.start : s.end], s.label) for s in customer_number_spans(text)] == [(number, "CUSTOMER_NUMBER")]


@pytest.mark.parametrize(
    "text",
    [
        "Die Kundennummer ist leider falsch.",
        "Unsere Rechnungsnummer wird folgen.",
        "Bitte geben Sie Ihre Kunden-Nr. an.",
        "Vertragsnummer vom 12.03.2024 fehlt",
        "Bestellnummer 4711",  # order numbers are no personal data
    ],
)
def test_customer_cues_without_an_identifier_keep_their_words(text):
    assert customer_number_spans(text) == []


def test_everything_at_once_and_nothing_more():
    text = (
        "Sehr geehrte Damen und Herren, am 12.03.2024 um 14:30 wurden 1.234,56 € abgebucht "
        "(Kundennummer: 88123). Meine Steuer-ID ist 36 574 261 809, SV-Nummer 15 070649 C 103, "
        "Ausweisnummer L01X00T47. Erreichbar unter 0171 - 123 45 67. Version 2.3.1, Windows 11."
    )
    assert found(text) == [
        ("0171 - 123 45 67", "PHONE_NUMBER"),
        ("15 070649 C 103", "DE_SOCIAL_SECURITY"),
        ("36 574 261 809", "DE_TAX_ID"),
        ("88123", "CUSTOMER_NUMBER"),
        ("L01X00T47", "ID_CARD"),
    ]
