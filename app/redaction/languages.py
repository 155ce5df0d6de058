"""Which language a ticket is written in: "en", "de", "fr" or "other" (redacted by English rules).

py3langid (BSD, a maintained fork of langid.py) decides: its model ships inside the wheel (nothing
downloads), it loads in half a second and classifies a ticket in about 0.3 ms, and on the public
tickets in `../shared/eval` it agrees with every German, French and English label that matches
the text (the 361 "German" rows it calls English are English text). lingua is more accurate on
very short texts but ten times the size and slower; fastText-based detectors need a model file.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Literal

Language = Literal["en", "de", "fr", "other"]
LANGUAGES: tuple[Language, ...] = ("en", "de", "fr", "other")
SUPPORTED = frozenset({"en", "de", "fr"})
# Below this many letters a text says too little about its language; English rules apply.
MIN_LETTERS = 12
# German or French rules only when the detector is this sure: a name-and-address record ("Marta
# Palermo, Pohlstrasse 9, Börßum") reads as German at 0.05, and no record of the English benchmark
# (bench/pii_eval.py) reads as German or French above 0.49; all but 14 of GermEval's 2,200 German
# sentences read so above 0.6, and German tickets at 0.99 and more.
MIN_CONFIDENCE = 0.6
_lock = threading.Lock()


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def load_detector() -> None:
    """Load the model now (in a worker's parent, before it forks)."""
    _identifier()


def normalise_language(value: object) -> Language | None:
    """A caller's language ("de", "DE", "de-AT", "de_CH", "fr-FR", "en-GB", "es") as one of
    LANGUAGES; None for a value that is no language code. Other languages are "other"."""
    if not isinstance(value, str) or not value.strip():
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    if not code.isalpha() or len(code) not in (2, 3):
        return None
    return code if code in SUPPORTED else "other"  # type: ignore[return-value]


def detect_language(text: str) -> Language:
    """The text's language; "en" for a text too short to tell, or German or French that the
    detector is not sure of (below MIN_CONFIDENCE)."""
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return "en"
    with _lock:  # the identifier keeps scratch state: one call at a time per process
        code, probability = _identifier().classify(text)
    if code in ("de", "fr"):
        return code if probability >= MIN_CONFIDENCE else "en"
    return "en" if code == "en" else "other"
