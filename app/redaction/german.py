"""German names and places without a German NER model: a lexicon, cue words and word shape.

No German spaCy pipeline exists on the package registry, and the English one takes every
capitalised German noun for a name. Every German noun is capitalised, so capitals alone say
little; what decides here is a lexicon of what each capitalised word is:

- common nouns, every inflected form: Wiktionary's German nouns (package `german-nouns`, CC BY-SA
  4.0 data) whose only part of speech is "Substantiv" ("Drucker", "Rechnungen", "Microsoft");
- given names and surnames: the same list's "Vorname" and "Nachname" entries plus Faker's name
  lists (MIT) for Germany, Austria, Switzerland and the countries many of their people's families
  came from (Turkey, Poland, Italy, Croatia, Czechia, Vietnam, Romania, Portugal);
- places: the list's "Toponym" entries plus Faker's German, Austrian and Swiss cities, states and
  cantons, and its German country names.

A word that is both a common noun and a name ("Koch", "Fischer", "Winter", "Essen") is a name only
in a name's company: after a cue (Herr, Frau, Dr., "Sehr geehrte", "Mit freundlichen Grüßen",
"Name:", an initial, "sagte"), beside a given name, or after "in"/"aus"/"nach" for a place.

A capitalised word in no list is taken for a proper name too (foreign surnames and places in the
news, "Sarkozy", are in no list) unless something says it is an ordinary word:
- a compound of a known noun ("Druckerwarteschlange" ends in "Schlange") or a noun's ending (-ung);
- a word of German's own in pyspellchecker's German word list (MIT: "dennoch", "aktualisieren"),
  or written in lower case elsewhere in the text;
- an everyday English word (German tickets are full of them: "Customer", "Online");
- inner capitals (ClickUp), or a product's company: a version or model after it ("Redis 6.2"),
  a product or English word beside it ("OptiInvest Analytics");
- a sentence's first word with the ending of a verb or adjective ("Zusätzlich", "Könnten").

`bench/pii_eval_de.py` measures the rules on held-out German support texts and GermEval 2014
sentences; tests/unit/test_german_names.py shows what each finds and leaves alone.
"""

from __future__ import annotations

import csv
import functools
import gzip
import importlib
import importlib.resources
import importlib.util
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH_STOP_WORDS

from app.redaction.spans import Span

# Faker locales whose person names are read (given names and surnames).
NAME_LOCALES = ("de_DE", "de_AT", "de_CH", "tr_TR", "pl_PL", "it_IT", "hr_HR", "cs_CZ", "vi_VN", "ro_RO", "pt_PT")
# Names from further afield, for names in the news and customers from anywhere; those that are
# also everyday English words ("Price", "Young", "Hope") are left out.
WORLD_NAME_LOCALES = ("en_US", "en_GB", "fr_FR", "es_ES", "nl_NL", "sv_SE", "da_DK", "fi_FI", "no_NO", "hu_HU", "pt_BR")
PLACE_LOCALES = ("de_DE", "de_AT", "de_CH")

# Capitalised words that are neither nouns nor names: pronouns of address, articles and other
# words that open sentences, greetings and sign-off words. Lower case here.
FUNCTION_WORDS = frozenset(
    """
    sie ihr ihre ihrer ihren ihrem ihres ihnen du dich dir dein deine euch euer eure ich wir mich mir uns
    der die das den dem des ein eine einer einen einem eines kein keine keinen keinem keiner
    und oder aber denn doch sondern sowie als wie wenn ob dass weil da damit obwohl während nachdem bevor
    bitte danke vielen vielmals hallo hi hey liebe lieber liebes sehr geehrte geehrter geehrtes geehrten
    guten tag morgen abend grüße grüßen gruß viele beste herzliche freundliche freundlichen mit mfg lg vg
    herr herrn frau dr prof dipl ing familie team support kundensupport kundendienst kundenservice
    hier dort heute gestern leider außerdem zudem jedoch also nun jetzt noch schon auch nur bereits
    mein meine meinen meinem meiner unser unsere unseren unserem unserer dieser diese dieses diesen diesem
    jeder jede jedes alle allen alles man es er sein seine wo was wer wann warum wieso weshalb welche welcher
    im in am an auf aus bei mit nach von vor zu zum zur für über unter um durch gegen ohne seit bis
    ja nein nicht kann könnte können würde würden wird werden ist sind war waren hat haben hatte gibt
    dear hello thanks regards best kind sincerely cheers the a an and or to of for in on with we you i
    """.split()
)
# Words after a greeting or sign-off that are no name ("Hallo zusammen", "Hallo Support-Team").
NOT_A_NAME_AFTER_CUE = frozenset("zusammen alle allerseits leute team kunde kundin".split())

