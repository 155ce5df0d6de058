"""German, Austrian and Swiss addresses: street + house number, post code (PLZ) + city, and the
whole "street, PLZ city" block when they stand together.

Every German noun is capitalised, so neither a capital letter nor a number decides. A regular
expression proposes a street or a "number + word"; what decides is a street word at the end of
the name (Hauptstraße, Lindenweg, Berliner Allee), a gazetteer of cities, or the word not being a
common German noun. "5000 Nutzer", "2024 Update", "10 Minuten", "Arbeitsplatz 3", "Im Kapitel 2"
stay.

Word lists, loaded once (`address_lexicon`), nothing downloaded:
- cities: Faker's de_DE, de_AT and de_CH address providers (MIT,
  https://github.com/joke2k/faker/tree/master/faker/providers/address);
- German nouns: the `german_nouns` package's nouns.csv (CC BY-SA 4.0, from Wiktionary,
  https://github.com/gambolputty/german-nouns): rows whose `pos` holds "Toponym" are places,
  "Straßenname" streets, and rows whose `pos` is plain "Substantiv" are common nouns.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from app.redaction.german import german_lexicon
from app.redaction.spans import Span

# --- word lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressLexicon:
    common_nouns: frozenset[str]  # lemmas whose only part of speech is "Substantiv"
    places: frozenset[str]  # Faker's cities and the nouns list's toponyms, full names ("Frankfurt am Main")
    ambiguous_places: frozenset[str]  # places that are common nouns too (Essen, Halle, Hof)
    streets: frozenset[str]  # the nouns list's street names (Kurfürstendamm, Marktplatz)


@functools.cache
def address_lexicon() -> AddressLexicon:
    """The word lists this module decides by, once per process: the nouns list's lemmas come from
    german.german_lexicon's one pass over the file."""
    from faker.providers.address import de_AT, de_CH, de_DE

    nouns = german_lexicon()
    common, places = nouns.noun_lemmas, set(nouns.toponym_lemmas)
    for provider in (de_DE.Provider, de_AT.Provider, de_CH.Provider):
        places.update(city for city in provider.cities if not city[-1].isdigit())
    return AddressLexicon(common, frozenset(places), frozenset(places & common), nouns.street_lemmas)


