"""Celery tasks of the fleet (`triage.*`, named in app.names), one module per stage, and the
pipeline that starts a run. Tasks are thin: they validate their payload, call one function of
app/, and decide between a countdown retry and a recorded outcome."""
