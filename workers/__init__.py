"""Celery tasks of the fleet (`triage.*`, named in app.names), one module per stage; a run itself
starts in app.fleet.dispatch, which names these tasks without importing them. Tasks are thin: they
validate their payload, call one function of app/ with the fleet app.services builds, and decide
between a countdown retry and a recorded outcome."""