# A capitalised word: a capital, then at least one lower-case letter (acronyms are no names here:
# in support text they are products and protocols). Hyphens join parts (Müller-Lüdenscheidt).
WORD_RE = re.compile(r"(?<![\w@.])[^\W\d_][^\W\d_'’]*(?:['’-][^\W\d_]+)*(?![\w@]|\.[a-z])")  # not "Monday.com"
SENTENCE_END_RE = re.compile(r"(?:[.!?:;•\"„“»«]|^|\n|-\s)\s*$")

TITLE = r"(?:Dr\.|Prof\.|Dipl\.-Ing\.|Mag\.|Ing\.)"
CAP = r"[^\W\d_a-zäöüß][\w'’]*(?:-[^\W\d_][\w'’]*)*"
# Herr/Frau (and their abbreviations) and titles: the next one to three capitalised words are a name.
TITLE_CUE_RE = re.compile(
    rf"(?:\b(?:Herrn?|Frau|Familie|Fam\.|Hr\.|Fr\.)|{TITLE})(?:\s*/\s*(?:Herrn?|Frau))?(?:\s+{TITLE})*"
    rf"\s+({CAP}(?:[ \t]+{CAP}){{0,2}})"
)
# Greetings: the next words are a name unless they are common nouns ("Sehr geehrtes Support-Team").
GREETING_CUE_RE = re.compile(
    rf"(?:\b(?:[Ss]ehr\s+)?geehrte(?:r|s|n|/r|\(r\)|\(n\))?|\b(?:Hallo|Hi|Hey|Liebe|Lieber|Liebes|Servus|Moin|"
    rf"Grüezi|Grüß Gott|Guten\s+(?:Tag|Morgen|Abend)|Dear|Hello)\b)[ \t]*,?[ \t]*({CAP}(?:[ \t]+{CAP}){{0,2}})"
)
# Sign-offs: the name follows on the same line or the next non-empty one.
SIGN_OFF_RE = re.compile(
    rf"\b(?:(?:Mit\s+)?(?:freundlichen|besten|herzlichen|lieben|vielen|schönen)\s+Grüßen|(?:Freundliche|Viele|Beste|"
    rf"Herzliche|Liebe|Schöne|Sonnige)\s+Grüße|Grüße|Gruß|MfG|LG|VG|Vielen\s+Dank(?:\s+im\s+Voraus)?|"
    rf"Danke(?:\s+schön|\s+sehr|\s+im\s+Voraus)?|Best\s+regards|Kind\s+regards|Regards|Thanks|Cheers|"
    rf"Hochachtungsvoll)\b[ \t]*[,.!]?[ \t]*(?:\n[ \t]*){{0,3}}(?:-[ \t]*)?({CAP}(?:[ \t]+{CAP}){{0,2}})"
)
# Strong cues: whatever one to three words follow is a name.
STRONG_CUE_RE = re.compile(
    rf"(?i:\b(?:mein\s+name\s+ist|ich\s+heiße|ich\s+bin|name\s*:|(?:vor-\s+und\s+)?nachname\s*:|vorname\s*:|"
    rf"kundenname\s*:|ansprechpartner(?:in)?\s*:|kontaktperson\s*:|kontakt\s*:|im\s+auftrag\s+von|i\.\s?a\.|"
    rf"z\.\s?hd\.?|zu\s+händen(?:\s+von)?|von\s*:))[ \t]*({CAP}(?:[ \t]+{CAP}){{0,2}})"
)
# An initial before a surname ("A. Wiegemann"); verbs of saying beside a surname ("sagte Richter",
# "so Köhler"), where a surname that is also a noun is a surname.
INITIAL_RE = re.compile(rf"(?<![\w.])[A-ZÄÖÜ]\.[ \t]?({CAP})")
SPEECH_CUE_RE = re.compile(
    rf"\b(?:sagte|sagt|erklärte|erklärt|betonte|meinte|kritisierte|forderte|so)[ \t]+({CAP}(?:[ \t]+{CAP})?)"
)
# A role before a name ("Ministerpräsident Rüttgers", "Trainer Bruchhagen", "Kollegin Schwarz").
ROLE_CUE_RE = re.compile(
    rf"\b[A-ZÄÖÜ]?[a-zäöüß]*(?:[Pp]räsident|[Mm]inister|[Kk]anzler|[Mm]eister|[Tt]rainer|[Ss]precher|[Cc]hef|"
    rf"[Dd]irektor|[Ll]eiter|[Vv]orsitzende|[Aa]utor|[Kk]olleg[ea]|[Aa]nwalt|[Aa]nwältin|[Rr]ichter)(?:in|r)?"
    rf"[ \t]+({CAP}(?:[ \t]+{CAP})?)"
)
# A dash before a name at the end of a text or line ("Bitte um Rückruf. - Anna Weber").
DASH_SIGNATURE_RE = re.compile(rf"[.!?][ \t]+-[ \t]+({CAP}(?:[ \t]+{CAP}){{0,2}})[ \t]*$", re.MULTILINE)
# Prepositions after which a place name is a place ("in Essen", "aus Halle").
PLACE_PREPOSITIONS = frozenset("in aus nach bei von ab bis".split())
MIN_COMPOUND_HEAD = 4  # "Systemzeit" ends in "zeit"; heads shorter than this prove nothing
LONG_COMPOUND_HEAD = 6
# Derivational endings of German common nouns: a word ending so is a noun, whatever list lacks it.
NOUN_ENDINGS = tuple(
    "ung ungen heit heiten keit keiten schaft schaften tion tionen ität itäten ismus ierung ierungen nis nisse "
    "ment ments enz enzen anz anzen ur uren ik iken tät täten sation sationen".split()
)
# Endings of German adjectives, adverbs and verb forms: a sentence's first word ending so is no name.
NOT_NAME_ENDINGS = tuple("e en er es em lich ig isch bar iv nd t st ten tet weise".split())
# Inner capitals: product and company names (ClickUp, GitLab, QuickBooks), not people.
INNER_CAPITAL_RE = re.compile(r"^(?!Mc)[^\W\d_][a-zäöüß]*[A-ZÄÖÜ]")
# An English word this frequent (pyspellchecker's counts, from subtitles) is an everyday word
# ("Customer" 18,618, "Online", "Chrome" 1,737, "Google" 2,012), not a name; rarer ones may be
# names ("Hendrix" 86, "Sullivan" 297, "Miller" 956). 300 instead of 1000 trades 3 points of
# GermEval PERSON recall for 2 of support-text precision (bench/pii_eval_de.py, tuning part).
ENGLISH_EVERYDAY_COUNT = 1000
GERMAN_LISTED_ONLY = 50
# After a product's name: a model or version ("Redis 6.2", "Dell XPS 13", "Cisco IOS"); a phone
# number's long digit groups ("Anna Krüger 0170 2688672") and a year do not count.
MODEL_AFTER_RE = re.compile(r" (?:[A-Z]{2,}\b|\d{1,3}(?:[.,]\d+)*\b(?![ /-]?\d))")  # a year ("Kolb 1986") is no model


