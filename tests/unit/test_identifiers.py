"""Identifier recognizers: NPI, medical record numbers, bare SSNs, routing and bank account numbers,
passports. Each is found where its check or cue says so, and lookalikes are left alone."""

import pytest

from app.redaction.identifiers import aba_valid, identifier_spans, npi_valid, ssn_rules_valid
from app.redaction.redactor import Redactor, merge_spans


@pytest.fixture(scope="module")
def redactor():
    return Redactor()


def found(text: str) -> list[tuple[str, str]]:
    return sorted((text[s.start : s.end], s.label) for s in merge_spans(identifier_spans(text)))


def test_checksums():
    assert npi_valid("1234567893")  # the example in CMS's check-digit note
    assert not npi_valid("1234567890") and not npi_valid("123456789")
    assert aba_valid("011000015") and aba_valid("021000021")  # Federal Reserve Boston, JPMorgan Chase
    assert not aba_valid("021000022")  # checksum off by one
    assert not aba_valid("991000013")  # 99 is no Federal Reserve prefix, checksum or not
    assert ssn_rules_valid("883260930")
    for never_issued in ("000123456", "666123456", "912345678", "123006789", "123450000"):
        assert not ssn_rules_valid(never_issued)


@pytest.mark.parametrize(
    "text",
    [
        "NPI: 1234567893",
        "seen by Dr. Ruiz (NPI 1234567893) last week",
        "Provider | Specialty | NPI\nAna Ruiz | Cardiology | 1234567893",  # a directory's column header
        "National Provider Identifier 1234567893",
    ],
)
def test_npi_is_found_where_the_text_names_npis(text):
    assert found(text) == [("1234567893", "NPI")]


def test_npi_needs_the_check_digit_and_the_word():
    assert found("NPI: 1234567890") == []  # fails the check
    assert found("my order 1234567893 never came") == []  # passes, but nothing says NPI


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("MRN: 5156419", ["5156419"]),
        ("MRN:                   12369149", ["12369149"]),
        ("Med Rec No: 1293110", ["1293110"]),
        ("Medical Record # 2356778", ["2356778"]),
        ("**Medical Record Number:** 0002837419", ["0002837419"]),
        ("with the medical record number CHC-00032584.", ["CHC-00032584"]),
        ("Patient ID: L1622537, Date: 2004/06/02", ["L1622537"]),
        ("Medical Record Numbers: G4346166 and L948139. Employee ID: 77", ["G4346166", "L948139"]),
        ("use the MRN (MRN-418985 or L4359705). Ensure", ["L4359705", "MRN-418985"]),
        ("Prescription Request for MRN-361028", ["MRN-361028"]),  # carries its own prefix
        ("stored as MED24535084 off-chain", ["MED24535084"]),
    ],
)
def test_medical_record_numbers(text, values):
    assert found(text) == [(value, "MEDICAL_RECORD_NUMBER") for value in values]


@pytest.mark.parametrize(
    "text",
    [
        "Medical record requests take 3-5 business days.",
        "MRN: 2024-03-01 visit",  # a date, not an identifier
        "Patient records. Order 55123 shipped",  # the cue's sentence ends before the number
        "Medical records\n55123 is the order",  # and its line
    ],
)
def test_medical_record_cues_without_an_identifier_take_nothing(text):
    assert found(text) == []


def test_bare_ssn_without_a_cue_is_taken_and_a_cue_that_names_the_number_keeps_it():
    assert found("Ensure 883260930 and 634883596 are up-to-date") == [("634883596", "US_SSN"), ("883260930", "US_SSN")]
    assert found("Invoice no. 5. Ensure 883260930 is kept") == [("883260930", "US_SSN")]  # the cue's sentence ended
    for kept in (
        "My order 883260930 has not arrived",
        "Invoice #883260930 was paid",
        "Tracking number: 883260930",
        "ticket 883260930",
        "build 883260930 fails",
        "912345678 is fine",
        "123006789 is fine",
        "111111111 is fine",
        "883260930.5 is a price",
        "883-260930 is not nine bare digits",
    ):
        assert [f for f in found(kept) if f[1] == "US_SSN"] == [], kept


def test_routing_and_bank_account_numbers():
    text = "routing number 021000021, account number 000123456789"
    assert found(text) == [("000123456789", "BANK_ACCOUNT"), ("021000021", "ABA_ROUTING_NUMBER")]
    assert found("Account Number: 123456789") == [("123456789", "BANK_ACCOUNT")]
    assert found("checking account #12-3456-78 was debited") == [("12-3456-78", "BANK_ACCOUNT")]
    assert found("routing number 021000022") == []  # fails the checksum, and "routing" says it is no SSN
    assert found("the account has 12 users") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my passport number is 123456789", "123456789"),
        ("Passport No. C01X00T47, expires 2031", "C01X00T47"),
        ("passport: A12345678", "A12345678"),
    ],
)
def test_passport_numbers_after_the_word(text, value):
    assert found(text) == [(value, "PASSPORT")]


def test_passport_word_without_a_number_takes_nothing():
    assert found("I renewed my passport yesterday") == []
    assert found("passport: PENDING") == []


def test_redactor_places_the_new_placeholders(redactor):
    text = (
        "Patient ID: L1622537 seen by NPI 1234567893. Routing 021000021, acct 4400123456. "
        "Passport no. 123456789. Ensure 883260930 is on file."
    )
    redacted = redactor.redact(text).text
    for value in ("L1622537", "1234567893", "021000021", "4400123456", "123456789", "883260930"):
        assert value not in redacted
    for placeholder in (
        "<MEDICAL_RECORD_NUMBER>",
        "<NPI>",
        "<ABA_ROUTING_NUMBER>",
        "<BANK_ACCOUNT>",
        "<PASSPORT>",
        "<US_SSN>",
    ):
        assert placeholder in redacted, redacted


def test_ssn_cue_words_are_whole_words():
    from app.redaction.patterns import pattern_spans

    # "tin" inside "routing" or "meeting" once made any nine digits nearby an SSN
    assert [s for s in pattern_spans("Routing 021000022 and meeting 123 45 6789") if s.label == "US_SSN"] == []
    assert "US_SSN" in [s.label for s in pattern_spans("TIN: 123 45 6789")]
