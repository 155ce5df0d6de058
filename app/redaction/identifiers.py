"""Identifiers that point at one person in healthcare and finance tickets: NPIs, medical record
numbers, bare nine-digit SSNs, ABA routing and bank account numbers, passport numbers.

As in `patterns`, a regular expression only proposes a candidate. A checksum (NPI: Luhn over the
80840 prefix; ABA: the 3-7-1 weighted sum), the Social Security Administration's numbering
rules or a cue word (`MRN:`, `passport no.`, `routing number`) decides, so order numbers,
versions, dates and prices stay. Written here because Presidio, the only maintained library with
these types, recognises them with bare patterns and scores instead of validating them, and at
twice our time per ticket (bench/pii_eval.py).
"""

from __future__ import annotations

import re

from app.redaction.patterns import digits_only, luhn_valid
from app.redaction.spans import Span

# --- NPI: National Provider Identifier -----------------------------------------------------------
# Ten digits whose last is a Luhn check digit computed over "80840" + the first nine (CMS, "NPI
# check digit", https://www.cms.gov/Regulations-and-Guidance/Administrative-Simplification/NationalProvIdentStand/Downloads/NPIcheckdigit.pdf).
# One random ten-digit number in ten passes the check, so the document must also name NPIs: a
# provider directory prints "NPI" once, as a column header, above many of them.
NPI_RE = re.compile(r"(?<![\w.-])\d{10}(?![\w-]|\.\d)")
NPI_CUE_RE = re.compile(r"(?i)\bNPIs?\b|national provider")

# --- Medical record numbers ------------------------------------------------------------------------
# No standard shape exists: each hospital has its own. Two kinds are found:
# - numbers that carry their own prefix (MRN-163868, MED24535084) anywhere;
# - any identifier (at least four digits, optional letter prefix or dash) within a few words
#   after a cue such as "MRN:", "Medical Record #", "Med Rec No", "patient ID" or "medical records".
MRN_PREFIXED_RE = re.compile(r"(?<![\w-])(?:MRN|MED)[-#]?\d{5,12}(?![\w-])")
MRN_CUE_RE = re.compile(
    r"(?i)\b(?:MRN|med(?:ical)?\.?\s*rec(?:ord)?s?\.?|patient(?:'s)?\s+(?:id|identifier|records?|number|no\.?|#)"
    r"|health\s+records?|chart\s+(?:number|no\.?|#))(?![a-z])"
)
# After the cue: words, punctuation and markup ("Number:**", "(", "for reference:"), on one line.
MRN_AFTER_CUE = 40
ID_TOKEN_RE = re.compile(r"(?<![\w-])[A-Za-z]{0,4}-?\d{4,12}(?:-[A-Za-z0-9]{1,4})?(?![\w-])")
# "Medical Record Numbers: G4346166 and L948139", "MRN-418985 or L4359705", "MED87443421, MED4156611"
LIST_NEXT_RE = re.compile(r"[*`'\")\]]*\s*(?:,|;|/|&|\band\b|\bor\b)\s*[*`'\"(\[]*")

# --- Social Security numbers without separators ------------------------------------------------------
# Nine digits under the SSA's rules: no area 000, 666 or 900-999, no group 00, no serial 0000
# (https://www.ssa.gov/employer/randomization.html and https://www.ssa.gov/history/ssn/geocard.html).
# About 88% of random nine-digit numbers pass, so the rules alone cannot tell an SSN from an order
# number; what decides is the word before it. Without any cue the number is taken for an SSN (a
# leaked SSN is the worst outcome; an order number the LLM cannot see costs little), but a cue that
# names what it is (order, invoice, tracking, routing, account, ...) keeps it.
SSN_BARE_RE = re.compile(r"(?<![\w.-])(?!000|666|9)\d{3}(?!00)\d{2}(?!0000)\d{4}(?![\w-]|\.\d)")
NOT_SSN_CUE_RE = re.compile(
    r"(?i)\b(?:order|purchase|invoice|inv|receipt|ticket|case|incident|tracking|shipment|parcel|ref|reference|"
    r"confirmation|booking|reservation|po|sku|item|product|part|model|serial|build|version|transaction|txn|"
    r"payment|account|acct|a/c|policy|claim|member|customer|client|user|employee|id|no|number|routing|aba|rtn|"
    r"transit|zip|postal|npi|mrn|isbn|phone|tel|fax|mobile)\b\W{0,3}(?:[^\W\d_]+[^\w.!?\n]{1,3}){0,2}$"
)
NOT_SSN_LOOKBACK = 40

# --- ABA routing and bank account numbers ---------------------------------------------------------------
# Routing numbers: nine digits, 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) divisible by 10, first two
# digits 00-12, 21-32, 61-72 or 80 (ABA / Federal Reserve, "Routing number policy",
# https://www.frbservices.org/resources/routing-number-directory/). Only after a routing cue.
ROUTING_RE = re.compile(r"(?<![\w.-])\d{9}(?![\w-]|\.\d)")
ROUTING_CUE_RE = re.compile(r"(?i)\b(?:routing|aba|rtn|transit)\b")
BANK_CUE_RE = re.compile(
    r"(?i)\b(?:(?:bank|checking|savings|deposit)\s+(?:account|acct)|account\s*(?:number|num|no\.?|#)|acct\.?|a/c)"
    r"(?:\s*(?:number|num|no\.?|#))?(?:\s+is)?\s*[:#=]?\s*(?:ending\s+in\s+)?"
)
BANK_ACCOUNT_RE = re.compile(r"\d[\d -]{2,19}\d")  # 4 to 17 digits once spaces and dashes are gone
CUE_LOOKBACK = 32

