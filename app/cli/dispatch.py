"""Commands that send tickets to the workers: `run`, `dead-letters` (and its `--requeue`), `backfill`."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from app.cli.common import (
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    positive_int,
    positive_seconds,
    progress_bar,
)
from app.names import Task

if TYPE_CHECKING:
    import argparse

    from app.cli.common import Commands
    from app.domain.summary import RunSummary

# How long a command waits for workers to answer a ping (they answer from their main process,
# between tasks' messages, in milliseconds when idle).
WORKER_PING_SECONDS = 2.0


def add_run(commands: Commands) -> None:
    run = commands.add_parser("run", help="sweep Zendesk once now and dispatch a run")
    run.add_argument("--limit", type=positive_int, help="claim at most N tickets (default SWEEP_MAX_TICKETS)")
    run.add_argument("--ticket-id", type=positive_int, help="triage this one ticket")
    run.add_argument("--dry-run", action="store_true", help="analyse but write nothing to Zendesk")
    run.add_argument("--wait", action="store_true", help="show progress and print the summary")
    run.add_argument("--timeout", type=positive_seconds, default=3600.0, help="seconds --wait waits (default 3600)")
    run.set_defaults(handler=cmd_run)


def add_dead_letters(commands: Commands) -> None:
    dead = commands.add_parser("dead-letters", help="tickets that failed for good, with stage and reason")
    dead.add_argument("--json", action="store_true", help="a JSON array, one object per ticket")
    dead.add_argument("--requeue", action="store_true", help="send them all through again")
    dead.add_argument("--wait", action="store_true", help="with --requeue: show progress, print the summary")
    dead.add_argument(
        "--timeout", type=positive_seconds, default=3600.0, help="seconds --requeue --wait waits (default 3600)"
    )
    dead.set_defaults(handler=cmd_dead_letters)


def add_backfill(commands: Commands) -> None:
    backfill = commands.add_parser("backfill", help="redact and classify an export file (JSON lines or CSV)")
    backfill.add_argument("file", help="JSON lines or .csv with subject, description and an optional id")
    backfill.add_argument(
        "--output",
        help="result lines (default FILE.triaged.jsonl: x.csv gives x.csv.triaged.jsonl); bad lines go to "
        "OUT.rejected.jsonl",
    )
    backfill.add_argument("--include-redacted", action="store_true", help="add the redacted text to each result")
    backfill.add_argument(
        "--write",
        action="store_true",
        help="also triage the rows' tickets in Zendesk (rows with an id); without it nothing is written to Zendesk",
    )
    backfill.add_argument(
        "--chunk", type=positive_int, help="rows per worker task (default 50 with the rules, 2 with an LLM)"
    )
    backfill.add_argument(
        "--timeout",
        type=positive_seconds,
        default=3600.0,
        help="seconds the whole backfill may take, sending included (default 3600)",
    )
    backfill.set_defaults(handler=cmd_backfill)


def cmd_run(args: argparse.Namespace) -> int:
    from app.logs import setup_file_logging
    from app.settings import get_settings

    setup_file_logging(get_settings())  # the sweep's lines go to LOG_DIR/triage.log as the workers' do
    return sweep_and_dispatch(
        [args.ticket_id] if args.ticket_id else None, args.limit, args.dry_run, args.wait, args.timeout
    )


def sweep_and_dispatch(
    ticket_ids: list[int] | None, limit: int | None, dry_run: bool, wait: bool, timeout: float
) -> int:
    """One sweep now (of the given tickets, or a search), its chord dispatched, optionally awaited."""
    from app.clients.zendesk import ZendeskError
    from app.domain.summary import format_summary, format_would_write
    from app.services import start_run
    from app.settings import get_settings

    provider, why = get_settings().llm_choice()
    print(f"classifier: {provider} ({why})", file=sys.stderr)
    try:
        outcome = start_run(ticket_ids, limit, dry_run)
    except ZendeskError as e:
        print(f"error: Zendesk: {e}", file=sys.stderr)
        return EXIT_FAILURES
    if ticket_ids and outcome.not_found == len(ticket_ids):
        which = f"ticket {ticket_ids[0]} does not" if len(ticket_ids) == 1 else f"none of the {len(ticket_ids)} tickets"
        raise CommandError(f"{which} exist in Zendesk (deleted, or in another account?)")
    if outcome.not_found:
        print(f"warning: {outcome.not_found} of the tickets asked for do not exist in Zendesk", file=sys.stderr)
    if not outcome.inputs:
        print(
            f"nothing to triage ({outcome.found} eligible, {outcome.skipped_done_or_claimed} done, "
            f"dead-lettered or claimed, {outcome.not_eligible} solved, closed or already triaged)"
        )
        return EXIT_OK
    print(f"run {outcome.run_id}: {len(outcome.inputs)} tickets dispatched{' (dry run)' if dry_run else ''}")
    if not wait:
        if dry_run:
            print("nothing is written to Zendesk; with --wait, what would be is shown per ticket")
        return EXIT_OK
    summary = wait_for_run(outcome.run_id, timeout)
    if summary is None:
        raise CommandError(f"timed out after {timeout:g}s; the run goes on (see `python -m app runs`)")
    print(format_summary(summary))
    if summary.dry_run:
        print(format_would_write(summary))
    return EXIT_FAILURES if summary.failed else EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from app import services

    dead = services.dead_letters()
    entries = dead.entries()
    if args.requeue:
        ids = [entry["ticket_id"] for entry in entries]
        if not ids:
            print("no dead letters")
            return EXIT_OK
        dead.remove(ids)
        print(f"requeued {len(ids)} tickets")
        return sweep_and_dispatch(ids, None, False, args.wait, args.timeout)
    if args.json:
        print(json.dumps(entries, indent=2))
    elif not entries:
        print("no dead letters")
    else:
        for entry in entries:
            print(f"{entry['ticket_id']:>10}  {entry['at']}  {entry['stage']:<8}  {entry['reason']}")
    return EXIT_OK


def wait_for_run(run_id: str, timeout: float) -> RunSummary | None:
    """Progress bar until the run's summary is stored; None on timeout."""
    from app import services
    from app.celery import app

    store = services.run_store()
    if not app.control.ping(timeout=1.0):
        print("warning: no worker answered a ping; the run waits in the queue until one starts", file=sys.stderr)
    deadline = time.monotonic() + timeout
    with progress_bar("triage") as progress:
        bar = progress.add_task("tickets", total=store.progress(run_id)[1])
        while time.monotonic() < deadline:
            summary = store.summary(run_id)
            finished, total = store.progress(run_id)
            progress.update(bar, completed=finished, total=total)
            if summary is not None:
                return summary
            time.sleep(0.5)
    return None


