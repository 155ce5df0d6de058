"""Validated pattern recognizers: emails, cards, IBANs, SSNs, IPs, phones, licences, secrets.

A regular expression only proposes a candidate; a checksum (Luhn, IBAN mod 97), a parser
(`ipaddress`, `phonenumbers`) or a context word before it decides, so order numbers, versions,
dates and prices survive. Written here because no maintained library covers this set with
offsets and validation together (Presidio does, at twice the time per ticket and lower recall).
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers

from app.redaction.spans import Span

CONTEXT_WINDOW = 48

EMAIL_RE = re.compile(r"(?<![\w.+'-])[\w.+'-]+@(?:[^\W_][\w-]*\.)+[^\W\d_]{2,}(?![\w-])")

# 12 to 19 digits in groups; 12-digit Maestro numbers only count next to a card word.
CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){11,18}(?![\d-])")
CARD_CONTEXT = ("card", "cc", "visa", "mastercard", "amex", "maestro", "credit", "debit", "billed")

# Compact (GB29NWBK60161331926819) or printed in groups of four (GB29 NWBK 6016 1331 9268 19).
IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?)"
    r"(?![A-Za-z0-9])"
)

SSN_DASHED_RE = re.compile(r"(?<![\d.-])(?!000|666)\d{3}([-.])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-]|\.\d)")
# Dots, spaces, no separator or digits spelled out with spaces: only after an SSN word.
SSN_LOOSE_RE = re.compile(
    r"(?<![\d.])(?:\d{3}[. ]?\d{2}[. ]?\d{4}|\d(?: ?\d){2} ?- ?\d ?\d ?- ?\d(?: ?\d){3})(?!\d|\.\d)"
)
# Whole words: "tin" inside "routing" or "meeting" is no SSN cue.
SSN_CONTEXT_RE = re.compile(r"(?i)\b(?:ssn|social security|socialnum|social|tax number|taxpayer|itin|tin)\b")

IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")  # a full stop may follow
# Candidates only: `ipaddress` decides, which rules out times such as 10:30:00.
IPV6_RE = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![:\w])")

# Digit groups joined by spaces, dots, dashes or brackets, an optional +country code and
# extension. Newlines never join groups, so a zip code above a phone number stays apart.
PHONE_RE = re.compile(
    r"(?<![\w+.-])(?:\+|00)?\(?\d{1,4}\)?(?:[ .-]{0,2}\(?\d{1,5}\)?){1,6}(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
    r"(?!\w)(?!-\d)",  # "788-063-Office" ends at the dash before a word
    re.IGNORECASE,
)
PHONE_CONTEXT_AFTER = ("office", "fax", "mobile", "cell", "home", "work", "desk")
PHONE_CONTEXT = (
    "phone",
    "tel",
    "call",
    "mobile",
    "cell",
    "fax",
    "desk",
    "office",
    "reach",
    "contact",
    "ring",
    "whatsapp",
    "sms",
    "text me",
    "dial",
    "answering",
    "registered",
)
DATE_LIKE = re.compile(r"^\d{1,4}([-./])\d{1,2}\1\d{1,4}$")

DRIVER_LICENSE_RE = re.compile(
    r"(?i)(?:driver'?s?\s+licen[cs]e|\bDL)(?:\s+(?:number|no\.?|#))?(?:\s+is)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{4,18})\b"
)

SECRET_RES = [
    # key=value and "password: ..." forms: the value is the secret.
    re.compile(
        r"(?i)\b(?:password|passwd|pwd|passcode|passphrase|pin|secret|client[_ -]?secret|api[_ -]?key|"
        r"access[_ -]?key|auth[_ -]?token|token)\b\s*(?:is\s*)?[:=]\s*[\"']?([^\s\"',;]{4,})"
    ),
    re.compile(r"\b(?:sk|pk|rk)-(?:proj-|live_|test_)?[A-Za-z0-9_-]{16,}"),  # OpenAI / Stripe style keys
    re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}"),  # GitHub tokens
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),  # Slack tokens
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API keys
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWTs
    re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{16,}=*)"),
]


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _context(text: str, start: int, words: tuple[str, ...]) -> bool:
    before = text[max(0, start - CONTEXT_WINDOW) : start].lower()
    return any(word in before for word in words)


def digits_only(value: str) -> str:
    return re.sub(r"\D", "", value)


def email_spans(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), "EMAIL_ADDRESS") for m in EMAIL_RE.finditer(text)]


def card_spans(text: str) -> list[Span]:
    spans = []
    for match in CARD_RE.finditer(text):
        digits = digits_only(match.group())
        if not luhn_valid(digits) or len(set(digits)) == 1:
            continue
        if len(digits) == 12 and not _context(text, match.start(), CARD_CONTEXT):
            continue
        spans.append(Span(match.start(), match.end(), "CREDIT_CARD"))
    return spans


def iban_spans(text: str) -> list[Span]:
    spans = []
    for match in IBAN_RE.finditer(text):
        groups = match.group().split(" ")
        # A printed IBAN's optional short last group may take the next word ("... 0216 bis",
        # "... 19 and"): without it the candidate can still be valid. A regex cannot validate, so
        # the trailing groups are dropped here, one at a time, down to the shortest printed form.
        while True:
            candidate = " ".join(groups)
            if iban_valid(candidate):
                spans.append(Span(match.start(), match.start() + len(candidate), "IBAN_CODE"))
                break
            if len(groups) <= 3:
                break
            groups = groups[:-1]
    return spans


def ssn_spans(text: str) -> list[Span]:
    spans = [Span(m.start(), m.end(), "US_SSN") for m in SSN_DASHED_RE.finditer(text)]
    for match in SSN_LOOSE_RE.finditer(text):
        if SSN_CONTEXT_RE.search(text, max(0, match.start() - CONTEXT_WINDOW), match.start()):
            spans.append(Span(match.start(), match.end(), "US_SSN"))
    return spans


def ip_spans(text: str) -> list[Span]:
    spans = []
    for regex in (IPV4_RE, IPV6_RE):
        for match in regex.finditer(text):
            try:
                ipaddress.ip_address(match.group())
            except ValueError:
                continue
            spans.append(Span(match.start(), match.end(), "IP_ADDRESS"))
    return spans


def _phone_like(value: str, text: str, start: int) -> bool:
    digits = digits_only(value.split("x")[0].split("X")[0].split("ext")[0])
    if not 7 <= len(digits) <= 15 or DATE_LIKE.match(value.strip()):
        return False
    if value.startswith(("+", "00")):
        try:
            number = phonenumbers.parse(value if value.startswith("+") else "+" + value[2:], None)
            if phonenumbers.is_possible_number(number):
                return True
        except phonenumbers.NumberParseException:
            pass
    groups = len(re.findall(r"\d+", value))
    if groups >= 2 and len(digits) >= 8:
        return True  # grouped like a phone number: 0494 92 82 32, 60-56-85-91, (99) 645-791
    # 467 3395 after "phone:", 781 1704 before "office" and the like
    after = text[start + len(value) : start + len(value) + 12].lower()
    return _context(text, start, PHONE_CONTEXT) or any(word in after for word in PHONE_CONTEXT_AFTER)


def phone_spans(text: str) -> list[Span]:
    spans = []
    for match in PHONE_RE.finditer(text):
        value = match.group()
        if "." in value and not any(ch in value for ch in " -()+") and value.count(".") == 1:
            continue  # a decimal number such as 12345.678
        if _phone_like(value, text, match.start()):
            spans.append(Span(match.start(), match.end(), "PHONE_NUMBER"))
    return spans


def driver_license_spans(text: str) -> list[Span]:
    spans = []
    for match in DRIVER_LICENSE_RE.finditer(text):
        if any(ch.isdigit() for ch in match.group(1)):
            spans.append(Span(match.start(1), match.end(1), "US_DRIVER_LICENSE"))
    return spans


def secret_spans(text: str) -> list[Span]:
    spans = []
    for regex in SECRET_RES:
        for match in regex.finditer(text):
            group = 1 if match.groups() else 0
            spans.append(Span(match.start(group), match.end(group), "SECRET"))
    return spans


def pattern_spans(text: str, phones: bool = True) -> list[Span]:
    """Every validated pattern finding in `text` (may overlap; see spans.merge_spans). German text
    passes `phones=False`: its numbers are found by german_ids.german_phone_spans, which knows the
    slash forms (0511/791307) and leaves versions and order numbers alone."""
    return [
        *email_spans(text),
        *card_spans(text),
        *iban_spans(text),
        *ssn_spans(text),
        *ip_spans(text),
        *(phone_spans(text) if phones else ()),
        *driver_license_spans(text),
        *secret_spans(text),
    ]
