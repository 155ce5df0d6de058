"""Triage Fleet: settings, domain logic and clients. The Celery app lives in `app.celery`."""
