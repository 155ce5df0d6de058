"""Personal-data recognizers used by app.redaction."""