# --- streets ------------------------------------------------------------------------------------------
# Street words that end a compound name (Hauptstraße, Hauptstr., Bahnhofstrasse, Kurfürstendamm)
# mark a street on their own. The weak ones also end ordinary nouns (Arbeitsplatz, Rückweg, Bahnsteig,
# Monitoring, Supermarkt): a compound ending in one counts only when the nouns list does not hold it
# as a common noun, or when a post code follows.
STRONG_SUFFIXES = ("straße", "strasse", "str.", "str", "allee", "gasse", "damm", "chaussee", "promenade", "ufer")
WEAK_SUFFIXES = ("platz", "weg", "ring", "steig", "stieg", "pfad", "markt", "graben", "kai", "wall", "twiete")
SUFFIXES = "|".join(re.escape(s) for s in sorted(STRONG_SUFFIXES + WEAK_SUFFIXES, key=len, reverse=True))
# An abstract noun (-ung, -heit, -keit, -ion, -tät, -schaft, with or without the linking s) before a
# weak street word.
ABSTRACT_FIRST_PART_RE = re.compile(r"(?:ung|heit|keit|ion|tät|schaft)s?(?:" + "|".join(WEAK_SUFFIXES) + r")$")
CAPITAL = "A-ZÄÖÜ"
LOWER = "a-zäöüß"
# A name part before a hyphen: Max-Planck-, Konrad-Adenauer-, Goethe-, St.-
NAME_PART = rf"[{CAPITAL}][\w]*\.?-"
# Ordinal and determiner words never start a street name ("Jeder Weg", "Erster Platz").
NOT_ADJECTIVE = (
    r"(?!(?:Der|Die|Das|Dieser|Diese|Dieses|Jeder|Jede|Jedes|Erster|Erste|Ersten|Zweiter|Zweite|Dritter|Dritte|"
)
NOT_ADJECTIVE += (
    r"Nächster|Nächste|Letzter|Letzte|Anderer|Andere|Einer|Eine|Keiner|Meiner|Unserer|Ihrer|Neuer Ansatz)\b)"
)
HOUSE_NUMBER = r"(?P<house>\d{1,4}[a-zA-Z]?(?: ?[-/–] ?\d{1,4}[a-zA-Z]?)?)(?![\w/-]|[.,:]\d)"
STREET_RE = re.compile(
    r"(?<![\w-])(?P<name>"
    rf"(?:{NAME_PART})*[{CAPITAL}][{LOWER}]*?(?:{SUFFIXES})"  # Hauptstraße, Max-Planck-Str.
    rf"|(?:{NAME_PART})+(?i:{SUFFIXES})"  # Goethe-Platz, Konrad-Adenauer-Straße
    rf"|{NOT_ADJECTIVE}[{CAPITAL}][{LOWER}]+(?:er|e|es|en) (?:Straße|Strasse|Str\.?|Allee|Gasse|Damm|Chaussee|"
    r"Promenade|Ufer|Platz|Weg|Ring|Steig|Markt|Graben|Kai|Wall)"  # Berliner Allee, Neuer Weg
    r")\.? {0,2}" + HOUSE_NUMBER
)
# "Am Markt 3", "An der Alster 40", "Zur Alten Mühle 1", "Unter den Linden 77": the name after the
# preposition must be a place or street the nouns list knows, or one of these nouns streets are
# named after; "Im Kapitel 2", "Am Montag 5", "In der Version 3" stay.
PREPOSITION_STREET_RE = re.compile(
    r"(?<![\w-])(?P<preposition>Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Zum|Zur|Unter den|Hinter dem|"
    rf"Hinter der|Vor dem|Beim|Bei der) (?P<adjective>[{CAPITAL}][{LOWER}]+(?:e|en|er) )?(?P<name>[{CAPITAL}][\w-]+) "
    + HOUSE_NUMBER
)
# Not Feld, Kanal, Tor or Winkel: "Im Feld 3", "Im Kanal 5", "Winkel 45" are a form, a TV set, geometry.
STREET_NOUNS = frozenset(
    "Anger Bach Berg Birken Brink Brunnen Burg Deich Dorfplatz Eichen Friedhof Garten Gärten Graben Hafen Hag "
    "Hain Hang Heide Hof Höfen Holz Hügel Kamp Kirche Kirchberg Kreuz Linden Markt Marktplatz Mühle Mühlbach "
    "Park Rain Rathaus Ring Sand Schloss Schlossberg See Sportplatz Stadtpark Steinweg Turm Wall Wald Weiden "
    "Weiher Weinberg Wiese Wiesen Bahnhof Hauptbahnhof".split()
)
# A place after these names a street along a river or a hill (An der Alster, Am Rhein); after
# "Im" or "In der" it is as likely a product ("In der Java 17 Umgebung").
PLACE_STREET_PREPOSITIONS = ("Am", "An der", "An den", "Auf dem", "Auf der")
YEAR_RE = re.compile(r"(?:19|20)\d\d")
VOWELS = "aeiouäöü"


@dataclass(frozen=True)
class _Street:
    start: int
    end: int
    certain: bool  # a street by its own evidence; otherwise only when a post code follows


def _street_candidates(text: str, lexicon: AddressLexicon) -> list[_Street]:
    found = []
    for match in STREET_RE.finditer(text):
        if YEAR_RE.fullmatch(match.group("house")):
            continue
        name = match.group("name")
        last = name.rsplit("-", 1)[-1].rsplit(" ", 1)[-1].rstrip(".")
        lowered = last.lower()
        weak = lowered.endswith(WEAK_SUFFIXES)
        if lowered.endswith(("ufer", "ring")) and len(lowered) > 4 and lowered[-5] in VOWELS:
            continue  # Käufer and Läufer hold no Ufer, Monitoring and Clustering no Ring
        common = weak and "-" not in name and " " not in name and name in lexicon.common_nouns
        if weak and ABSTRACT_FIRST_PART_RE.search(name):
            continue  # Lösungsweg, Installationspfad: streets are not named after abstract nouns
        certain = not common or name in lexicon.streets
        found.append(_Street(match.start(), match.end(), certain))
    for match in PREPOSITION_STREET_RE.finditer(text):
        if YEAR_RE.fullmatch(match.group("house")):
            continue
        name = match.group("name")
        known = (
            name in STREET_NOUNS
            or (name in lexicon.places and match.group("preposition") in PLACE_STREET_PREPOSITIONS)
            or name in lexicon.streets
            or match.group()[: match.start("house") - match.start()].strip() in lexicon.streets
        )
        found.append(_Street(match.start(), match.end(), known))
    return found


