"""Street addresses, found as blocks: an anchor line, then the short lines that follow it.

Address parsers (usaddress, libpostal) label a string already known to be an address, and
pyap finds US/CA/GB forms only; tickets carry international addresses inside free text and
signatures, so the finding is done here with a few anchors:
- a street: a house number and a street word (`12 Baker Street`, `Rua Igreja 25`,
  `Kiannonkatu 98`), a unit (`Apt. 864`, `Suite 201`, `PO Box 12`) or a military address;
- a cue: `lives at`, `address:`, `ship to` ... followed by a segment with a number in it;
then every following line that is short and looks like a city, region, country or post code.
"""

from __future__ import annotations

import re

from app.redaction.spans import Span, trim

# Street words that follow the name (Baker Street) and prefixes that lead it (Rua Igreja 25).
STREET_TYPES = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|court|ct|place|pl|terrace|square|sq|highway|hwy|"
    "parkway|pkwy|crescent|cres|close|circle|cir|trail|row|walk|mews|grove|gardens|hill|boulevard|blvd|"
    "strasse|straße|str|weg|gasse|platz|allee|ring|damm|laan|straat|gracht|plein|kade|katu|tie|kuja|"
    "polku|vej|gade|gatan|vägen|gata|gränd|veien|vei|gate|utca|út|ulice|náměstí|caddesi|sokak|stræde|torv"
)
STREET_PREFIXES = (
    "Rua|Rue|rue|Via|Viale|Vicolo|Piazza|Corso|Largo|Travessa|Calle|Carrera|Avenida|Avda|Av|Plaza|Paseo|"
    "Camino|Chemin|Quai|Allée|Ul|ul|Ulica|ulica|Ulitsa|Prospekt|Trg|trg|Odos|Bulevar"
)
# Compound street names end in their street word: Friedhofstrasse, Kiannonkatu, Storgatan.
STREET_SUFFIXES = (
    "strasse",
    "straße",
    "katu",
    "tie",
    "vej",
    "gade",
    "gatan",
    "vägen",
    "gata",
    "weg",
    "laan",
    "straat",
    "utca",
    "veien",
    "gasse",
    "platz",
    "allee",
    "braut",
    "vegur",
    "stræde",
)
WORD = r"[^\W\d_][\w'’.-]*"
CAPITALISED = r"[^\W\d_a-zà-ÿ][\w'’.-]*"
HOUSE = r"\b\d{1,6}[A-Za-z]?,?\s+(?:\d{1,5}\s+)?"
NUMBER = r"\s+\d{1,5}[A-Za-z]?\b"
STREET_RE = re.compile(
    rf"{HOUSE}(?:{CAPITALISED}\s+){{0,4}}(?i:{STREET_TYPES})\b\.?(?:{NUMBER})?"  # 12 Baker Street 4
    rf"|(?:{WORD}\s+){{1,4}}(?i:{STREET_TYPES})\b\.?{NUMBER}"  # Kimberly Way 12, hegyalja út 98
    rf"|(?:{HOUSE})?\b(?:{STREET_PREFIXES})\b\.?\s+(?:{WORD}\s+){{1,4}}?\d{{1,5}}[A-Za-z]?\b"  # Rua Igreja 25
    rf"|(?:{HOUSE})?\b[^\W\d_]{{2,}}(?i:{'|'.join(STREET_SUFFIXES)})\.?{NUMBER}"  # Kiannonkatu 98
)
UNIT_RE = re.compile(
    r"(?i)\b(?:apt|apartment|suite|ste|unit|flat|floor|room|box|postbox|p\.?\s?o\.?\s*box|pmb|psc)"
    r"\.?\s*#?\s*\d{1,6}\b"
)
MILITARY_RE = re.compile(r"(?i)\b(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+\d{5}\b")
NUMBER_FIRST_RE = re.compile(r"^\d{1,6}[A-Za-z]?,?\s+[^\W\d_]")
CUE_RE = re.compile(
    r"(?i)\b(?:address(?:\s+is)?|lives?\s+(?:at|in|on)|living\s+at|located\s+(?:at|on|in)|resides?\s+at|"
    r"moved\s+to|send\s+(?:it|this|them|the\s+\w+)?\s*to|ship(?:ped)?\s+to|deliver(?:ed)?\s+to|"
    r"meet\s+(?:me|us)\s+at|(?:is|are)\s+on|enter\s+on|offices?\s+(?:are|is)\s+(?:located\s+)?at|it\s+is)"
    r"\s*[:\-]?\s+"
)
SENTENCE_END = re.compile(
    r"[.?!](?=\s|$)(?<!\b[A-Z]\.)(?<!\bApt\.)(?<!\bSt\.)(?<!\bAvda\.)(?<!\bul\.)|\n\s*\n|\n(?=\S*:)"
)
MAX_CONTINUATION_LINES = 4
MAX_INLINE_CHARS = 110


