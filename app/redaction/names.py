"""People's names and places, from one spaCy pass plus rules for what the small model misses.

en_core_web_sm tags only about two thirds of the names in support-style text as PERSON. The rest
are mostly (a) tagged ORG, (b) proper nouns it leaves unlabelled (single first names, foreign
names, names in lists), or (c) names after a cue (`Hi Telani,`, `Name: Pouran`, `my name is
rubija`). Each gets a rule here; `bench/pii_eval.py` measures what each is worth.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.redaction.spans import Span

if TYPE_CHECKING:
    from spacy.tokens import Token

# HTML tags glue words together for the tokenizer ("Tochukwu</p><p"); blank them out, keeping
# every offset, before the text goes to spaCy.
MARKUP_RE = re.compile(r"<[^<>\n]{1,200}>|&[a-z]{2,8};|&#\d{1,6};")

ORG_WORDS = frozenset(
    "inc llc ltd corp corporation company co group bank university services service solutions systems "
    "technologies technology partners foundation institute association hospital school college agency "
    "department team support software labs media international holdings consulting club center centre "
    "network store shop app platform cloud api gmbh ag sa bv plc limited trust fund capital ventures "
    "studio studios games records press news times journal airlines airways motors insurance".split()
)
# Title-case words that open sentences, sign letters or name products in tickets; never a name
# on their own.
NOT_NAMES = frozenset(
    "hi hello hey dear thanks thank regards please team support customer customers order account monday "
    "tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december i we you the a an ok okay yes no subject re fw fwd best kind "
    "sincerely cheers mr mrs ms dr sir madam respected greetings urgent important note question help "
    "cloud online smart studio server service services platform storage functions central component hub "
    "link wave aim learn books analytics endpoint laptop mini app portal dashboard admin manager pro plus "
    "premium enterprise business suite office desktop mobile web data billing invoice product update error "
    "issue problem request ticket settings system network security software hardware device version "
    "windows mac linux email password login user users client server database api sdk ios android "
    "internet wifi router printer phone camera display screen keyboard mouse battery".split()
)
TITLE_CASE_RE = re.compile(r"^[^\W\d_a-zß-ÿ][a-zß-ÿ]+(?:[-'’][^\W\d_][a-zß-ÿ]+)?$")
NAME_WORD = r"[^\W\d_][\w'’-]*"
# Cues after which the next one to three words are a name, in any case.
STRONG_CUE_RE = re.compile(
    rf"(?i)\b(?:my name is|name\s*:|names?\s+are|calls? me|called|named|signed by|"
    rf"(?:client|customer|patient|applicant|borrower|trustee|recordee|instructor|educator|counselor|"
    rf"contact|attn|attention|requester|reporter|agent|user|employee|owner)\s*:)\s*({NAME_WORD}(?:\s+{NAME_WORD}){{0,2}})"
)
# Words that follow a cue in tickets but never start or continue the name ("call me at 555-...",
# "call me back", "named in the invoice"): without them the cue took "at" for a name. Short common
# words only, none of them a given name (no "will", "may", "bill", "june").
NOT_AFTER_CUE = frozenset(
    "at on in by from to for with about after before between via over through around during within "
    "back again asap anytime any whenever when if once as so and or but because than then "
    "now later soon today tomorrow tonight yesterday directly instead please urgently right immediately "
    "here there this that these those the a an my your our their his her its it me you us them him "
    "is was are be been not no yes".split()
)
# Greetings and sign-offs: the next capitalised words are a name.
GREETING_RE = re.compile(
    r"(?:\b(?:[Hh]i|[Hh]ello|[Hh]ey|[Dd]ear|[Tt]hanks|[Tt]hank you|[Rr]egards|[Ss]incerely|[Cc]heers|[Bb]est)"
    r"|\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?)[ ,]+((?:[^\W\d_a-z][\w'’-]*)(?:\s+[^\W\d_a-z][\w'’-]*){0,2})"
)
NON_PERSON_ENTITIES = frozenset(
    {
        "DATE",
        "TIME",
        "MONEY",
        "PERCENT",
        "QUANTITY",
        "CARDINAL",
        "ORDINAL",
        "GPE",
        "LOC",
        "FAC",
        "LAW",
        "LANGUAGE",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
    }
)
LOCATION_ENTITIES = frozenset({"GPE", "LOC", "FAC"})


def mask_markup(text: str) -> str:
    """The text with markup replaced by spaces of the same length."""
    return MARKUP_RE.sub(lambda m: " " * len(m.group()), text)


def _name_like_org(entity: Any) -> bool:
    words = [t for t in entity if not t.is_punct]
    return (
        1 <= len(words) <= 3
        and all(TITLE_CASE_RE.match(t.text) for t in words)
        and not any(t.lower_ in ORG_WORDS or t.lower_ in NOT_NAMES for t in words)
    )


def _title_lines(text: str) -> list[tuple[int, int]]:
    """Lines written in Title Case (subjects, headings), where capitals say nothing about names."""
    lines, position = [], 0
    for line in text.split("\n"):
        words = re.findall(r"[^\W\d_][\w'’-]*", line)
        # Lists of names ("Kónya, Becker and Vasquez", "Name: Sieda Batukayev") have commas or
        # colons; subjects and headings do not.
        if (
            len(words) >= 4
            and not any(mark in line for mark in ",:;")
            and sum(w[0].isupper() for w in words) >= 0.7 * len(words)
        ):
            lines.append((position, position + len(line)))
        position += len(line) + 1
    return lines


def _proper_noun_runs(doc: Any, text: str, lowercase_words: set[str]) -> list[Span]:
    """Runs of title-case proper nouns (tagger NNP/NNPS) that nothing else claimed, outside
    Title Case lines; gerunds and two-letter pieces (Wi-Fi) are not names."""
    title_lines = _title_lines(text)
    spans: list[Span] = []
    run: list[Token] = []

    def flush() -> None:
        if run:
            spans.append(Span(run[0].idx, run[-1].idx + len(run[-1]), "PERSON"))
            run.clear()

    for token in doc:
        if (
            token.tag_ in ("NNP", "NNPS")
            and TITLE_CASE_RE.match(token.text)
            and token.lower_ not in NOT_NAMES
            and token.lower_ not in lowercase_words  # used as a common word elsewhere in the text
            and token.ent_type_ not in NON_PERSON_ENTITIES
            and len(token) > 2
            and not token.lower_.endswith("ing")
            and not any(start <= token.idx < end for start, end in title_lines)
        ):
            run.append(token)
        else:
            flush()
    flush()
    return spans


def _cue_spans(text: str) -> list[Span]:
    spans = []
    for regex in (STRONG_CUE_RE, GREETING_RE):
        for match in regex.finditer(text):
            words = match.group(1).split()
            kept: list[str] = []
            for word in words:  # stop at the first word that is clearly not part of the name
                bare = word.lower().strip("'’-")
                if bare in NOT_NAMES or bare in NOT_AFTER_CUE or (kept and word[:1].islower() and regex is GREETING_RE):
                    break
                kept.append(word)
            if kept:
                start = match.start(1)
                spans.append(Span(start, start + len(" ".join(kept)), "PERSON"))
    return spans


def person_and_location_spans(doc: Any, text: str) -> list[Span]:
    """PERSON and LOCATION spans from a spaCy doc of `mask_markup(text)` and from cue rules."""
    spans = []
    for entity in doc.ents:
        if entity.label_ == "PERSON" or (entity.label_ == "ORG" and _name_like_org(entity)):
            spans.append(Span(entity.start_char, entity.end_char, "PERSON"))
        elif entity.label_ in LOCATION_ENTITIES:
            spans.append(Span(entity.start_char, entity.end_char, "LOCATION"))
    lowercase_words = set(re.findall(r"\b[a-z][a-z'-]+\b", text))
    spans += _proper_noun_runs(doc, text, lowercase_words)
    spans += _cue_spans(text)
    return spans
