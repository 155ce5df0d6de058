"""Deterministic generator of realistic support-ticket text for the Zendesk simulator.

Every choice is drawn from the ``random.Random`` passed in, so the same generator state
always yields the same ticket. Tickets cover four categories (bug reports, feature
requests, refund/billing requests and how-to/other questions), carry urgency cues
("production down", "ASAP" versus "whenever you get a chance") and sentiment cues
(angry/frustrated versus thankful), vary in length, and about 30% of them contain
personal data: names, e-mail addresses, US and international phone numbers, Luhn-valid
test card numbers and street addresses. A configurable share is written in German,
Spanish, French or Portuguese.

The ground truth (category, language, urgency, sentiment, kinds of personal data) is
returned with the text so that benchmarks can score the fleet against it.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from sim.ticket_phrases import (
    COMPANIES,
    DEVICES,
    EMAIL_DOMAINS,
    EN_ANGRY,
    EN_ANONYMOUS_SIGNATURES,
    EN_CLOSINGS,
    EN_DETAILS,
    EN_GREETINGS,
    EN_HAPPY,
    EN_PII,
    EN_RELAXED,
    EN_SCENARIOS,
    EN_URGENT,
    EN_URGENT_PREFIXES,
    ERRORS,
    FEATURES,
    FIRST_NAMES,
    FOREIGN,
    INTEGRATIONS,
    LAST_NAMES,
    MONTHS,
    PLANS,
    PLATFORMS,
    US_AREA_CODES,
    US_CITIES,
    US_STREET_SUFFIXES,
    US_STREETS,
    WEEKDAYS,
)

CATEGORIES = ("bug", "feature_request", "billing", "question")
LANGUAGES = ("de", "es", "fr", "pt")
PII_SHARE = 0.3
TAGGED_SHARE = 0.3
PRIORITIZED_SHARE = 0.3


@dataclass(frozen=True)
class GeneratedTicket:
    """One generated ticket: its text, the fields a person set, and the ground truth."""

    subject: str
    description: str
    category: str
    language: str
    urgency: str  # high | normal | low
    sentiment: str  # negative | neutral | positive
    pii: tuple[str, ...]  # kinds of personal data in the description
    tags: tuple[str, ...]
    priority: str | None
    status: str
    ticket_type: str | None


# --- Personal data --------------------------------------------------------------------


def luhn_check_digit(partial_number: str) -> str:
    """Return the digit that makes ``partial_number + digit`` pass the Luhn check."""
    total = 0
    # Walking from the right, the digit next to the (future) check digit is doubled.
    for position, char in enumerate(reversed(partial_number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` (spaces and dashes ignored) pass the Luhn check."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return len(digits) > 1 and luhn_check_digit(digits[:-1]) == digits[-1]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def _card_number(rng: random.Random) -> str:
    """A Luhn-valid Visa, Mastercard or Amex number, grouped the way people type them."""
    brand = rng.choice(("visa", "mastercard", "amex"))
    if brand == "amex":
        body = rng.choice(("34", "37")) + _digits(rng, 12)
        number = body + luhn_check_digit(body)
        groups = (number[:4], number[4:10], number[10:])
    else:
        prefix = "4" if brand == "visa" else str(rng.randint(51, 55))
        body = prefix + _digits(rng, 15 - len(prefix))
        number = body + luhn_check_digit(body)
        groups = tuple(number[i : i + 4] for i in range(0, 16, 4))
    separator = rng.choice((" ", "-", ""))
    return separator.join(groups)


def _phone_number(rng: random.Random, language: str) -> str:
    """A phone number in a format common for the writer's country (US or international)."""
    country = {"de": "de", "es": "es", "fr": "fr", "pt": rng.choice(("br", "pt"))}.get(
        language, rng.choice(("us", "us", "us", "uk", "intl"))
    )
    if country == "intl":
        country = rng.choice(("de", "fr", "uk"))
    if country == "us":
        area, exchange, line = rng.choice(US_AREA_CODES), rng.randint(201, 989), _digits(rng, 4)
        return rng.choice(
            (
                f"({area}) {exchange}-{line}",
                f"{area}-{exchange}-{line}",
                f"+1 {area} {exchange} {line}",
                f"{area}.{exchange}.{line}",
            )
        )
    if country == "uk":
        return rng.choice(
            (f"+44 20 7946 0{_digits(rng, 3)}", f"+44 7700 900{_digits(rng, 3)}", f"020 7946 0{_digits(rng, 3)}")
        )
    if country == "de":
        return rng.choice(
            (f"+49 30 {_digits(rng, 8)}", f"+49 151 {_digits(rng, 8)}", f"030 {_digits(rng, 4)} {_digits(rng, 4)}")
        )
    if country == "fr":
        pairs = " ".join(_digits(rng, 2) for _ in range(4))
        return rng.choice((f"+33 1 {pairs}", f"06 {pairs}"))
    if country == "es":
        return rng.choice(
            (
                f"+34 91{_digits(rng, 1)} {_digits(rng, 3)} {_digits(rng, 3)}",
                f"6{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
            )
        )
    if country == "br":
        return f"+55 11 9{_digits(rng, 4)}-{_digits(rng, 4)}"
    return f"+351 21{_digits(rng, 1)} {_digits(rng, 3)} {_digits(rng, 3)}"


