"""German evaluation data for redaction: support texts with known personal data, texts with none,
and GermEval 2014 news sentences with PER/LOC spans.

Support texts come from the German rows (language `de`) of the Tobi-Bueck ticket files in
`../shared/eval`. Their anonymisation placeholders are filled with generated values, each recorded
as an exact character span with the redactor's label (app/redaction/spans.py): PERSON, PHONE_NUMBER,
IBAN_CODE and EMAIL_ADDRESS, each from the placeholders listed for it in `PLACEHOLDERS` below
(`<name>`, `[Ihr Name]`, `<tel_num>`, `[Telefonnummer]`, `<acc_num>`, `[Kontonummer]`, `<email>`, ...).

`<Date>`, `<date>`, `[Date]`, `<Time>`, `[Time]` are filled with a date or a time (not personal
data, no span); `<br>` and `<br/>` and a literal backslash-n become line breaks. A text holding any
other placeholder (`<company_name>`, `<position>`, `<order_num>`, `<new_address>`,
`<contact_information>`, `[Link]`, ...) is left out and counted (`Corpus.dropped`).

Values are generated here, seeded per text (so a text's values do not depend on which others are
sampled): first and last names common in Germany, Austria and Switzerland, names of families who
came from Turkey, Poland, the Balkans, Italy and Vietnam, double-barrelled surnames, and many
surnames that are also German nouns (Fischer, Koch, Bauer, Wolf, Winter, ...), which is where a
German redactor goes wrong. Our own short lists, not Faker's: a redactor may take its gazetteer
from Faker, and a test set drawn from the same lists would flatter it. Phone numbers in the
formats of issue 29 (0..., +49, +49 (0)..., 0049, (0...), with /, - or spaces; landline and
mobile), each valid for `phonenumbers` with region DE; IBANs (DE mostly, some AT and CH, grouped
by four or not) with a valid mod-97 checksum; e-mail addresses built from a name.

Each ticket, and the agent's answer beside it, falls on one side of a 70/30 split by a stable hash
of the ticket's subject and body (`held_out`): 30% held out, never to be looked at while tuning.
German tickets (subject and body) with no placeholder at all are the "no personal data" texts.
GermEval sentences are split the same way by a hash of the sentence.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL_DIR = ROOT.parent / "shared" / "eval"

TICKET_FILES = (  # the German file first: a ticket in two files is taken once, from the first
    "tobibueck_german_normalized_2125.csv",
    "tobibueck_multilang_4-20k_first2181.csv",
    "tobibueck_aa_multilang_5-2-50_first1872.csv",
    "tobibueck_multilang3-4k_first1167.csv",
)
GERMEVAL_FILE = "germeval2014_de_dev.tsv"
HELD_OUT_PERCENT = 30
SEED = 29

PLACEHOLDERS = {
    "PERSON": (
        "<name>",
        "<Name>",
        "<Ihr Name>",
        "<Your Name>",
        "[Name]",
        "[name]",
        "[Ihr Name]",
        "[Dein Name]",
        "[Your Name]",
        "[Kundenname]",
    ),
    "PHONE_NUMBER": (
        "<tel_num>",
        "<Tel-Nummer>",
        "<Tel Nummer>",
        "[tel_num]",
        "[Tel_num]",
        "[Tel_Num]",
        "[Telefonnummer]",
        "[telefonnummer]",
        "[Tel Nummer]",
        "[Tel. Nummer]",
        "[Tel-Nummer]",
        "[Tel Number]",
        "[Phone Number]",
        "[phone number]",
    ),
    "IBAN_CODE": (
        "<acc_num>",
        "[acc_num]",
        "[Acc_num]",
        "[Acc. Nummer]",
        "[Account Number]",
        "[Kontonummer]",
        "[Konto Nummer]",
        "[Konto-Nr.]",
        "[Konto-Nummer]",
    ),
    "EMAIL_ADDRESS": ("<email>", "<email_address>", "<name@example.com>", "<email@example.com>"),
}
LABEL_OF = {placeholder: label for label, names in PLACEHOLDERS.items() for placeholder in names}
NOT_PERSONAL = {"<Date>": "date", "<date>": "date", "[Date]": "date", "<Time>": "time", "[Time]": "time"}
# Anything shaped like a placeholder: <word>, <a@b.c>, [a few words].
PLACEHOLDER_RE = re.compile(r"<[A-Za-z][\w@.\- ]{0,40}>|\[[^\[\]\n]{2,30}\]")
LINE_BREAK_RE = re.compile(r"<br\s*/?>|\\n")

FIRST_NAMES = (
    "Anna", "Lena", "Sophie", "Marie", "Laura", "Julia", "Katharina", "Sabine", "Petra", "Claudia",
    "Ursula", "Monika", "Jana", "Lea", "Hannah", "Emma", "Mia", "Lina", "Johanna", "Franziska",
    "Birgit", "Heike", "Gabriele", "Renate", "Ingrid", "Brigitte", "Verena", "Theresa", "Magdalena", "Regula",
    "Ayşe", "Elif", "Zeynep", "Agnieszka", "Ioana", "Olga", "Chiara", "Mai",
    "Lukas", "Jonas", "Leon", "Felix", "Maximilian", "Paul", "Tobias", "Florian", "Stefan", "Michael",
    "Thomas", "Andreas", "Jürgen", "Klaus", "Wolfgang", "Dieter", "Uwe", "Matthias", "Sebastian", "Benedikt",
    "Jan", "Niklas", "Moritz", "Dominik", "Valentin", "Reto", "Urs", "Beat", "Jörg", "Günter",
    "Mehmet", "Mustafa", "Emre", "Piotr", "Dragan", "Luca", "Marco", "Duc",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
    "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann",
    "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser",
    "Fuchs", "Peters", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Friedrich", "Keller",
    "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Albrecht", "Ludwig",
    "Winter", "Sommer", "Engel", "Horn", "Busch", "Graf", "Brandt", "Haas", "Kühn", "Pfeiffer",
    "Gruber", "Pichler", "Steiner", "Moser", "Brunner", "Egger", "Gerber", "Baumgartner", "Frei", "Hofer",
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Nowak", "Kowalski", "Wiśniewski", "Popović", "Nguyen",
    "Rossi", "Ivanova",
)  # fmt: skip
# Landline area codes (without the trunk 0) and mobile prefixes.
AREA_CODES = ("30", "40", "89", "221", "69", "711", "211", "351", "341", "511", "911", "201", "231", "421", "228",
              "761", "621", "6131", "7531", "8031", "3641", "4621")  # fmt: skip
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "163", "170", "171", "172", "173", "174", "175", "176", "177",
                   "178", "179", "1512", "1575")  # fmt: skip
MAIL_DOMAINS = ("gmx.de", "web.de", "t-online.de", "posteo.de", "gmail.com", "outlook.de", "gmx.at", "bluewin.ch",
                "mail.de", "freenet.de")  # fmt: skip
# After these words a name is a surname; after a greeting a first name is as likely as a full one.
SURNAME_CUE_RE = re.compile(r"(?:Herrn?|Frau|Hr\.|Fr\.|Dr\.|Prof\.)\s*$")
GREETING_RE = re.compile(r"(?:Hallo|Hi|Liebe|Lieber|Servus|Grüezi|Moin)\s*,?\s*$", re.IGNORECASE)


@dataclass
class GoldText:
    """One text and its personal data as (start, end, label) spans into it."""

    key: str  # which ticket it came from (a hash), plus `:answer` for the agent's answer
    source: str  # "ticket" (subject and body) or "answer"
    text: str
    spans: list[tuple[int, int, str]]
    held_out: bool


@dataclass
class Corpus:
    with_pii: list[GoldText] = field(default_factory=list)
    without_pii: list[GoldText] = field(default_factory=list)  # German tickets with no placeholder
    dropped: dict[str, int] = field(default_factory=dict)  # placeholder we do not fill: texts left out


def ticket_key(subject: str, body: str) -> str:
    return hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest()[:16]


def held_out(key: str, percent: int = HELD_OUT_PERCENT) -> bool:
    """The stable split: a text is held out when its key's hash falls in the first `percent`."""
    return int(hashlib.sha256(f"de-pii-split:{key}".encode()).hexdigest(), 16) % 100 < percent


