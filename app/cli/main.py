"""The parser, built from the command groups, and the entry point `python -m app` calls."""

from __future__ import annotations

import argparse
import logging
import sys

from app.cli import dispatch, learning, operations, streams, webhook, zendesk
from app.cli.common import EXIT_FAILURES, EXIT_USAGE, CommandError, Parser

# In the order `--help` lists them.
COMMANDS = (
    dispatch.add_run,
    operations.add_runs,
    operations.add_report,
    dispatch.add_dead_letters,
    operations.add_health,
    operations.add_metrics,
    streams.add_redact,
    dispatch.add_backfill,
    streams.add_classify,
    learning.add_train,
    learning.add_accuracy,
    zendesk.add_zendesk,
    webhook.add_webhook,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m app", description="Triage Fleet command line")
    commands = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _release_result_subscriptions() -> None:
    """Celery's Redis result backend subscribes to every result a dispatched chord creates and
    unsubscribes in AsyncResult.__del__, which at interpreter exit runs after imports are torn
    down and prints a traceback. The CLI never waits on results (it reads the run summary from
    Redis), so it lets go of them before exiting."""
    celery_module = sys.modules.get("app.celery")
    celery_app = getattr(celery_module, "app", None)
    if celery_app is None or not celery_app.configured:  # never configured: nothing subscribed, and
        return  # reading .backend now would read the settings a command may not need
    consumer = getattr(celery_app, "backend", None)
    consumer = getattr(consumer, "result_consumer", None)
    if consumer is not None:
        consumer.subscribed_to.clear()  # nothing left for __del__ to unsubscribe at exit
        consumer.stop()


def _one_line(error: BaseException) -> tuple[str, int] | None:
    """What a person sees for an error they can act on, and the exit code; None for a bug, which
    keeps its traceback."""
    import redis

    from app.settings import ConfigError

    if isinstance(error, ConfigError):
        return str(error), EXIT_USAGE
    if isinstance(error, CommandError):
        return f"error: {error}", error.exit_code
    # AuthenticationError is a ConnectionError in redis-py: asked first.
    if isinstance(error, redis.exceptions.AuthenticationError | redis.exceptions.AuthorizationError):
        return f"configuration error: REDIS_URL: Redis refused the credentials: {error}", EXIT_USAGE
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return f"error: Redis (REDIS_URL) cannot be reached: {error}", EXIT_FAILURES
    if isinstance(error, redis.exceptions.ResponseError):
        from app.settings import get_settings
        from app.settings_redis import missing_database

        missing = missing_database(error, get_settings(need_zendesk=False).redis.db)
        if missing:
            return f"configuration error: {missing}", EXIT_USAGE
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (Exception, SystemExit) as e:  # ConfigError is a SystemExit
        shown = _one_line(e)
        if shown is None:
            raise
        print(" ".join(shown[0].split()), file=sys.stderr)  # one line, whatever the message holds
        return shown[1]
    finally:
        _release_result_subscriptions()