def _street_address(rng: random.Random, language: str) -> str:
    number = rng.randint(1, 2400)
    if language == "de":
        street = rng.choice(("Hauptstraße", "Lindenstraße", "Bahnhofstraße", "Gartenweg"))
        city = rng.choice((("10969", "Berlin"), ("80331", "München"), ("50667", "Köln")))
        return f"{street} {number % 120 + 1}, {city[0]} {city[1]}"
    if language == "es":
        street = rng.choice(("Calle de Alcalá", "Calle Mayor", "Avenida de América"))
        return f"{street} {number % 200 + 1}, 280{rng.randint(10, 54)} Madrid"
    if language == "fr":
        street = rng.choice(("rue de la Paix", "avenue Victor Hugo", "rue des Lilas"))
        return f"{number % 150 + 1} {street}, 750{rng.randint(10, 20)} Paris"
    if language == "pt":
        street = rng.choice(("Rua Augusta", "Avenida Paulista", "Rua das Flores"))
        return f"{street}, {number}, São Paulo - SP, 01310-{_digits(rng, 3)}"
    city, state, zip_prefix = rng.choice(US_CITIES)
    suffix = rng.choice(US_STREET_SUFFIXES)
    return f"{number} {rng.choice(US_STREETS)} {suffix}, {city}, {state} {zip_prefix}{_digits(rng, 2)}"


def _ascii(text: str) -> str:
    """Strip accents and apostrophes so a name can become an e-mail local part."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum()).lower()


def _email_for(rng: random.Random, first: str, last: str) -> str:
    first, last = _ascii(first), _ascii(last)
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}", f"{first}{rng.randint(1, 99)}"))
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _personal_data(rng: random.Random, language: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """Choose which kinds of personal data a ticket carries and draw their values."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    values = {
        "name": f"{first} {last}",
        "name2": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        "email": _email_for(rng, first, last),
        "phone": _phone_number(rng, language),
        "card": _card_number(rng),
        "expiry": f"{rng.randint(1, 12):02d}/{rng.randint(26, 31)}",
        "address": _street_address(rng, language),
    }
    optional = ["email", "phone", "card", "address"]
    rng.shuffle(optional)
    # The name always appears (at least in the signature); one to three more kinds join it.
    kinds = ("name", *sorted(optional[: rng.randint(1, 3)]))
    return kinds, values


# --- Assembly -------------------------------------------------------------------------


