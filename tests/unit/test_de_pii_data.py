"""bench/de_pii_data.py: the German evaluation data is what it claims to be. Exact spans, valid
IBANs and phone numbers, a stable split, GermEval's offsets. Fast: no redaction."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import phonenumbers
import pytest

from tests.conftest import bench_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data():
    yield from bench_module("de_pii_data")


@pytest.fixture(scope="module")
def corpus(data):
    return data.support_corpus()


def mod97(iban: str) -> int:
    """ISO 13616's check, written here apart from the module's: 1 for a valid IBAN."""
    compact = iban.replace(" ", "")
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97


def test_filling_records_each_value_at_its_exact_span_with_the_redactors_label(data):
    text = (
        "Sehr geehrter Herr <name>,\nbitte rufen Sie mich unter <tel_num> an. Konto: <acc_num>, "
        "E-Mail <email>. Termin am <Date> um <Time>.\nMit freundlichen Grüßen, [Ihr Name]"
    )
    filled, spans = data.fill(text, random.Random(1))
    assert [label for _, _, label in spans] == ["PERSON", "PHONE_NUMBER", "IBAN_CODE", "EMAIL_ADDRESS", "PERSON"]
    assert not data.PLACEHOLDER_RE.search(filled)
    values = [filled[start:end] for start, end, _ in spans]
    assert filled.startswith(f"Sehr geehrter Herr {values[0]},\nbitte rufen Sie mich unter {values[1]} an.")
    assert filled.endswith(f"Mit freundlichen Grüßen, {values[4]}")
    assert " " not in values[0]  # after "Herr": a surname alone
    assert "@" in values[3] and mod97(values[2]) == 1
    # The date and the time are filled but are not personal data: no span.
    assert "<Date>" not in filled and "<Time>" not in filled and len(spans) == 5


def test_every_span_in_the_corpus_is_exact_in_order_and_holds_a_value(corpus, data):
    labels = set(data.PLACEHOLDERS)
    assert len(corpus.with_pii) > 1500 and len(corpus.without_pii) > 2000
    for text in corpus.with_pii:
        assert text.spans and not data.PLACEHOLDER_RE.search(text.text), text.text
        previous_end = 0
        for start, end, label in text.spans:
            value = text.text[start:end]
            assert label in labels and value and value == value.strip() and start >= previous_end
            previous_end = end
    for text in corpus.without_pii:
        assert text.spans == [] and text.source == "ticket" and not data.PLACEHOLDER_RE.search(text.text)
    # Texts with a placeholder we do not fill are left out and counted, never scored half-filled.
    assert corpus.dropped["<company_name>"] >= 1


def test_every_generated_iban_passes_mod_97_and_a_changed_digit_fails(corpus, data):
    ibans = [t.text[s:e] for t in corpus.with_pii for s, e, label in t.spans if label == "IBAN_CODE"]
    assert len(ibans) > 200 and all(mod97(iban) == 1 for iban in ibans)
    assert all(data.iban_valid(iban) for iban in ibans)
    assert {iban[:2] for iban in ibans} == {"DE", "AT", "CH"}
    assert all(len(iban.replace(" ", "")) == 22 for iban in ibans if iban.startswith("DE"))
    assert data.iban_valid("DE89 3704 0044 0532 0130 00") and not data.iban_valid("DE89 3704 0044 0532 0131 00")


def test_every_generated_phone_number_is_a_valid_german_number_in_every_listed_format(corpus):
    phones = [t.text[s:e] for t in corpus.with_pii for s, e, label in t.spans if label == "PHONE_NUMBER"]
    assert len(phones) > 500
    for phone in phones:
        number = phonenumbers.parse(phone, "DE")
        assert phonenumbers.is_valid_number(number) and number.country_code == 49, phone
    # The formats issue 29 lists: 0..., +49, (0)..., with / and -; and mobile numbers.
    assert any(p.startswith("0") and not p.startswith("00") for p in phones)
    for form in ("+49 ", "(0)", "/", "-", "0049 ", "+49 (0)1"):
        assert any(form in p for p in phones), form


def test_the_split_is_stable_about_thirty_percent_and_keeps_a_ticket_with_its_answer(corpus, data):
    again = data.support_corpus()
    assert [(t.key, t.text, t.spans, t.held_out) for t in again.with_pii] == [
        (t.key, t.text, t.spans, t.held_out) for t in corpus.with_pii
    ]
    everything = corpus.with_pii + corpus.without_pii
    share = sum(t.held_out for t in everything) / len(everything)
    assert 0.26 < share < 0.34
    side = {t.key: t.held_out for t in everything if t.source == "ticket"}
    answers = [t for t in corpus.with_pii if t.source == "answer" and t.key.split(":")[0] in side]
    assert answers and all(t.held_out == side[t.key.split(":")[0]] for t in answers)
    assert data.held_out("abc") == data.held_out("abc")


def test_only_german_rows_are_read_and_each_ticket_once(data, tmp_path: Path):
    columns = ["subject", "body", "answer", "language"]
    rows = [
        ["Drucker", "Hallo, der Drucker geht nicht. <name>", "Sehr geehrte/r <name>, rufen Sie <tel_num> an.", "de"],
        ["Drucker", "Hallo, der Drucker geht nicht. <name>", "", "de"],  # the same ticket again
        ["Printer", "The printer is down. <name>", "", "en"],
        ["VPN", "Das VPN bricht ab.", "", "de"],  # no placeholder: no personal data
        ["Firma", "Grüße von <company_name>, <name>", "", "de"],  # a placeholder not filled
    ]
    for name in data.TICKET_FILES:
        with (tmp_path / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
    corpus = data.support_corpus(tmp_path)
    assert [t.source for t in corpus.with_pii] == ["ticket", "answer"]
    assert [t.text for t in corpus.without_pii] == ["VPN\nDas VPN bricht ab."]
    assert corpus.dropped == {"<company_name>": 1}


GERMEVAL_SAMPLE = """\
#\thttp://de.wikipedia.org/wiki/Beispiel\t[2009-08-13]
1\tAngela\tB-PER\tO
2\tMerkel\tI-PER\tO
3\treiste\tO\tO
4\tnach\tO\tO
5\tBad\tB-LOC\tO
6\tEms\tI-LOC\tO
7\tzur\tO\tO
8\tUniversität\tB-ORG\tO
9\tBonn\tI-ORG\tB-LOC
10\t,\tO\tO
11\tdeutsche\tB-LOCderiv\tO
12\tSPD-Politiker\tB-ORGpart\tO
13\t.\tO\tO

