"""Celery tasks of the fleet (`triage.*`) and the chord that ties one run together."""