def _slots(rng: random.Random) -> dict[str, str]:
    """Values for every placeholder any template may use, drawn once per ticket."""
    feature = rng.choice(FEATURES)
    plan, plan2 = rng.sample(PLANS, 2)
    return {
        "feature": feature,
        "feature_cap": feature[0].upper() + feature[1:],
        "platform": rng.choice(PLATFORMS),
        "device": rng.choice(DEVICES),
        "version": f"{rng.randint(3, 7)}.{rng.randint(0, 19)}.{rng.randint(0, 9)}",
        "error": rng.choice(ERRORS),
        "integration": rng.choice(INTEGRATIONS),
        "competitor": rng.choice(("Asana", "Monday", "Notion", "Airtable")),
        "plan": plan,
        "plan2": plan2,
        "amount": f"{rng.randint(19, 2400)}.{rng.choice(('00', '50', '99'))}",
        "invoice": f"INV-{rng.randint(2023, 2025)}-{rng.randint(1000, 99999)}",
        "month": rng.choice(MONTHS),
        "weekday": rng.choice(WEEKDAYS),
        "count": str(rng.choice((40, 120, 350, 800, 1500, 12000))),
        "seconds": str(rng.randint(15, 90)),
        "team_size": str(rng.choice((5, 12, 30, 85, 240))),
        "account": f"ACC-{rng.randint(100000, 999999)}",
        "time": f"{rng.randint(6, 17)}:{rng.choice(('00', '15', '30', '45'))}",
        "request_id": f"{rng.getrandbits(64):016x}",
        "company": rng.choice(COMPANIES),
    }


def _choose_category(rng: random.Random) -> str:
    return rng.choices(CATEGORIES, weights=(35, 15, 25, 25))[0]


def _choose_cues(rng: random.Random, category: str) -> tuple[str, str]:
    """Urgency and sentiment, correlated the way real queues are (bugs are the hottest)."""
    high_share = {"bug": 0.35, "billing": 0.2, "feature_request": 0.05, "question": 0.1}[category]
    roll = rng.random()
    urgency = "high" if roll < high_share else "low" if roll > 0.8 else "normal"
    negative_share = {"bug": 0.35, "billing": 0.4, "feature_request": 0.1, "question": 0.1}[category]
    roll = rng.random()
    sentiment = "negative" if roll < negative_share else "positive" if roll > 0.75 else "neutral"
    return urgency, sentiment


def _person_set_fields(
    rng: random.Random, category: str, urgency: str
) -> tuple[tuple[str, ...], str | None, str, str | None]:
    """Tags, priority, status and type as a customer or agent set them before triage."""
    tags: tuple[str, ...] = ()
    if rng.random() < TAGGED_SHARE:
        pool = {
            "bug": ["mobile_app", "web_app", "api", "sso"],
            "billing": ["billing", "refund", "invoice"],
            "feature_request": ["feature_request", "roadmap"],
            "question": ["how_to", "onboarding"],
        }[category]
        pool += ["vip", "enterprise", "trial", "partner", "churn_risk"]
        tags = tuple(sorted(rng.sample(pool, rng.randint(1, 3))))
    priority = None
    if rng.random() < PRIORITIZED_SHARE:
        options = {"high": ("normal", "high", "urgent"), "low": ("low", "normal")}.get(
            urgency, ("low", "normal", "high")
        )
        priority = rng.choice(options)
    status = rng.choices(("new", "open", "pending", "hold"), weights=(55, 30, 10, 5))[0]
    type_options = {
        "bug": ("incident", "problem", None, None),
        "feature_request": ("task", None, None),
        "billing": ("question", None),
        "question": ("question", None),
    }[category]
    return tags, priority, status, rng.choice(type_options)