@dataclass(frozen=True)
class GermanLexicon:
    """What each capitalised word can be. A word may be in more than one set."""

    common: frozenset[str]  # every form of every common noun
    given: frozenset[str]
    surnames: frozenset[str]
    places: frozenset[str]
    # The nouns list's lemmas as german_addresses reads them (one pass over the file serves both):
    # rows whose part of speech is "Substantiv" alone, "Toponym" rows, and street-name rows.
    noun_lemmas: frozenset[str] = frozenset()
    toponym_lemmas: frozenset[str] = frozenset()
    street_lemmas: frozenset[str] = frozenset()

    def is_name(self, word: str) -> bool:
        return word in self.given or word in self.surnames

    def is_common(self, word: str) -> bool:
        """A common noun, or a compound of one that no list knows as a name or place."""
        if word in self.common:
            return True
        return not (self.is_name(word) or word in self.places) and self.is_compound(word)

    def is_compound(self, word: str) -> bool:
        """A compound noun: a known common noun ends it. A long head is enough
        ("Druckerwarteschlange"); a short one ("-dorf", "-mann", "-witz", which end surnames too) needs
        a common noun before it as well ("Systemzeit", "Sicherheitsteil")."""
        lower = word.lower()
        for cut in range(2, len(word) - MIN_COMPOUND_HEAD + 1):
            head = lower[cut:]
            if head[0].upper() + head[1:] not in self.common:
                continue
            if len(head) >= LONG_COMPOUND_HEAD or self._modifier(word[:cut]):
                return True
        return False

    def _modifier(self, prefix: str) -> bool:
        """The first part of a compound: a common noun, perhaps with a linking -s, -n, -en, -er, -e."""
        for link in ("", "s", "es", "n", "en", "er", "e"):
            if prefix.endswith(link) and len(prefix) - len(link) >= 2:
                stem = prefix[: len(prefix) - len(link)]
                if stem[0].upper() + stem[1:] in self.common:
                    return True
        return False


