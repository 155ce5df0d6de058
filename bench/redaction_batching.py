"""CPU per ticket of spaCy over generated tickets, one call each against nlp.pipe in chunks:
the figures behind REDACT_CHUNK (workers/redact.py) and Redactor.redact_tickets.

    .venv/bin/python bench/redaction_batching.py [--tickets 400]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.redaction.redactor import TICKET_SEPARATOR, load_spacy_model, mask_markup
from sim.ticketgen import generate_ticket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=400)
    args = parser.parse_args()
    nlp = load_spacy_model()
    rng = random.Random(1)
    texts = [
        mask_markup(f"{t.subject}{TICKET_SEPARATOR}{t.description}")
        for t in (generate_ticket(rng) for _ in range(args.tickets))
    ]
    list(nlp.pipe(texts[:50]))  # warm up
    single = None
    headline: dict[str, float] = {}
    for size in (1, 5, 10, 20, 50, 100):
        started = time.process_time()
        for start in range(0, len(texts), size):
            chunk = texts[start : start + size]
            if size == 1:
                nlp(chunk[0])
            else:
                list(nlp.pipe(chunk, batch_size=size))
        per_ticket = (time.process_time() - started) / len(texts) * 1000
        single = single or per_ticket
        print(f"chunk {size:3d}: {per_ticket:6.2f} ms CPU per ticket  ({per_ticket / single:.2f} of one call each)")
        headline[f"ms_per_ticket_chunk_{size}"] = round(per_ticket, 2)
    headline["chunk_20_vs_single"] = round(headline["ms_per_ticket_chunk_20"] / headline["ms_per_ticket_chunk_1"], 3)
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
