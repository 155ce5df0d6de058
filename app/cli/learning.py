"""Learning the local model: `train`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from app.cli.common import EXIT_FAILURES, EXIT_OK, EXIT_USAGE, positive_int

if TYPE_CHECKING:
    from app.cli.common import Commands


def add_train(commands: Commands) -> None:
    train = commands.add_parser("train", help="learn the taxonomy's fields into the local model (LOCAL_MODEL_PATH)")
    train.add_argument(
        "file",
        nargs="?",
        help="labelled tickets: CSV or JSON lines with subject, description and a column per taxonomy field",
    )
    train.add_argument("--from-zendesk", action="store_true", help="learn from the account's solved tickets instead")
    train.add_argument(
        "--since",
        type=positive_int,
        default=180,
        help="with --from-zendesk: tickets updated in the last DAYS days (default 180)",
    )
    train.add_argument("--output", help="where to write the model (default LOCAL_MODEL_PATH)")
    train.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import services
    from app.learn.model import LocalModelError
    from app.learn.training import read_examples, save_card, train
    from app.settings import get_settings

    if bool(args.file) == args.from_zendesk:
        print("error: name a FILE of labelled tickets, or use --from-zendesk", file=sys.stderr)
        return EXIT_USAGE
    settings = get_settings(need_zendesk=args.from_zendesk)
    taxonomy = services.taxonomy()
    output = Path(args.output) if args.output else settings.learning.model_path
    override = None
    if args.from_zendesk:
        import redis

        from app.clients.zendesk import ZendeskError
        from app.learn.history import read_history

        try:
            history = read_history(services.zendesk(), taxonomy, args.since)
        except ZendeskError as e:
            print(f"error: Zendesk: {e}", file=sys.stderr)
            return EXIT_FAILURES
        print("\n".join(history.lines()))
        examples, source = history.examples, f"zendesk (solved, last {args.since} days)"
        override = {
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "since_days": args.since,
            **history.override,
        }
        try:  # every later run summary and report carries it
            services.run_store().save_agent_override(override)
        except redis.RedisError as e:
            print(f"warning: the override rate is in the model card only; Redis: {e}", file=sys.stderr)
    else:
        source_file = Path(args.file)
        if not source_file.is_file():
            print(f"error: {source_file}: no such file", file=sys.stderr)
            return EXIT_USAGE
        try:
            read = read_examples(source_file, taxonomy)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
        print("\n".join([f"{len(read.examples)} labelled tickets in {source_file}", *read.lines()]))
        examples, source = read.examples, source_file.name
    try:
        _, card = train(examples, taxonomy, services.redactor(), source, output)
    except LocalModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILURES
    if override is not None:
        card = card.model_copy(update={"override_rate": override})
    card_file = save_card(card, output)
    print("\n".join(card.lines()))
    print(f"model: {output}\ncard: {card_file}")
    return EXIT_OK