# --- values ----------------------------------------------------------------------------------


def iban_check_digits(country: str, bban: str) -> str:
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{98 - int(digits) % 97:02d}"


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "").upper()
    rearranged = compact[4:] + compact[:4]
    return len(compact) >= 15 and int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def make_iban(rng: random.Random) -> str:
    country = rng.choices(("DE", "AT", "CH"), weights=(8, 1, 1))[0]
    length = {"DE": 18, "AT": 16, "CH": 17}[country]  # BBAN digits: BLZ + account
    bban = str(rng.randrange(1, 10)) + "".join(str(rng.randrange(10)) for _ in range(length - 1))
    iban = country + iban_check_digits(country, bban) + bban
    if rng.random() < 0.7:
        iban = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


def _digits(rng: random.Random, count: int) -> str:
    return str(rng.randrange(1, 10)) + "".join(str(rng.randrange(10)) for _ in range(count - 1))


def _phone_candidate(rng: random.Random) -> str:
    if rng.random() < 0.35:
        prefix = rng.choice(MOBILE_PREFIXES)
        subscriber = _digits(rng, rng.randint(7, 11 - len(prefix)))
    else:
        prefix = rng.choice(AREA_CODES)
        subscriber = _digits(rng, rng.randint(max(5, 8 - len(prefix)), 10 - len(prefix)))
    if rng.random() < 0.2 and len(subscriber) >= 6:  # subscriber digits in groups
        subscriber = " ".join(subscriber[i : i + 2] for i in range(0, len(subscriber), 2))
    form = rng.choice(
        (
            "0{p} {s}",
            "0{p}/{s}",
            "0{p}-{s}",
            "0{p} / {s}",
            "(0{p}) {s}",
            "+49 {p} {s}",
            "+49 (0){p} {s}",
            "+49 (0) {p} {s}",
            "+49-{p}-{s}",
            "+49{p}{s}",
            "0049 {p} {s}",
        )
    )
    return form.format(p=prefix, s=subscriber)


