"""German identifiers: phone numbers, Steuer-ID, Sozialversicherungsnummer, Personalausweis numbers,
and customer, contract and invoice numbers after their cue words.

As in `patterns`, a regular expression only proposes a candidate; `phonenumbers` (region DE), a
check digit (python-stdnum's `stdnum.de.idnr`, the pension insurance's and ICAO 9303's own
rules) or a cue word decides. Dates (12.03.2024), times (14:30), amounts (1.234,56 €), post codes,
versions (2.3.1, 111.0.5563.64) and order numbers without a phone cue are left alone.

`german_phone_spans` replaces `patterns.phone_spans` for German text: the English finder
misses the slash forms Germans write (0511/791307, 030 / 1234567: 13% of the generated German
numbers) and takes dotted versions for numbers; this one finds every German format through
`phonenumbers` and never joins digit groups with dots.
"""

from __future__ import annotations

import re

import phonenumbers
from stdnum.de import idnr

from app.redaction.spans import Span

# --- phone numbers -------------------------------------------------------------------------------
# A candidate starts with an international prefix (+49, 0049, +43, ...), a trunk zero (030, 0170),
# a bracketed code ((030), (+41)) or, after a phone cue only, any digit ("Tel.: 1234567"); "+49 (0)30"
# keeps its (0). Then digit groups, perhaps bracketed, joined by one space, "/", "-", " / " or
# " - " (0511/791307, 0911/27 14 26 8, 030 1234567-0). Never a dot, a comma or a line break: dates,
# versions, amounts and a post code above a number stay apart. Two digit runs always have a
# separator between them (none only after a bracket), so matching stays linear.
PHONE_CANDIDATE_RE = re.compile(
    r"(?<![\w+/.,-])(?<!\d:)"
    r"(?:(?:\+|00)\d{1,15}|\(\+?\d{1,5}\)|\d{1,15})"
    r"(?: ?\(0\))?"
    r"(?:(?: ?[/-] ?| |(?<=\)))\(?\d{1,10}\)?)*"
    r"(?![\w/]|[.,:]\d)"
)
PHONE_GROUP_RE = re.compile(r"\d+")
# "Tel.", "Telefon", "Handy", "Mobil", "Fax", "Rufnummer", "Durchwahl", "erreichbar unter" ...
PHONE_CUE_RE = re.compile(
    r"(?i)(?:\btel\b|telefon|phone|\bfon\b|handy|mobil|\bfax|rufnummer|durchwahl|festnetz|anruf|\brufen|"
    r"erreichbar|whatsapp|\bsms\b|\bcall\b|hotline|kundendienst|service|kontakt)"
)
# An identifier named by its cue is no phone number unless a phone cue is nearer ("Bestellnummer
# 0123 456789"); international forms (+49, 0049) are unmistakable and skip this.
NOT_PHONE_CUE_RE = re.compile(
    r"(?i)(?:bestell|auftrags|rechnungs|kunden|vertrags|artikel|serien|ticket|vorgangs|referenz|sendungs|"
    r"mitglieds|versicherungs|order|invoice|tracking|version)\w*\W{0,4}(?:nr\b\.?|nummer\b|no\b\.?|id\b|#)?\W{0,3}$"
)
PHONE_CUE_WINDOW = 40
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15  # ITU-T E.164
YEAR_RE = re.compile(r"(?:19|20)\d\d")
# Austrian and Swiss national numbers (01 5121234, 044 668 18 00) are invalid for region DE;
# they count only after a phone cue, where these regions are tried too.
CUED_REGIONS = ("AT", "CH")


def _phone_number(candidate: str, regions: tuple[str, ...], possible: bool) -> bool:
    """Whether `phonenumbers` reads a valid number (or, with `possible`, one of a possible length)."""
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) or (possible and phonenumbers.is_possible_number(number)):
            return True
    return False


def german_phone_spans(text: str) -> list[Span]:
    """Phone numbers in German text: from a trunk zero, valid for `phonenumbers` with region DE (AT
    and CH too after a phone cue); from + or 00, or after a cue, of a possible length."""
    spans = []
    for match in PHONE_CANDIDATE_RE.finditer(text):
        candidate = match.group()
        if not MIN_PHONE_DIGITS <= sum(ch.isdigit() for ch in candidate) <= MAX_PHONE_DIGITS + 2:
            continue
        before = text[max(0, match.start() - PHONE_CUE_WINDOW) : match.start()]
        cued = bool(PHONE_CUE_RE.search(before))
        international = candidate.startswith(("+", "00", "(+"))
        trunk = candidate.startswith(("0", "(0"))
        if not (international or trunk or cued):
            continue
        if not international and not cued and NOT_PHONE_CUE_RE.search(before):
            continue
        regions = ("DE", *CUED_REGIONS) if cued else ("DE",)
        # With an international prefix or after a cue, a number of a possible length counts
        # (+1 555 ... numbers are never assigned, yet plainly phone numbers); a trunk zero must be valid.
        possible = international or (cued and not trunk)
        # The longest valid reading: German numbers vary in length, so a trailing group may still
        # read as part of one; a year after a space does not count ("030 1234567 2024").
        end = match.end()
        last = text.rfind(" ", match.start(), end)
        if last > 0 and YEAR_RE.fullmatch(text, last + 1, end):
            end = last
        while True:
            if _phone_number(text[match.start() : end], regions, possible):
                spans.append(Span(match.start(), end, "PHONE_NUMBER"))
                break
            groups = list(PHONE_GROUP_RE.finditer(text, match.start(), end))
            if len(groups) <= 2 or sum(len(group.group()) for group in groups[:-1]) < MIN_PHONE_DIGITS:
                break
            end = groups[-2].end()
            if text[end] == ")":  # keep a bracketed group whole: "(030"
                end += 1
    return spans