def _forms(row: list[str]) -> set[str]:
    return {cell for cell in [row[0], *row[7:]] if cell and cell[0].isupper() and " " not in cell}


@functools.cache
def german_lexicon() -> GermanLexicon:
    """Built once per process (about a second); fork-safe, read-only afterwards."""
    common: set[str] = set()
    given: set[str] = set()
    surnames: set[str] = set()
    places: set[str] = set()
    noun_lemmas: set[str] = set()
    toponym_lemmas: set[str] = set()
    street_lemmas: set[str] = set()
    nouns_csv = importlib.resources.files("german_nouns") / "nouns.csv"
    with nouns_csv.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        next(rows)
        for row in rows:
            kinds = set(row[1].split(","))
            forms = _forms(row)
            if "Vorname" in kinds:
                given |= forms
            if "Nachname" in kinds:
                surnames |= forms
            if "Toponym" in kinds:
                places |= forms
            if kinds <= {"Substantiv", "adjektivische Deklination", "Wortverbindung"} and "Substantiv" in kinds:
                common |= forms
            if row[1] == "Substantiv":
                noun_lemmas.add(row[0])
            elif "Toponym" in kinds:
                toponym_lemmas.add(row[0])
            elif "Straßenname" in kinds:
                street_lemmas.add(row[0])
    for locale in NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            given.update(_names(getattr(provider, attribute, ())))
        surnames.update(_names(getattr(provider, "last_names", ())))
    everyday = _everyday_english()
    for locale in WORLD_NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            given.update(n for n in _names(getattr(provider, attribute, ())) if n.lower() not in everyday)
        surnames.update(n for n in _names(getattr(provider, "last_names", ())) if n.lower() not in everyday)
    for locale in PLACE_LOCALES:
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        for attribute in ("cities", "states", "cantons", "countries"):
            places.update(name for value in _names(getattr(provider, attribute, ())) for name in _place_names(value))
    return GermanLexicon(
        frozenset(common),
        frozenset(given),
        frozenset(surnames),
        frozenset(places),
        frozenset(noun_lemmas),
        frozenset(toponym_lemmas),
        frozenset(street_lemmas),
    )


def _everyday_english() -> frozenset[str]:
    """About a thousand of the commonest English words (Faker's en_US lorem list) and stop words."""
    from spacy.lang.en.stop_words import STOP_WORDS

    lorem = importlib.import_module("faker.providers.lorem.en_US").Provider
    return frozenset(w.lower() for w in lorem.word_list) | frozenset(STOP_WORDS)


def _names(values: Iterable[object]) -> list[str]:
    """Faker keeps some lists as dicts of weights; its keys are the names."""
    names = list(values.keys()) if isinstance(values, dict) else list(values)
    return [n for n in names if isinstance(n, str) and n[:1].isupper() and not n.isupper()]


def _place_names(value: str) -> list[str]:
    """A place and, for "Frankfurt am Main" or "Bad Homburg", its one distinctive word too."""
    if " " not in value:
        return [value]
    return [value, *(part for part in value.split() if len(part) > 3 and part[0].isupper())]


def _unknown_name_shape(word: str, alone: bool = True) -> bool:
    """An unknown word that may be a name: no noun ending, no inner capital, no everyday English
    word; standing `alone` (with no name or cue beside it), no word of German's own either."""
    lower = word.lower()
    return (
        len(word) > 2
        and not (len(word) > 5 and lower.endswith(NOUN_ENDINGS))
        and not INNER_CAPITAL_RE.match(word)
        and not _english(lower)
        and not (alone and _german_word(lower))
    )