# --- Passport numbers ------------------------------------------------------------------------------------
# Shapes differ by country (US: 9 digits or a letter and 8 digits; UK: 9 digits; Germany: 9
# letters and digits), so only after a passport cue, and only tokens with at least three digits.
PASSPORT_RE = re.compile(
    r"(?i)\bpassport(?:\s+(?:number|num|no\.?|#|id))?(?:\s+is)?\s*[:#=]?\s*((?=(?:[A-Z]*\d){3})[A-Z0-9]{6,9})\b"
)


def npi_valid(digits: str) -> bool:
    """The NPI check digit: Luhn over the health-industry prefix 80840 and the ten digits."""
    return len(digits) == 10 and luhn_valid("80840" + digits)


def aba_valid(digits: str) -> bool:
    """ABA routing number: Federal Reserve prefix ranges and the 3-7-1 weighted checksum."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    prefix = int(digits[:2])
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights)) % 10 == 0


def ssn_rules_valid(digits: str) -> bool:
    """Nine digits the SSA could have issued (area, group and serial rules)."""
    return (
        len(digits) == 9
        and digits.isdigit()
        and digits[:3] not in ("000", "666")
        and digits[0] != "9"
        and digits[3:5] != "00"
        and digits[5:] != "0000"
    )


def _before(text: str, start: int, window: int) -> str:
    return text[max(0, start - window) : start]


def npi_spans(text: str) -> list[Span]:
    if not NPI_CUE_RE.search(text):
        return []
    return [Span(m.start(), m.end(), "NPI") for m in NPI_RE.finditer(text) if npi_valid(m.group())]


def _extend_list(text: str, end: int, spans: list[Span]) -> None:
    """Identifiers listed after one medical record number are medical record numbers too."""
    while True:
        joint = LIST_NEXT_RE.match(text, end)
        token = ID_TOKEN_RE.match(text, joint.end()) if joint else None
        if token is None or "\n" in text[end : token.start()]:
            return
        spans.append(Span(token.start(), token.end(), "MEDICAL_RECORD_NUMBER"))
        end = token.end()


def mrn_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    for match in MRN_PREFIXED_RE.finditer(text):
        spans.append(Span(match.start(), match.end(), "MEDICAL_RECORD_NUMBER"))
        _extend_list(text, match.end(), spans)
    for cue in MRN_CUE_RE.finditer(text):
        window_end = text.find("\n", cue.end(), cue.end() + MRN_AFTER_CUE)
        window_end = window_end if window_end != -1 else min(len(text), cue.end() + MRN_AFTER_CUE)
        token = ID_TOKEN_RE.search(text, cue.end(), window_end)
        if token is None or ". " in text[cue.end() : token.start()]:
            continue  # nothing identifier-like in the same sentence and line
        spans.append(Span(token.start(), token.end(), "MEDICAL_RECORD_NUMBER"))
        _extend_list(text, token.end(), spans)
    return spans


def bare_ssn_spans(text: str) -> list[Span]:
    """Nine-digit numbers under the SSA rules, unless the words before say what else they are."""
    spans = []
    for match in SSN_BARE_RE.finditer(text):
        if len(set(match.group())) == 1 or match.group() in ("123456789", "078051120"):
            continue  # never issued: repeated digits, the SSA's advertising number, the Woolworth wallet card
        if NOT_SSN_CUE_RE.search(_before(text, match.start(), NOT_SSN_LOOKBACK)):
            continue
        spans.append(Span(match.start(), match.end(), "US_SSN"))
    return spans


def bank_spans(text: str) -> list[Span]:
    spans = []
    for match in ROUTING_RE.finditer(text):
        if aba_valid(match.group()) and ROUTING_CUE_RE.search(_before(text, match.start(), CUE_LOOKBACK)):
            spans.append(Span(match.start(), match.end(), "ABA_ROUTING_NUMBER"))
    for cue in BANK_CUE_RE.finditer(text):
        number = BANK_ACCOUNT_RE.match(text, cue.end())
        if number is None:
            continue
        digits = digits_only(number.group())
        if 4 <= len(digits) <= 17:
            spans.append(Span(number.start(), number.end(), "BANK_ACCOUNT"))
    return spans


def passport_spans(text: str) -> list[Span]:
    return [Span(m.start(1), m.end(1), "PASSPORT") for m in PASSPORT_RE.finditer(text)]


def identifier_spans(text: str) -> list[Span]:
    """Every identifier finding in `text` (may overlap; see spans.merge_spans)."""
    return [*npi_spans(text), *mrn_spans(text), *bare_ssn_spans(text), *bank_spans(text), *passport_spans(text)]
