"""Learning from the account: `train` (the local model) and `accuracy` (predictions against what
people decided)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from app.cli.common import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    positive_int,
    progress_bar,
    since_window,
)

if TYPE_CHECKING:
    from pathlib import Path

    from rich.progress import Progress, TaskID

    from app.cli.common import Commands
    from app.domain.taxonomy import Taxonomy
    from app.learn.training import ReadReport


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


def add_accuracy(commands: Commands) -> None:
    accuracy = commands.add_parser(
        "accuracy", help="how often the fleet's predictions matched what people decided later, per field"
    )
    accuracy.add_argument(
        "--since",
        type=since_window,
        default="30d",
        help="the predictions recorded in the last 24h, 7d, 30d... (default 30d)",
    )
    accuracy.add_argument("--json", action="store_true", help="one JSON object (see docs/classification.md)")
    accuracy.set_defaults(handler=cmd_accuracy)


class PhasesOnStderr:
    """A command's progress (app.learn.training.Progress) on stderr, stdout staying the result: a
    line per phase, always (a log or a pipe sees them too), and on a terminal rich's bar for the
    phase's steps."""

    def __init__(self, bar: Progress, command: str = "train") -> None:
        self.bar = bar
        self.command = command
        self.task: TaskID | None = None

    def phase(self, text: str, steps: int | None = None) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None
        # soft_wrap: not cut at 80 columns when stderr is a file; markup off: a path may hold [brackets].
        self.bar.console.print(f"{self.command}: {text}", soft_wrap=True, markup=False, highlight=False)
        if steps:
            self.task = self.bar.add_task(text, total=steps)

    def advance(self, steps: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, steps)


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import services
    from app.learn.model import LocalModelError
    from app.learn.training import save_card, train
    from app.settings import get_settings

    if bool(args.file) == args.from_zendesk:
        raise CommandError("name a FILE of labelled tickets, or use --from-zendesk", EXIT_USAGE)
    settings = get_settings(need_zendesk=args.from_zendesk)
    taxonomy = services.taxonomy()
    output = Path(args.output) if args.output else settings.learning.model_path
    override = None
    read = None
    # What reading found goes to stdout after the bar: on a terminal, rich's live bar sends what is
    # printed meanwhile to its own console (stderr), and stdout is the result.
    found: list[str] = []
    try:
        with progress_bar("train") as bar:
            progress = PhasesOnStderr(bar)
            if args.from_zendesk:
                import redis

                from app.clients.zendesk import ZendeskError
                from app.learn.history import read_history

                progress.phase(f"reading the solved tickets of the last {args.since} days from Zendesk")
                try:
                    history = read_history(services.zendesk(), taxonomy, args.since)
                except ZendeskError as e:
                    raise CommandError(f"Zendesk: {e}") from None
                found = history.lines()
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
                progress.phase(f"reading {source_file}")
                read = _read_labelled(source_file, taxonomy)
                found = [f"{len(read.examples)} labelled tickets in {source_file}", *read.lines()]
                examples, source = read.examples, source_file.name
            progress.phase("loading the redaction model (spaCy)")
            redactor = services.redactor()
            try:
                _, card = train(examples, taxonomy, redactor, source, output, progress)
            except LocalModelError as e:
                raise CommandError(str(e), EXIT_FAILURES) from None
    finally:  # also when training refuses: what the file held explains why
        if found:
            print("\n".join(found))
    if read is not None:  # why a field has no label, as the file shows it (no column, values not in the taxonomy)
        card = card.model_copy(
            update={
                "not_learned": {
                    name: read.why_unlabelled(name, taxonomy) if why == "no labels" else why
                    for name, why in card.not_learned.items()
                }
            }
        )
    if override is not None:
        card = card.model_copy(update={"override_rate": override})
    card_file = save_card(card, output)
    print("\n".join(card.lines()))
    print(f"model: {output}\ncard: {card_file}")
    return EXIT_OK


def _read_labelled(path: Path, taxonomy: Taxonomy) -> ReadReport:
    """The labelled tickets of `path`, or a CommandError (exit 2) saying why the file gives none."""
    from app.learn.training import read_examples

    if path.is_dir():
        raise CommandError(f"{path} is a folder, not a file of labelled tickets", EXIT_USAGE)
    if not path.is_file():
        raise CommandError(f"{path}: no such file", EXIT_USAGE)
    try:
        read = read_examples(path, taxonomy)
    except OSError as e:
        raise CommandError(f"{path} cannot be read ({e.strerror or type(e).__name__})", EXIT_USAGE) from None
    except ValueError as e:
        raise CommandError(str(e), EXIT_USAGE) from None
    problem = read.nothing_usable(path, taxonomy)
    if problem is not None:
        raise CommandError(problem, EXIT_USAGE)
    return read


def cmd_accuracy(args: argparse.Namespace) -> int:
    """`accuracy [--since 30d] [--json]`. No prediction in the window is an empty report, said as
    such on stderr, and exit 0 (as `report --since` does for a window without runs): nothing
    failed, and Zendesk is not asked. Redis (where the predictions are) down, or Zendesk out of
    reach or refusing the credentials: one line, exit 1."""
    import json
    from datetime import UTC, datetime

    from app import services
    from app.clients.zendesk import ZendeskError
    from app.learn.accuracy import Decisions, build_report, lines, read_decisions
    from app.settings import get_settings

    text, window = args.since
    get_settings()  # Zendesk's settings too: what people decided is read there
    taxonomy = services.taxonomy()
    end = datetime.now(UTC)
    start = end - window
    predictions = services.predictions().since(start.timestamp(), end.timestamp())
    decisions = Decisions()
    if not predictions:
        print(
            f"no predictions recorded in the last {text}: the fleet records one for every ticket it handles "
            "(shadow, suggest or live)",
            file=sys.stderr,
        )
    else:
        try:
            with progress_bar("accuracy") as bar:
                decisions = read_decisions(
                    services.zendesk(), taxonomy, predictions, start.timestamp(), PhasesOnStderr(bar, "accuracy")
                )
        except ZendeskError as e:
            raise CommandError(f"Zendesk: {e}") from None
    report = build_report(predictions, decisions, taxonomy, text, start, end)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else "\n".join(lines(report)))
    return EXIT_OK