@functools.cache
def word_counts(language: str) -> dict[str, int]:
    """pyspellchecker's word list for a language (lower case, with counts; MIT): every word it
    knows, so also the adverbs, verbs and adjectives no noun list has ("dennoch", "aktualisieren")."""
    path = importlib.resources.files("spellchecker") / "resources" / f"{language}.json.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
        counts: dict[str, int] = json.load(handle)
    return counts


def _english(lower: str) -> bool:
    """An everyday English word, or the plural of one ("issues", "strategies")."""
    if lower in ENGLISH_STOP_WORDS:
        return True
    counts = word_counts("en")
    forms = [lower]
    if lower.endswith("ies"):
        forms.append(lower[:-3] + "y")
    if lower.endswith("s"):
        forms += [lower[:-1], lower[:-2]]
    return any(counts.get(form, 0) >= ENGLISH_EVERYDAY_COUNT for form in forms)


def _german_word(lower: str) -> bool:
    """A word of German's own (any part of speech), by pyspellchecker's German list. Its rarest
    entries (a count of 50, listed but never counted) hold many names ("stalin", "röttgen"): those
    count only with an ending of a German verb or adjective ("aktualisieren", "wesentlichen")."""
    count = word_counts("de").get(lower, 0)
    return count > GERMAN_LISTED_ONLY or (count > 0 and lower.endswith(NOT_NAME_ENDINGS))


@dataclass
class _Word:
    start: int
    end: int
    text: str
    sentence_start: bool


def _words(text: str) -> list[_Word]:
    words: list[_Word] = []
    for match in WORD_RE.finditer(text):
        before = text[max(0, match.start() - 3) : match.start()]
        words.append(_Word(match.start(), match.end(), match.group(), bool(SENTENCE_END_RE.search(before))))
    return words


def _capitalised(word: str) -> bool:
    return word[0].isupper() and any(ch.islower() for ch in word) and len(word) > 1


def _parts(word: str) -> list[str]:
    return word.split("-")


def _name_word(lexicon: GermanLexicon, word: str) -> bool:
    """A word that may stand in a name: a known name, or a word in no list of common nouns."""
    lower = word.lower()
    if lower in FUNCTION_WORDS or lower in NOT_A_NAME_AFTER_CUE:
        return False
    return all(
        _known(p, lexicon.given)
        or _known(p, lexicon.surnames)
        or _known(p, lexicon.places)
        or (not lexicon.is_common(p) and _unknown_name_shape(p, alone=False))
        for p in _parts(word)
    )


def _cue_spans(text: str, lexicon: GermanLexicon) -> list[Span]:
    """The words after each cue, up to the first that cannot stand in a name. After a strong cue
    (Herr, Frau, "Name:", an initial) any capitalised word but a function word will do; after a
    greeting, sign-off or role only a known name or a word no list calls ordinary."""
    spans: list[Span] = []
    for pattern, strong in ((TITLE_CUE_RE, True), (STRONG_CUE_RE, True), (GREETING_CUE_RE, False),
                            (SIGN_OFF_RE, False), (DASH_SIGNATURE_RE, False), (INITIAL_RE, True),
                            (ROLE_CUE_RE, False)):  # fmt: skip
        for match in pattern.finditer(text):
            start = end = match.start(1)
            for word in re.finditer(r"\S+", match.group(1)):
                value = word.group().rstrip(".,;:!?")
                ok = (
                    _name_word(lexicon, value)
                    if not strong
                    else value.lower() not in FUNCTION_WORDS and value.lower() not in NOT_A_NAME_AFTER_CUE
                )
                if not ok or (not strong and lexicon.is_common(value) and not lexicon.is_name(value) and end == start):
                    break
                end = match.start(1) + word.start() + len(value)
            if end > start:
                spans.append(Span(start, end, "PERSON"))
    return spans


def _known(word: str, names: frozenset[str]) -> bool:
    """In the list, itself or as a genitive ("Irlands", "Merkels")."""
    return word in names or (len(word) > 3 and word[-1] == "s" and word[:-1] in names)


