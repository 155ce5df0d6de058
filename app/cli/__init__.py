"""Command line: `python -m app COMMAND`, one module per command group; main.py builds the parser.

    python -m app run [--limit N] [--ticket-id ID] [--dry-run] [--wait]   one sweep now
    python -m app runs [--json]                                          recent run summaries
    python -m app report [RUN_ID] [--output PATH] [--open]               a run's HTML report with charts
    python -m app redact [--spans]                                       JSON lines in, redacted out
    python -m app dead-letters [--json] [--requeue [--wait]]             tickets that failed for good
    python -m app health [--json]                                        exit 0 healthy, 1 degraded, 2 unhealthy
    python -m app webhook [--host H] [--port P]                          receive Zendesk's signed webhooks
    python -m app backfill FILE [--output OUT] [--write]                 redact and classify an export file
    python -m app classify [--provider rules|openai|local]               JSON lines in, classified out
    python -m app train FILE | --from-zendesk [--since DAYS]            learn the local model
    python -m app zendesk setup --webhook-url URL [--env-file F] [--dry-run]   make the account ready
    python -m app zendesk check                                          verify it (exit 1 naming what is off)

Groups: dispatch (run, dead-letters, backfill), operations (health, runs, report), streams
(redact, classify), learning (train), zendesk (setup, check), webhook.
"""