# --- post code + city ----------------------------------------------------------------------------------
# A German PLZ has five digits (01001-99998), an Austrian or Swiss one four; "D-", "A-", "CH-" (and
# "DE-", "AT-") may lead. The city is one capitalised word, "Bad"/"St."/"Sankt" and a word, and a
# tail such as "am Main", "an der Donau" or "(Saale)".
POSTCODE_RE = re.compile(
    r"(?<![\w.,/+-])(?:(?P<country>D|DE|A|AT|CH)-)?(?P<code>\d{4,5}) "
    rf"(?P<city>(?:(?:Bad|St\.|Sankt) )?[{CAPITAL}][\w'-]*)"
    rf"(?P<tail> (?:am|an der|an den|im|in|ob der|bei|vor der|vorm) [{CAPITAL}][\w-]*| ?\([{CAPITAL}][\w -]*\))?"
    r"(?![\w-])"
)
# Places are named after their setting; a word ending so is a place when no common noun
# (Garching is in no list; Hausen, Kirchheim, Musterdorf, Neustadt, ...).
PLACE_SUFFIXES = (
    "hausen", "heim", "dorf", "burg", "stadt", "feld", "felde", "bach", "berg", "hofen", "ingen", "rode", "stedt",
    "leben", "born", "brück", "brücken", "furt", "hagen", "horst", "kirchen", "münster", "walde", "weiler", "zell",
    "ow", "itz", "witz", "au",
)  # fmt: skip
COUNTRY_DIGITS = {"D": 5, "DE": 5, "A": 4, "AT": 4, "CH": 4}
CITY_END_RE = re.compile(r"[ \t]*(?:$|[\r\n,;)]|\.(?!\w))")
PLACE_PREPOSITION_RE = re.compile(r"\b(?:in|nach|aus)\s+$")
ADDRESS_GAP_RE = re.compile(r"[ \t]*(?:,[ \t]*|\r?\n[ \t]*)?")


def _city_decided(match: re.Match[str], lexicon: AddressLexicon, after_street: bool, line_start: bool) -> bool:
    """Whether the word after a number names a city (see the module docstring)."""
    code, city, tail, country = match.group("code"), match.group("city"), match.group("tail"), match.group("country")
    if country and COUNTRY_DIGITS[country] != len(code):
        return False
    if len(code) == 5 and code.startswith("00"):
        return False
    known = city in lexicon.places or bool(tail and f"{city}{tail}" in lexicon.places)
    common = city in lexicon.common_nouns and city not in lexicon.places
    if country or after_street:
        return not common
    if len(code) == 5:
        if city in lexicon.ambiguous_places and not tail:
            # Essen, Halle, Hagen, but also Regen, Steuer, Split: a place when the line or clause
            # ends there or a preposition leads ("in 45127 Essen"), not in "10000 Steuer zahlen".
            return bool(
                CITY_END_RE.match(match.string, match.end())
                or PLACE_PREPOSITION_RE.search(match.string, max(0, match.start() - 8), match.start())
            )
        return known or (not common and city.lower().endswith(PLACE_SUFFIXES))
    # Four digits alone: a city that is no common noun (1010 Wien, 8001 Zürich), and a number that
    # could be a year only at the start of a line ("2024 Berlin" in a sentence is no address).
    if YEAR_RE.fullmatch(code) and not line_start:
        return False
    return known and city not in lexicon.ambiguous_places


def _tail_end(match: re.Match[str], lexicon: AddressLexicon) -> int:
    """Where the city ends: its tail ("am Main") only when the tail's word is no common noun."""
    tail = match.group("tail")
    if not tail:
        return match.end("city")
    word = tail.strip(" ()").split(" ")[-1]
    if f"{match.group('city')}{tail}" in lexicon.places or word not in lexicon.common_nouns:
        return match.end("tail")
    return match.end("city")


def german_address_spans(text: str) -> list[Span]:
    """Streets with house numbers and post codes with cities; a street and the post code that
    follows it (after a comma or a line break) become one STREET_ADDRESS span."""
    if not any(char.isdigit() for char in text):
        return []
    lexicon = address_lexicon()
    streets = _street_candidates(text, lexicon)
    street_before: dict[int, _Street] = {}  # where a post code right after a street would start
    for street in streets:
        gap = ADDRESS_GAP_RE.match(text, street.end)
        street_before[gap.end() if gap else street.end] = street
    spans: list[Span] = []
    joined: set[_Street] = set()
    for match in POSTCODE_RE.finditer(text):
        before = street_before.get(match.start())
        line_start = not text[text.rfind("\n", 0, match.start()) + 1 : match.start()].strip()
        if not _city_decided(match, lexicon, before is not None, line_start):
            continue
        end = _tail_end(match, lexicon)
        if before is not None:
            joined.add(before)
            spans.append(Span(before.start, end, "STREET_ADDRESS"))
        else:
            spans.append(Span(match.start(), end, "STREET_ADDRESS"))
    spans.extend(Span(s.start, s.end, "STREET_ADDRESS") for s in streets if s.certain and s not in joined)
    return sorted(set(spans))