def make_phone(rng: random.Random) -> str:
    """A German number valid for `phonenumbers` (region DE) in one of the formats people write."""
    import phonenumbers

    while True:
        candidate = _phone_candidate(rng)
        try:
            number = phonenumbers.parse(candidate, "DE")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number) and number.country_code == 49:
            return candidate


def _ascii(name: str) -> str:
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ı", "i"), ("ş", "s"), ("ç", "c"),
                          ("ś", "s"), ("ć", "c")):  # fmt: skip
        name = name.replace(umlaut, plain)
    return name


def make_surname(rng: random.Random) -> str:
    if rng.random() < 0.08:
        first, second = rng.sample(LAST_NAMES, 2)
        return f"{first}-{second}"
    return rng.choice(LAST_NAMES)


def make_name(rng: random.Random, before: str) -> str:
    """A name that reads naturally after `before` (the text up to the placeholder)."""
    if SURNAME_CUE_RE.search(before[-12:]):
        return make_surname(rng)
    first, last = rng.choice(FIRST_NAMES), make_surname(rng)
    roll = rng.random()
    if GREETING_RE.search(before[-12:]):
        return first if roll < 0.5 else f"{first} {last}"
    return first if roll < 0.08 else f"{first} {last}"


def make_email(rng: random.Random) -> str:
    first, last = (_ascii(n.lower()) for n in (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)))
    local = rng.choice((f"{first}.{last}", f"{first[0]}.{last}", f"{first}_{last}{rng.randrange(10, 99)}", last,
                        f"{first}{last}"))  # fmt: skip
    domain = rng.choice((*MAIL_DOMAINS, f"{last}-consulting.de", f"praxis-{last}.de"))
    return f"{local}@{domain}"


def make_date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2023, 2025)}"


def make_value(label: str, rng: random.Random, before: str) -> str:
    if label == "PERSON":
        return make_name(rng, before)
    if label == "PHONE_NUMBER":
        return make_phone(rng)
    if label == "IBAN_CODE":
        return make_iban(rng)
    if label == "EMAIL_ADDRESS":
        return make_email(rng)
    if label == "date":
        return make_date(rng)
    return f"{rng.randint(8, 18)}:{rng.choice(('00', '15', '30', '45'))}"  # time


# --- support texts -----------------------------------------------------------------------------


def clean(text: str) -> str:
    return LINE_BREAK_RE.sub("\n", text)


def unknown_placeholders(text: str) -> list[str]:
    return [
        m.group() for m in PLACEHOLDER_RE.finditer(text) if m.group() not in LABEL_OF and m.group() not in NOT_PERSONAL
    ]


Choice = Callable[[re.Match[str], str], "tuple[str | None, str] | None"]


def splice(text: str, placeholders: re.Pattern[str], choose: Choice) -> tuple[str, list[tuple[int, int, str]]]:
    """`text` with each placeholder that `choose` fills replaced by its value, and the spans of the
    values that have a label. `choose(match, filled_so_far)` gives (label or None, value), or None
    to leave the placeholder as it stands."""
    pieces: list[str] = []
    spans: list[tuple[int, int, str]] = []
    position = length = 0
    for match in placeholders.finditer(text):
        choice = choose(match, "".join(pieces) + text[position : match.start()])
        if choice is None:
            continue
        label, value = choice
        before = text[position : match.start()]
        pieces.append(before)
        length += len(before)
        if label:
            spans.append((length, length + len(value), label))
        pieces.append(value)
        length += len(value)
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces), spans


