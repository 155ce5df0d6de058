"""What the language rules cost a worker at start: seconds and resident memory to load the English
model alone, then the whole Redactor (language detector, German word lists, French model).

    .venv/bin/python bench/redactor_load.py

Run in a fresh process each time (the loads are cached per process). Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def main() -> int:
    from app.redaction.redactor import Redactor, load_spacy_model

    started = time.perf_counter()
    english = load_spacy_model()
    english_seconds, english_mb = time.perf_counter() - started, rss_mb()
    started = time.perf_counter()
    Redactor(None)  # what a worker loads: every language's data
    all_seconds, all_mb = time.perf_counter() - started, rss_mb()
    del english
    print(
        json.dumps(
            {
                "english_model_seconds": round(english_seconds, 2),
                "english_model_rss_mb": english_mb,
                "redactor_seconds": round(all_seconds, 2),
                "rss_mb_after_redactor": all_mb,
                "note": "the Redactor loads its own English model too; the difference is the other languages plus it",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
