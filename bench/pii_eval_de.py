"""Score German redaction through `python -m app redact --spans`, as a caller sees it.

    .venv/bin/python bench/pii_eval_de.py [--limit N] [--language-field] [--show-left] [--eval-dir DIR]

Data (bench/de_pii_data.py): German support texts, the German Tobi-Bueck tickets and their
answers with the anonymisation placeholders filled by generated names, phone numbers, IBANs and
e-mails in exact spans; German tickets with no placeholder (no personal data); GermEval 2014's
development sentences with PER -> PERSON and LOC -> LOCATION spans. Every set is split 70/30 by
a stable hash into a tuning part and a HELD-OUT part, reported side by side: only the tuning part
may be looked at while rules are tuned.

Every text goes through `python -m app redact --spans` (one process a data set, JSON lines in
and out), scored with bench/pii_eval.py's definitions, the same as the English figures:
- recall per type: span level, a gold span counts as found when at least half of its non-space
  characters are covered by predicted spans of any label;
- precision: character level, predicted non-space characters inside any annotated span, over all
  predicted non-space characters (GermEval: any entity, outer or inner, of any type, ORG and OTH
  and *deriv/*part included, as a redacted city annotated as GPE is no false alarm in the English
  figures; `precision_per_loc` counts only the PER and LOC spans);
- F2 from micro recall and that precision;
- left: gold e-mails and IBANs with any letter or digit left visible;
- the share of non-space characters redacted in German tickets with no personal data (and, for
  comparison, in 500 English support tickets);
- ms per text of the command, the same process's start-up (a run on empty input) subtracted, for
  the German sets, 500 English support tickets and the 113 French tickets five times over (their
  language detected, so routed to the French model).

`--limit N` takes at most N texts of each part of each set (a fixed hash order, so the same
ones each time; 0 for all); the default keeps a run to about two minutes on two cores.
`--language-field` sends `"language": "de"` with each German line (as a caller that knows the
language may); without it the command decides. The last line is one JSON object of the headline
figures.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import de_pii_data as data
from pii_eval import (
    Record,
    Score,
    Spans,
    cli_redact,
    cli_start_up,
    load_tickets,
    print_table,
    redaction_rate,
)

DEFAULT_LIMIT = 500
FRENCH_REPEATS = 5
NEVER_LEFT_DE = frozenset({"EMAIL_ADDRESS", "IBAN_CODE"})
PARTS = ("tuning", "held_out")

T = TypeVar("T")


def sample(items: Sequence[T], key: Callable[[T], str], limit: int) -> list[T]:
    """At most `limit` items (all for 0), the same ones each run: the first in a hash order."""
    ordered = sorted(items, key=lambda item: hashlib.sha256(f"sample:{key(item)}".encode()).hexdigest())
    return ordered[:limit] if limit else ordered


class Runs:
    """Texts through the command, one process a set; spans by text and each set's ms per text."""

    def __init__(self, language: str | None) -> None:
        self.language = language
        self.start_up = cli_start_up()
        self.spans: dict[str, Spans] = {}
        self.ms: dict[str, float] = {}

    def run(self, name: str, texts: list[str], language: str | None = None) -> None:
        spans, seconds = cli_redact(texts, language)
        self.spans.update(zip(texts, spans))
        self.ms[name] = round(1000 * max(0.0, seconds - self.start_up) / max(1, len(texts)), 3)

    def detect(self, text: str) -> Spans:
        return self.spans[text]


def french_tickets(eval_dir: Path) -> list[str]:
    """The French Tobi-Bueck tickets (subject and body, as the fleet joins them), each once."""
    texts: dict[str, None] = {}
    for name in data.TICKET_FILES:
        with (eval_dir / name).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("language") == "fr" and row.get("body"):
                    texts[data.clean(f"{row.get('subject') or ''}\n\n{row['body']}")] = None
    return list(texts)