def fill(text: str, rng: random.Random) -> tuple[str, list[tuple[int, int, str]]]:
    """`text` with every known placeholder replaced by a generated value, and the values' spans."""

    def choose(match: re.Match[str], filled: str) -> tuple[str | None, str] | None:
        label = LABEL_OF.get(match.group()) or NOT_PERSONAL.get(match.group())
        if label is None:
            return None
        return (label if label in PLACEHOLDERS else None), make_value(label, rng, filled[-20:])

    return splice(text, PLACEHOLDER_RE, choose)


def german_rows(eval_dir: Path) -> list[dict[str, str]]:
    """German rows of the ticket files, each ticket once (by subject and body)."""
    rows, seen = [], set()
    for name in TICKET_FILES:
        with (eval_dir / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("language") != "de" or not row.get("body"):
                    continue
                key = ticket_key(row.get("subject") or "", row["body"])
                if key not in seen:
                    seen.add(key)
                    rows.append(row)
    return rows


def support_corpus(eval_dir: Path = DEFAULT_EVAL_DIR, seed: int = SEED) -> Corpus:
    corpus = Corpus()
    for row in german_rows(eval_dir):
        subject, body = row.get("subject") or "", row["body"]
        key = ticket_key(subject, body)
        side = held_out(key)
        sources = [("ticket", clean(f"{subject}\n{body}" if subject else body))]
        if row.get("answer"):
            sources.append(("answer", clean(row["answer"])))
        for source, text in sources:
            if unknown := unknown_placeholders(text):
                for placeholder in set(unknown):
                    corpus.dropped[placeholder] = corpus.dropped.get(placeholder, 0) + 1
                continue
            name = key if source == "ticket" else f"{key}:answer"
            filled, spans = fill(text, random.Random(f"{seed}:{name}"))
            if spans:
                corpus.with_pii.append(GoldText(name, source, filled, spans, side))
            elif source == "ticket" and not PLACEHOLDER_RE.search(text):
                corpus.without_pii.append(GoldText(name, source, filled, [], side))
    corpus.dropped = dict(sorted(corpus.dropped.items(), key=lambda kv: (-kv[1], kv[0])))
    return corpus


# --- GermEval 2014 -----------------------------------------------------------------------------

GERMEVAL_LABELS = {"PER": "PERSON", "LOC": "LOCATION"}


@dataclass
class Sentence:
    text: str
    gold: list[tuple[int, int, str]]  # outer PER -> PERSON, LOC -> LOCATION
    annotated: list[tuple[int, int]]  # every entity, outer or inner, of any type (deriv/part too)
    held_out: bool


def _entities(tags: list[str], offsets: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """BIO tags to (start, end, type) over the tokens' character offsets."""
    entities: list[tuple[int, int, str]] = []
    current: list = []
    for tag, (start, end) in zip(tags, offsets):
        kind = tag[2:] if tag[:2] in ("B-", "I-") else None
        if kind and tag.startswith("I-") and current and current[2] == kind:
            current[1] = end
            continue
        if current:
            entities.append(tuple(current))
        current = [start, end, kind] if kind else []
    if current:
        entities.append(tuple(current))
    return entities


def parse_germeval(lines: list[str]) -> list[Sentence]:
    """GermEval 2014's TSV: `#` lines start a sentence, then `index token outer inner` rows; the
    tokens are joined with single spaces and the labels become character spans in that text."""
    sentences: list[Sentence] = []
    rows: list[list[str]] = []

    def close() -> None:
        if not rows:
            return
        offsets, position = [], 0
        for row in rows:
            offsets.append((position, position + len(row[1])))
            position += len(row[1]) + 1
        text = " ".join(row[1] for row in rows)
        outer = _entities([row[2] for row in rows], offsets)
        inner = _entities([row[3] if len(row) > 3 else "O" for row in rows], offsets)
        gold = [(s, e, GERMEVAL_LABELS[k]) for s, e, k in outer if k in GERMEVAL_LABELS]
        sentences.append(Sentence(text, gold, [(s, e) for s, e, _ in outer + inner], held_out(f"germeval:{text}")))
        rows.clear()

    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("#"):
            close()
        elif line.strip():
            rows.append(line.split("\t"))
        else:
            close()
    close()
    return sentences


def germeval(eval_dir: Path = DEFAULT_EVAL_DIR) -> list[Sentence]:
    return parse_germeval((eval_dir / GERMEVAL_FILE).read_text(encoding="utf-8").splitlines())