def _in_product_name(text: str, words: list[_Word], index: int) -> bool:
    """An unknown word in a product's or company's name: a model or version after it, or an everyday
    English word that is no German one ("Die" is both) or a word with inner capitals beside it
    ("Google Workspace", "OptiInvest Analytics", "Tech Online Store")."""
    word = words[index]
    if MODEL_AFTER_RE.match(text, word.end):
        return True
    for other in (index - 1, index + 1):
        if not 0 <= other < len(words):
            continue
        neighbour = words[other]
        between = text[min(word.end, neighbour.end) : max(word.start, neighbour.start)]
        if between == " " and _capitalised(neighbour.text):
            lower = neighbour.text.lower()
            if INNER_CAPITAL_RE.match(neighbour.text) or (
                _english(lower) and not _german_word(lower) and lower not in german_stop_words()
            ):
                return True
    return False


def _word_label(
    lexicon: GermanLexicon,
    word: _Word,
    previous: str,
    lowercase: set[str],
    next_is_name: bool = False,
    in_product_name: bool = False,
) -> str | None:
    """What one capitalised word is on its own: "PERSON", "LOCATION", "GIVEN" (a given name, which
    opens a name) or None (a common noun, a function word or anything else)."""
    value = word.text
    parts = _parts(value)
    common = any(lexicon.is_common(p) for p in parts)
    if all(_known(p, lexicon.places) for p in parts) and (not common or previous in PLACE_PREPOSITIONS):
        return "LOCATION"
    if all(_known(p, lexicon.given) for p in parts) and (not common or next_is_name):
        return "GIVEN"
    if all(_known(p, lexicon.surnames) or _known(p, lexicon.given) for p in parts) and not common:
        return None if in_product_name and not next_is_name else "PERSON"
    if (
        not common
        and not any(lexicon.is_name(p) or p in lexicon.places for p in parts)
        and value.lower() not in lowercase  # written in lower case elsewhere: an ordinary word
        and not in_product_name
        # Sentences open with adverbs, verbs and adjectives in capitals; their endings tell most.
        and (
            not word.sentence_start
            or (value.lower() not in german_stop_words() and not value.lower().endswith(NOT_NAME_ENDINGS))
        )
        and _unknown_name_shape(value)
    ):
        return "PERSON"
    return None


@functools.cache
def german_stop_words() -> frozenset[str]:
    """spaCy's German stop words (no model needed): sentence-initial words that are no names."""
    from spacy.lang.de.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) | FUNCTION_WORDS


def german_name_spans(text: str) -> list[Span]:
    """PERSON and LOCATION spans in German text (not merged)."""
    lexicon = german_lexicon()
    spans = _cue_spans(text, lexicon)
    for match in SPEECH_CUE_RE.finditer(text):
        if all(_known(w, lexicon.surnames) or _known(w, lexicon.given) for w in match.group(1).split()):
            spans.append(Span(match.start(1), match.end(1), "PERSON"))
    words = _words(text)
    lowercase = {w.text for w in words if w.text.islower()}
    labels: list[str | None] = []
    for index, word in enumerate(words):
        if not _capitalised(word.text) or word.text.lower() in FUNCTION_WORDS:
            labels.append(None)
            continue
        previous = words[index - 1].text.lower() if index else ""
        following = words[index + 1] if index + 1 < len(words) else None
        next_is_name = (
            following is not None
            and text[word.end : following.start] == " "
            and _capitalised(following.text)
            and (
                _known(following.text, lexicon.surnames)
                or _known(following.text, lexicon.given)
                or (not lexicon.is_common(following.text) and _name_word(lexicon, following.text))
            )
        )
        labels.append(
            _word_label(lexicon, word, previous, lowercase, next_is_name, _in_product_name(text, words, index))
        )
    index = 0
    while index < len(words):
        label = labels[index]
        if label is None:
            index += 1
            continue
        # A name runs over the capitalised words next to it that may stand in a name
        # ("Anna Fischer": a given name makes "Fischer" a surname).
        last = index
        while (
            last + 1 < len(words)
            and last - index < 3
            and text[words[last].end : words[last + 1].start] in (" ", "\t")
            and (
                labels[last + 1] in ("PERSON", "GIVEN")
                or (
                    label != "LOCATION"
                    and _capitalised(words[last + 1].text)
                    and _name_word(lexicon, words[last + 1].text)
                )
            )
        ):
            last += 1
        spans.append(Span(words[index].start, words[last].end, "LOCATION" if label == "LOCATION" else "PERSON"))
        index = last + 1
    return spans


def load_word_lists() -> None:
    """Read pyspellchecker's word lists now (a worker's parent, before it forks)."""
    word_counts("en")
    word_counts("de")