def _is_continuation(line: str) -> bool:
    """A city, region, country or post-code line under a street line."""
    content = line.strip().lstrip(">").strip()
    if not content or len(content) > 60 or len(content.split()) > 5:
        return False
    if any(mark in content for mark in (":", "@", "http", "?", "!")):
        return False
    if len(re.sub(r"\D", "", content)) >= 7:  # a phone number, not a post code
        return False
    return not content.endswith(".") or len(content) <= 4


def _segment_end(text: str, start: int, limit: int) -> int:
    """End of the address segment that starts at `start`: sentence end, blank line or limit."""
    match = SENTENCE_END.search(text, start, min(len(text), start + limit))
    return match.start() if match else min(len(text), start + limit, _line_end(text, start))


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def _line_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def _extend_over_lines(text: str, end: int) -> int:
    """Swallow up to MAX_CONTINUATION_LINES short lines after `end`'s line."""
    for _ in range(MAX_CONTINUATION_LINES):
        line_end = _line_end(text, end)
        if line_end >= len(text):
            break
        next_end = _line_end(text, line_end + 1)
        if not _is_continuation(text[line_end + 1 : next_end]):
            break
        end = next_end
    return end


def _short_line(text: str, start: int) -> bool:
    line = text[_line_start(text, start) : _line_end(text, start)].strip().lstrip(">").strip()
    return len(line.split()) <= 10 and not re.search(r"[?!]|[a-z]\.\s+[A-Z]", line)


def _block(text: str, anchor_start: int, anchor_end: int) -> Span | None:
    """From the anchor to the end of its line when the line is short (a signature or address
    block), else to the end of the sentence segment; then the continuation lines."""
    if _short_line(text, anchor_start):
        end = _line_end(text, anchor_start)
    else:
        end = max(anchor_end, _segment_end(text, anchor_start, MAX_INLINE_CHARS))
    return trim(text, anchor_start, _extend_over_lines(text, end), "STREET_ADDRESS")


def address_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    for regex in (STREET_RE, UNIT_RE, MILITARY_RE):
        for match in regex.finditer(text):
            span = _block(text, match.start(), match.end())
            if span:
                spans.append(span)
    position = 0
    for line in text.split("\n"):
        stripped = line.strip().lstrip(">").strip()
        if NUMBER_FIRST_RE.match(stripped) and len(stripped.split()) <= 7:
            line_end = position + len(line)
            if _extend_over_lines(text, line_end) > line_end:  # a street line with a city under it
                span = _block(text, position + line.index(stripped), line_end)
                if span:
                    spans.append(span)
        position += len(line) + 1
    for match in CUE_RE.finditer(text):
        start = match.end()
        end = _segment_end(text, start, MAX_INLINE_CHARS)
        segment = text[start:end]
        if re.search(r"\d", segment) and re.search(r"[^\W\d_]{2,}", segment):
            span = trim(text, start, _extend_over_lines(text, end), "STREET_ADDRESS")
            if span:
                spans.append(span)
    return spans