# --- Steuer-ID (Steuerliche Identifikationsnummer) ---------------------------------------------------
# 11 digits, printed "12 345 678 901" or compact; any grouping by single spaces is proposed and
# `stdnum.de.idnr` decides: no leading 0, exactly one digit twice or three times in the first ten,
# ISO 7064 mod 11,10 check digit (https://de.wikipedia.org/wiki/Steuerliche_Identifikationsnummer).
# A valid number counts without a cue ("Steuer-ID", "IdNr", "TIN"): only about 0.4% of random
# 11-digit numbers pass the structure and check digit (1.6% + 2.2% repeat patterns, times 1/10),
# while a tax ID is a lifelong identifier of one person; an order number hidden now and then costs
# the LLM little. Phone numbers start with 0 or +, which the rules (and the lookbehind) exclude.
TAX_ID_RE = re.compile(r"(?<![\w+/.,-])\d(?: ?\d){10}(?![\w/-]|[.,]\d)")


def tax_id_spans(text: str) -> list[Span]:
    """Steuer-IDs with a valid structure and check digit, cue or not."""
    return [Span(m.start(), m.end(), "DE_TAX_ID") for m in TAX_ID_RE.finditer(text) if idnr.is_valid(m.group())]


# --- Sozialversicherungsnummer (Rentenversicherungsnummer) ------------------------------------------
# 12 characters (§ 2 VKVV, read at https://urteile-gesetze.de/gesetze/vkvv/2): area number (2 digits),
# birth date DDMMYY, the birth surname's initial, serial (2 digits; 00-49 men, 50-99 women) and a
# check digit. The day may be raised by 32, 64 or 96 when serials run out and the month is 00 when
# unknown (haufe.de, "Versicherungsnummer / 2.2 Geburtsdatum"), so only the month is checked.
# Area numbers run from 02 to 89 (Deutsche Rentenversicherung's Bereichsnummern).
# Check digit (Deutsche Rentenversicherung, restated at haufe.de "Versicherungsnummer / 2.6
# Prüfziffer"): the letter becomes its two-digit place in the alphabet (A = 01), the twelve digits
# are weighted 2,1,2,5,7,1,2,1,2,1,2,1, the digit sums of the products are added, modulo 10.
# Written here because python-stdnum (2.2) has no German social insurance number.
SOCIAL_SECURITY_RE = re.compile(r"(?<![\w-])\d{2} ?\d{6} ?[A-Za-z] ?\d{2} ?\d(?![\w-])")
RVNR_WEIGHTS = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)


def rvnr_valid(number: str) -> bool:
    """The Rentenversicherungsnummer's structure and check digit ("15 070649 C 103")."""
    compact = number.replace(" ", "").upper()
    if not re.fullmatch(r"\d{8}[A-Z]\d{3}", compact):
        return False
    if not 2 <= int(compact[:2]) <= 89 or int(compact[4:6]) > 12:
        return False
    digits = compact[:8] + f"{ord(compact[8]) - ord('A') + 1:02d}" + compact[9:11]
    total = sum(sum(divmod(int(digit) * weight, 10)) for digit, weight in zip(digits, RVNR_WEIGHTS))
    return total % 10 == int(compact[11])


def social_security_spans(text: str) -> list[Span]:
    """Sozialversicherungsnummern with a valid structure and check digit."""
    return [
        Span(m.start(), m.end(), "DE_SOCIAL_SECURITY")
        for m in SOCIAL_SECURITY_RE.finditer(text)
        if rvnr_valid(m.group())
    ]