def cmd_backfill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.intake.backfill import (
        BackfillTimedOut,
        default_output,
        read_input,
        rejects_path,
        run_backfill,
        write_rejects,
    )
    from app.settings import get_settings

    source = Path(args.file)
    if source.is_dir():
        raise CommandError(f"{source}: is a directory, not an export file (JSON lines or .csv)", EXIT_USAGE)
    if not source.is_file():
        raise CommandError(f"{source}: no such file", EXIT_USAGE)
    output = Path(args.output) if args.output else default_output(source)
    rejects = rejects_path(output)
    if source.resolve() in (output.resolve(), rejects.resolve()):
        raise CommandError(f"{source}: the output would overwrite the input; choose another --output", EXIT_USAGE)
    if not output.parent.is_dir():
        raise CommandError(f"{output.parent}: no such folder for --output", EXIT_USAGE)
    if args.write:
        get_settings()  # --write triages in Zendesk: its settings are checked now, not after the rows
    else:
        from app.celery import without_zendesk

        without_zendesk()  # Zendesk is neither read nor written
    try:
        read = read_input(source)
    except ValueError as e:
        raise CommandError(str(e), EXIT_USAGE) from None
    write_rejects(rejects, read.rejected)
    if not read.rows:
        if not read.rejected:
            raise CommandError(f"{source}: no rows to backfill (the file is empty)", EXIT_USAGE)
        raise CommandError(f"{source}: every row was rejected ({len(read.rejected)}); the reasons are in {rejects}")
    require_worker_on(Task.BACKFILL.queue, "backfill")
    with progress_bar("backfill") as progress:
        bar = progress.add_task("rows", total=None)
        try:
            report = run_backfill(
                read,
                output,
                args.include_redacted,
                args.write,
                args.chunk,
                args.timeout,
                lambda done, total: progress.update(bar, completed=done, total=total),
            )
        except BackfillTimedOut as e:
            print("\n".join(e.report.lines()))
            not_written = "; nothing was written to Zendesk" if args.write else ""
            raise CommandError(
                f"timed out after {args.timeout:g}s with {e.done} of {e.total} rows triaged (kept in {output}); "
                f"the rest wait in the {Task.BACKFILL.queue} queue{not_written}"
            ) from None
    print("\n".join(report.lines()))
    print(f"results: {output}")
    if read.rejected:
        print(f"rejected: {rejects}")
    return EXIT_OK if not report.failed else EXIT_FAILURES


def require_worker_on(queue: str, command: str) -> None:
    """Stop at once, before anything is sent, when no worker answers or none takes `queue`: the
    work would only wait in the queue."""
    from app.celery import app

    answers = app.control.inspect(timeout=WORKER_PING_SECONDS).active_queues() or {}
    if not answers:
        raise CommandError(
            f"no worker answers; {command} needs one on the {queue} queue (start `celery -A app worker`, "
            "see the README); nothing was sent"
        )
    if not any(q["name"] == queue for queues in answers.values() for q in queues):
        raise CommandError(
            f"no worker takes the {queue} queue ({len(answers)} answered); {command} needs one "
            f"(`celery -A app worker -Q {queue},...`); nothing was sent"
        )
