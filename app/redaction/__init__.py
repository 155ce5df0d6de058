"""Personal data out before anything leaves the redact task: one spaCy pass plus the recognizers
in this package (names, addresses, identifiers and secrets)."""

from app.redaction.redactor import EMAIL_RE, Redactor, redact_inputs

__all__ = ["EMAIL_RE", "Redactor", "redact_inputs"]