def _english_text(rng, category, urgency, sentiment, pii_kinds, values):
    subjects, problems = rng.choice(EN_SCENARIOS[category])
    slots = {**_slots(rng), **values}
    subject = rng.choice(subjects).format_map(slots)
    if urgency == "high" and rng.random() < 0.5:
        subject = rng.choice(EN_URGENT_PREFIXES) + subject
    if rng.random() < 0.1:  # some people type subjects in all lower case
        subject = subject.lower()

    length = rng.choices(("short", "medium", "long"), weights=(30, 45, 25))[0]
    detail_count = {"short": 0, "medium": 1, "long": rng.randint(2, 3)}[length]
    details = rng.sample(EN_DETAILS[category], min(detail_count, len(EN_DETAILS[category])))

    paragraphs = [rng.choice(EN_GREETINGS)]
    opening = rng.choice(problems)
    if sentiment == "negative":
        opening = f"{rng.choice(EN_ANGRY)} {opening}"
    paragraphs.append(opening)
    paragraphs.extend(details)
    if urgency == "high":
        paragraphs.append(rng.choice(EN_URGENT))
    elif urgency == "low":
        paragraphs.append(rng.choice(EN_RELAXED))
    paragraphs.extend(rng.choice(EN_PII[kind]) for kind in pii_kinds if kind != "name" or rng.random() < 0.5)
    if sentiment == "positive":
        paragraphs.append(rng.choice(EN_HAPPY))
    signature = values["name"] if pii_kinds else rng.choice(EN_ANONYMOUS_SIGNATURES)
    paragraphs.append("\n".join(part for part in (rng.choice(EN_CLOSINGS), signature) if part))
    return subject, _join(paragraphs, slots)


def _foreign_text(rng, language, category, urgency, sentiment, pii_kinds, values):
    phrases = FOREIGN[language]
    subjects, problem = rng.choice(phrases["scenarios"][category])
    slots = {**_slots(rng), **values, f"error_{language}": phrases["error"]}
    subject = rng.choice(subjects).format_map(slots)
    if urgency == "high" and rng.random() < 0.5:
        subject = rng.choice(phrases["urgent_prefixes"]) + subject

    paragraphs = [rng.choice(phrases["greetings"])]
    paragraphs.append(f"{rng.choice(phrases['angry'])} {problem}" if sentiment == "negative" else problem)
    if urgency == "high":
        paragraphs.append(rng.choice(phrases["urgent"]))
    elif urgency == "low":
        paragraphs.append(rng.choice(phrases["relaxed"]))
    paragraphs.extend(rng.choice(phrases["pii"][kind]) for kind in pii_kinds if kind != "name" or rng.random() < 0.5)
    if sentiment == "positive":
        paragraphs.append(rng.choice(phrases["happy"]))
    signature = values["name"] if pii_kinds else ""
    paragraphs.append("\n".join(part for part in (rng.choice(phrases["closings"]), signature) if part))
    return subject, _join(paragraphs, slots)


def _join(paragraphs: list[str], slots: dict[str, str]) -> str:
    return "\n\n".join(p.format_map(slots) for p in paragraphs if p)


def generate_ticket(rng: random.Random, non_english_share: float = 0.1) -> GeneratedTicket:
    """Draw one realistic support ticket from ``rng`` (deterministic for a given state)."""
    category = _choose_category(rng)
    language = rng.choice(LANGUAGES) if rng.random() < non_english_share else "en"
    urgency, sentiment = _choose_cues(rng, category)
    pii_kinds, values = _personal_data(rng, language)
    if rng.random() >= PII_SHARE:
        pii_kinds = ()
    if language == "en":
        subject, description = _english_text(rng, category, urgency, sentiment, pii_kinds, values)
    else:
        subject, description = _foreign_text(rng, language, category, urgency, sentiment, pii_kinds, values)
    tags, priority, status, ticket_type = _person_set_fields(rng, category, urgency)
    return GeneratedTicket(
        subject=subject,
        description=description,
        category=category,
        language=language,
        urgency=urgency,
        sentiment=sentiment,
        pii=pii_kinds,
        tags=tags,
        priority=priority,
        status=status,
        ticket_type=ticket_type,
    )