#\thttp://www.example.de/a\t[2010-01-01]
1\tMüller\tB-PER\tO
2\tkommt\tO\tO
"""


def test_germeval_sentences_are_tokens_joined_by_spaces_with_outer_per_and_loc_spans(data):
    first, second = data.parse_germeval(GERMEVAL_SAMPLE.splitlines())
    assert first.text == "Angela Merkel reiste nach Bad Ems zur Universität Bonn , deutsche SPD-Politiker ."
    assert [(first.text[s:e], label) for s, e, label in first.gold] == [
        ("Angela Merkel", "PERSON"),
        ("Bad Ems", "LOCATION"),
    ]
    # Every entity counts as annotated (for precision): the ORG, the inner LOC, *deriv and *part.
    assert sorted(first.text[s:e] for s, e in first.annotated) == sorted(
        ["Angela Merkel", "Bad Ems", "Universität Bonn", "Bonn", "deutsche", "SPD-Politiker"]
    )
    assert second.text == "Müller kommt" and second.gold == [(0, 6, "PERSON")]
    assert first.held_out == data.held_out(f"germeval:{first.text}")


def test_the_germeval_file_has_its_2200_sentences_with_exact_spans(data):
    sentences = data.germeval()
    assert len(sentences) == 2200
    for sentence in sentences:
        for start, end, _ in sentence.gold:
            value = sentence.text[start:end]
            assert value and value == value.strip() and (start == 0 or sentence.text[start - 1] == " ")
    kinds = {label for s in sentences for _, _, label in s.gold}
    assert kinds == {"PERSON", "LOCATION"}