def score(records: list[Record], detect: Callable[[str], Spans], ms: float) -> tuple[dict, list[str]]:
    result = Score(never_left=NEVER_LEFT_DE)
    for record in records:
        result.add(record, detect(record.text))
    summary = result.summary()
    summary["ms_per_record"] = ms
    return summary, result.left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=data.DEFAULT_EVAL_DIR)
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="texts per part of each set (0: all)")
    parser.add_argument("--language-field", action="store_true", help='send "language": "de" with German lines')
    parser.add_argument("--show-left", action="store_true", help="print each e-mail or IBAN left visible")
    args = parser.parse_args(argv)
    language = "de" if args.language_field else None

    corpus = data.support_corpus(args.eval_dir)
    sentences = data.germeval(args.eval_dir)
    part = {False: "tuning", True: "held_out"}
    support = {
        p: sample([t for t in corpus.with_pii if part[t.held_out] == p], lambda t: t.key, args.limit) for p in PARTS
    }
    clean = {
        p: sample([t for t in corpus.without_pii if part[t.held_out] == p], lambda t: t.key, args.limit) for p in PARTS
    }
    news = {p: sample([s for s in sentences if part[s.held_out] == p], lambda s: s.text, args.limit) for p in PARTS}
    english = load_tickets(args.eval_dir / "tobibueck_multilang_4-20k_first2181.csv")
    french = french_tickets(args.eval_dir)

    runs = Runs(language)
    tickets = [t.text for p in PARTS for t in support[p] + clean[p] if t.source == "ticket"]
    answers = [t.text for p in PARTS for t in support[p] if t.source == "answer"]
    runs.run("german_tickets", tickets, language)
    runs.run("german_answers", answers, language)
    runs.run("germeval", [s.text for p in PARTS for s in news[p]], language)
    runs.run("english_tickets", english)
    # Five times over: 113 tickets are too little work to stand out from the start-up's noise.
    runs.run("french_tickets", french * FRENCH_REPEATS)
    support_ms = round(
        (runs.ms["german_tickets"] * len(tickets) + runs.ms["german_answers"] * len(answers))
        / max(1, len(tickets) + len(answers)),
        3,
    )

    support_scores, news_scores, strict_precision, left = {}, {}, {}, {}
    for p in PARTS:
        records = [Record(t.text, t.spans, [(s, e) for s, e, _ in t.spans]) for t in support[p]]
        support_scores[p], left[p] = score(records, runs.detect, support_ms)
        news_records = [Record(s.text, s.gold, s.annotated) for s in news[p]]
        news_scores[p], _ = score(news_records, runs.detect, runs.ms["germeval"])
        strict = [Record(s.text, s.gold, [(a, b) for a, b, _ in s.gold]) for s in news[p]]
        strict_precision[p] = score(strict, runs.detect, 0.0)[0]["precision"]
    no_pii = {p: redaction_rate(runs.detect, [t.text for t in clean[p]]) for p in PARTS}
    english_share = redaction_rate(runs.detect, english)

    print_table("German support texts (placeholders filled; recall per span, precision per character)", support_scores)
    print_table("GermEval 2014 dev sentences (PER -> PERSON, LOC -> LOCATION)", news_scores)
    print(f"  {'precision_per_loc':<22}" + "".join(f"{strict_precision[p]:>12}" for p in PARTS))
    print(
        "\nshare of characters redacted in German tickets without personal data: "
        + ", ".join(f"{p} {no_pii[p]}% ({len(clean[p])} tickets)" for p in PARTS)
        + f"; English support tickets {english_share}% ({len(english)})"
    )
    print(
        f"python -m app redact --spans, start-up excluded: {runs.ms['german_tickets']} ms per German ticket "
        f"({len(tickets)}), {runs.ms['german_answers']} per German answer ({len(answers)}), "
        f"{runs.ms['germeval']} per GermEval sentence, "
        f"{runs.ms['english_tickets']} per English ticket ({len(english)}), "
        f"{runs.ms['french_tickets']} per French ticket ({len(french)} x {FRENCH_REPEATS}, language detected)"
    )
    print("e-mails or IBANs left visible: " + ", ".join(f"{p} {len(left[p])}" for p in PARTS))
    if args.show_left:
        for p in PARTS:
            for leak in left[p]:
                print(f"  {p}: {leak}")
    print(f"placeholders not filled (texts left out): {corpus.dropped}")

    def support_figures(p: str) -> dict:
        s = support_scores[p]
        keys = ("f2", "precision", "recall", "per_type_recall", "per_type_count", "left", "records")
        return {k: s[k] for k in keys}

    def news_figures(p: str) -> dict:
        s = news_scores[p]
        return {
            "person_recall": s["per_type_recall"].get("PERSON", 0.0),
            "location_recall": s["per_type_recall"].get("LOCATION", 0.0),
            "precision": s["precision"],
            "precision_per_loc": strict_precision[p],
            "records": s["records"],
        }

    print(
        json.dumps(
            {
                "support": {p: support_figures(p) for p in PARTS},
                "germeval": {p: news_figures(p) for p in PARTS},
                "no_pii_redacted_percent": no_pii,
                "english_tickets_redacted_percent": english_share,
                "ms_per_german_ticket": runs.ms["german_tickets"],
                "ms_per_english_ticket": runs.ms["english_tickets"],
                "ms_per_french_ticket": runs.ms["french_tickets"],
                "ms_per": runs.ms,
                "emails_or_ibans_left": {p: len(left[p]) for p in PARTS},
                "limit": args.limit,
                "language_field": language,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
