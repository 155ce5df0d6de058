"""German identifier and address recognizers on German support texts: cost, over-redaction, phones.

    .venv/bin/python bench/german_patterns_eval.py [--held-out] [--eval-dir DIR]

Data (bench/de_pii_data.py): German Tobi-Bueck tickets with their placeholders filled, and the
German tickets with no placeholder (no personal data). The tuning part unless `--held-out`.
Prints, for `german_ids.german_identifier_spans` + `german_addresses.german_address_spans`:
- ms per text of both together (word lists loaded beforehand, as a worker does once);
- non-space characters they flag in tickets with no personal data, as a share, with each finding;
- phone recall on the filled tickets (a gold number counts when half its characters are covered),
  beside the English finder `patterns.phone_spans`, and what each flags outside the gold spans.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import de_pii_data as data  # noqa: E402

from app.redaction.german_addresses import address_lexicon, german_address_spans  # noqa: E402
from app.redaction.german_ids import german_identifier_spans, german_phone_spans  # noqa: E402
from app.redaction.patterns import phone_spans  # noqa: E402
from app.redaction.spans import Span  # noqa: E402


def german_pattern_spans(text: str) -> list[Span]:
    return german_identifier_spans(text) + german_address_spans(text)


def non_space(text: str) -> int:
    return sum(not char.isspace() for char in text)


def covered(text: str, spans: list[Span]) -> int:
    marked = set()
    for span in spans:
        marked.update(i for i in range(span.start, span.end) if not text[i].isspace())
    return len(marked)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", action="store_true", help="score the held-out part instead of the tuning part")
    parser.add_argument("--eval-dir", type=Path, default=data.DEFAULT_EVAL_DIR)
    args = parser.parse_args(argv)
    corpus = data.support_corpus(args.eval_dir)
    part = "held-out" if args.held_out else "tuning"
    without = [t for t in corpus.without_pii if t.held_out == args.held_out]
    with_pii = [t for t in corpus.with_pii if t.held_out == args.held_out]

    address_lexicon()
    texts = [t.text for t in without + with_pii]
    started = time.perf_counter()
    for text in texts:
        german_pattern_spans(text)
    ms = (time.perf_counter() - started) * 1000 / len(texts)
    print(f"{part}: {len(texts)} German texts, {ms:.3f} ms per text (identifiers + addresses)")

    flagged = total = 0
    for gold in without:
        spans = german_pattern_spans(gold.text)
        flagged += covered(gold.text, spans)
        total += non_space(gold.text)
        for span in spans:
            print(f"  flagged {span.label}: {gold.text[span.start : span.end]!r}")
    print(f"tickets without personal data: {len(without)}, {flagged} of {total} characters flagged "
          f"({100 * flagged / total:.3f}%)")  # fmt: skip

    for name, finder in (("german_phone_spans", german_phone_spans), ("patterns.phone_spans", phone_spans)):
        found = count = extra = 0
        for gold in with_pii + without:
            spans = finder(gold.text)
            phones = [(start, end) for start, end, label in gold.spans if label == "PHONE_NUMBER"]
            for start, end in phones:
                count += 1
                found += 2 * covered(gold.text, [Span(max(s.start, start), min(s.end, end), "") for s in spans]) >= (
                    non_space(gold.text[start:end])
                )
            extra += sum(
                covered(gold.text, [s])
                for s in spans
                if not any(s.start < end and start < s.end for start, end, _ in gold.spans)
            )
        print(
            f"{name}: phone recall {found}/{count} = {found / count:.4f}, characters flagged outside gold spans {extra}"
        )


if __name__ == "__main__":
    main()