# --- Personalausweis ---------------------------------------------------------------------------------
# A four-character authority code and a five-character number (§ 2 Abs. 8 PAuswG; see
# https://de.wikipedia.org/wiki/Ausweisnummer), since November 2010 from the digits and
# C F G H J K L M N P R T V W X Y Z (no vowels, nothing that reads as a digit), then a check digit
# (the specimen card's T22000129 3; before 2010 digits only, 1220001297). The check digit follows
# ICAO Doc 9303 part 3, 4.9: weights 7, 3, 1 repeating, letters A-Z count 10-35, the sum modulo 10.
# After a cue (Ausweisnummer, Personalausweis-Nr., ...) the nine characters are enough; without one
# the ten must start with a letter, carry three digits and a valid check digit.
ID_CARD_CHARS = "0123456789CFGHJKLMNPRTVWXYZ"
# The check digit may follow after a space, as on the card ("T22000129 3").
ID_CARD_RE = re.compile(rf"(?<![\w-])[{ID_CARD_CHARS}]{{9}}(?:\d| \d(?![\w-]))?(?![\w-])")
# Serial, article and licence numbers share the shape; after their cue a number is none of ours.
NOT_ID_CARD_CUE_RE = re.compile(
    r"(?i)(?:serien|s/n\b|\bsn\b|modell|model|artikel|bestell|auftrag|order|sku\b|part\b|lizenz|licen[cs]e|key\b|"
    r"schlüssel|ticket|rechnung|invoice|kunden|vertrag|version)[^\n]{0,24}$"
)
ID_CARD_CUE_RE = re.compile(
    r"(?i)(?:personal)?ausweis(?:es)?[- ]?(?:nummer|nr\b\.?|no\b\.?)|(?:personal)?ausweis\s+(?:nummer|nr\b\.?)"
    r"|dokumentennummer|id[- ]card(?:[- ]?(?:nummer|number|nr\b\.?))?"
)
ID_CARD_CUE_WINDOW = 40
ICAO_WEIGHTS = (7, 3, 1)


def icao_check_digit(characters: str) -> int:
    """ICAO 9303 check digit over digits and capital letters (A = 10 ... Z = 35, "<" = 0)."""
    total = 0
    for index, char in enumerate(characters):
        value = 0 if char == "<" else int(char, 36)
        total += value * ICAO_WEIGHTS[index % 3]
    return total % 10


def id_card_valid(number: str) -> bool:
    """A ten-character Personalausweis number (nine plus check digit) whose check digit is right."""
    return (
        len(number) == 10
        and all(char in ID_CARD_CHARS for char in number)
        and icao_check_digit(number[:9]) == int(number[9])
    )


def id_card_spans(text: str) -> list[Span]:
    """Personalausweis numbers: after an ID card cue, or standing alone with a valid check digit."""
    spans = []
    for match in ID_CARD_RE.finditer(text):
        number = match.group()
        if not any(char.isdigit() for char in number):
            continue
        before = text[max(0, match.start() - ID_CARD_CUE_WINDOW) : match.start()]
        cued = ID_CARD_CUE_RE.search(before)
        compact = number.replace(" ", "")
        standalone = (
            compact[0].isalpha()
            and sum(char.isdigit() for char in compact) >= 3
            and id_card_valid(compact)
            and not NOT_ID_CARD_CUE_RE.search(before)
        )
        if cued or standalone:
            spans.append(Span(match.start(), match.end(), "ID_CARD"))
    return spans


# --- Kunden-, Vertrags-, Rechnungsnummer ---------------------------------------------------------------
# The identifier right after the cue word (": ", "#", "Nr.", "lautet", "ist"); it must hold a
# digit, so "Kundennummer ist leider falsch" keeps its words. The cue itself stays visible: the LLM
# should know a customer number was given.
CUSTOMER_CUE_RE = re.compile(
    r"(?i)\b(?:kunden|kd\.?|vertrags|rechnungs|mitglieds|versicherungs)[- ]?(?:nummer|nr\b\.?|no\b\.?|id\b)"
    r"|\bkdnr\b\.?"
)
CUSTOMER_NUMBER_RE = re.compile(
    r"(?:\s*[:#=]|\s+(?:lautet|ist|war|wäre|is)\b:?)?\s*(?:Nr\.?\s*)?[#]?"
    r"((?=[\w./-]*\d)[A-Za-z0-9](?:[\w./-]*[A-Za-z0-9])?)"
    r"((?: \d{2,6}\b(?![.,]\d))*)"  # "123 456 789" printed in groups
)
DATE_RE = re.compile(r"\d{1,2}\.\d{1,2}\.(?:\d{2}|\d{4})?")


def customer_number_spans(text: str) -> list[Span]:
    """The identifier after Kundennummer, Kd.-Nr., Vertragsnummer, Rechnungsnummer, Mitgliedsnummer ..."""
    spans = []
    for cue in CUSTOMER_CUE_RE.finditer(text):
        match = CUSTOMER_NUMBER_RE.match(text, cue.end())
        if match is None or DATE_RE.fullmatch(match.group(1)):
            continue
        end = match.end(2) if match.group(1).isdigit() else match.end(1)
        spans.append(Span(match.start(1), end, "CUSTOMER_NUMBER"))
    return spans


def german_identifier_spans(text: str) -> list[Span]:
    """Every German identifier finding in `text` (may overlap; see spans.merge_spans)."""
    return [
        *german_phone_spans(text),
        *tax_id_spans(text),
        *social_security_spans(text),
        *id_card_spans(text),
        *customer_number_spans(text),
    ]
