"""Command line: `python -m app run|runs|report|redact|dead-letters|health|webhook|backfill|classify|train`.

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
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from rich.progress import Progress

    from app.domain.summary import RunSummary

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Triage Fleet command line")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="sweep Zendesk once now and dispatch a run")
    run.add_argument("--limit", type=_positive_int, help="claim at most N tickets (default SWEEP_MAX_TICKETS)")
    run.add_argument("--ticket-id", type=_positive_int, help="triage this one ticket")
    run.add_argument("--dry-run", action="store_true", help="analyse but write nothing to Zendesk")
    run.add_argument("--wait", action="store_true", help="show progress and print the summary")
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds --wait waits (default 3600)")

    runs = commands.add_parser("runs", help="recent run summaries, newest first")
    runs.add_argument("--json", action="store_true", help="a JSON array, one object per run")
    runs.add_argument("--limit", type=_positive_int, default=20)

    report = commands.add_parser("report", help="write a run's HTML report (charts and the per-ticket table)")
    report.add_argument("run_id", nargs="?", help="the run (see `runs`); with --open, default the newest run")
    report.add_argument("--output", help="file to write (default LOG_DIR/report_<RUN_ID>.html)")
    report.add_argument("--open", action="store_true", help="open the report in the default browser")

    dead = commands.add_parser("dead-letters", help="tickets that failed for good, with stage and reason")
    dead.add_argument("--json", action="store_true", help="a JSON array, one object per ticket")
    dead.add_argument("--requeue", action="store_true", help="send them all through again")
    dead.add_argument("--wait", action="store_true", help="with --requeue: show progress, print the summary")
    dead.add_argument("--timeout", type=float, default=3600.0)

    health = commands.add_parser("health", help="healthy (exit 0), degraded (1) or unhealthy (2), and why")
    health.add_argument("--json", action="store_true")

    redact = commands.add_parser("redact", help='redact JSON lines {"text": ...} from stdin')
    redact.add_argument("--spans", action="store_true", help="also write the detected spans")

    backfill = commands.add_parser("backfill", help="redact and classify an export file (JSON lines or CSV)")
    backfill.add_argument("file", help="JSON lines or .csv with subject, description and an optional id")
    backfill.add_argument("--output", help="result lines (default FILE.triaged.jsonl); bad lines go to "
                                           "OUT.rejected.jsonl")
    backfill.add_argument("--include-redacted", action="store_true", help="add the redacted text to each result")
    backfill.add_argument("--write", action="store_true",
                          help="also triage the rows' tickets in Zendesk (rows with an id); without it nothing "
                               "is written to Zendesk")
    backfill.add_argument("--chunk", type=_positive_int, help="rows per worker task (default 50 with the "
                                                              "rules, 2 with an LLM)")
    backfill.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the workers")

    classify = commands.add_parser("classify", help='classify JSON lines {"subject", "description"} from stdin')
    classify.add_argument("--provider", choices=("rules", "openai", "local"),
                          help="default: as configured (LLM_PROVIDER)")

    train = commands.add_parser("train", help="learn the taxonomy's fields into the local model (LOCAL_MODEL_PATH)")
    train.add_argument("file", nargs="?", help="labelled tickets: CSV or JSON lines with subject, description and "
                                               "a column per taxonomy field")
    train.add_argument("--from-zendesk", action="store_true", help="learn from the account's solved tickets instead")
    train.add_argument("--since", type=_positive_int, default=180,
                       help="with --from-zendesk: tickets updated in the last DAYS days (default 180)")
    train.add_argument("--output", help="where to write the model (default LOCAL_MODEL_PATH)")

    zendesk = commands.add_parser("zendesk", help="make the Zendesk account ready for the fleet, or verify it")
    zendesk_commands = zendesk.add_subparsers(dest="zendesk_command", required=True)
    setup = zendesk_commands.add_parser(
        "setup", help="create or repair the webhook, its signing secret and the fleet's triggers (idempotent)")
    setup.add_argument("--webhook-url", required=True,
                       help="where Zendesk reaches `python -m app webhook`, e.g. https://triage.example.com/zendesk/webhook")
    setup.add_argument("--env-file", help="write ZENDESK_WEBHOOK_SECRET=<signing secret> into this file (mode 0600); "
                                          "the secret is never printed")
    setup.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    zendesk_commands.add_parser("check", help="exit 0 when every object setup makes is present, active and as setup "
                                              "makes it; otherwise name each one that is not")

    webhook = commands.add_parser("webhook", help="serve POST /zendesk/webhook for Zendesk's signed webhooks")
    webhook.add_argument("--host", help="address to listen on (default WEBHOOK_HOST, 0.0.0.0)")
    webhook.add_argument("--port", type=int, help="port (default WEBHOOK_PORT, 8090)")
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_run(args: argparse.Namespace) -> int:
    from app.logs import setup_file_logging
    from app.settings import get_settings

    setup_file_logging(get_settings())  # the sweep's lines go to LOG_DIR/triage.log as the workers' do
    return sweep_and_dispatch([args.ticket_id] if args.ticket_id else None, args.limit, args.dry_run,
                              args.wait, args.timeout)


def sweep_and_dispatch(ticket_ids: list[int] | None, limit: int | None, dry_run: bool, wait: bool,
                       timeout: float) -> int:
    """One sweep now (of the given tickets, or a search), its chord dispatched, optionally awaited."""
    from app.clients.zendesk import ZendeskError
    from app.domain.summary import format_summary
    from app.settings import get_settings
    from app.services import start_run

    provider, why = get_settings().llm_choice()
    print(f"classifier: {provider} ({why})", file=sys.stderr)
    try:
        outcome = start_run(ticket_ids, limit, dry_run)
    except ZendeskError as e:
        print(f"error: Zendesk: {e}", file=sys.stderr)
        return EXIT_FAILURES
    if not outcome.inputs:
        print(f"nothing to triage ({outcome.found} eligible, {outcome.skipped_done_or_claimed} done, "
              "dead-lettered or claimed)")
        return EXIT_OK
    print(f"run {outcome.run_id}: {len(outcome.inputs)} tickets dispatched")
    if not wait:
        return EXIT_OK
    summary = wait_for_run(outcome.run_id, timeout)
    if summary is None:
        print(f"timed out after {timeout:.0f}s; the run goes on (see `python -m app runs`)", file=sys.stderr)
        return EXIT_FAILURES
    print(format_summary(summary))
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


def _progress_bar(label: str) -> Progress:
    """The CLI's progress bar: on stderr, and only when that is a terminal (stdout stays the result)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), disable=not sys.stderr.isatty())


def wait_for_run(run_id: str, timeout: float) -> RunSummary | None:
    """Progress bar until the run's summary is stored; None on timeout."""
    from app import services
    from app.celery import app

    store = services.run_store()
    if not app.control.ping(timeout=1.0):
        print("warning: no worker answered a ping; the run waits in the queue until one starts", file=sys.stderr)
    deadline = time.monotonic() + timeout
    with _progress_bar("triage") as progress:
        bar = progress.add_task("tickets", total=store.progress(run_id)[1])
        while time.monotonic() < deadline:
            summary = store.summary(run_id)
            finished, total = store.progress(run_id)
            progress.update(bar, completed=finished, total=total)
            if summary is not None:
                return summary
            time.sleep(0.5)
    return None


def cmd_runs(args: argparse.Namespace) -> int:
    from app import services

    summaries = services.run_store().recent(args.limit)
    if args.json:
        fields = {"id", "timestamp", "total", "processed", "failed", "fallbacks", "cost_estimate", "total_time",
                  "dry_run", "file", "tickets_per_minute"}
        print(json.dumps([{"file": None, **s.model_dump(mode="json", include=fields)} for s in summaries], indent=2))
        return EXIT_OK
    if not summaries:
        print("no runs yet")
        return EXIT_OK
    print(f"{'id':<24} {'finished (UTC)':<26} {'total':>6} {'done':>6} {'failed':>6} {'fallback':>8} {'cost $':>9}")
    for s in summaries:
        print(f"{s.id:<24} {s.timestamp:<26} {s.total:>6} {s.processed:>6} {s.failed:>6} {s.fallbacks:>8} "
              f"{s.cost_estimate:>9.4f}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import services
    from app.ops.report import ReportError, find_summary, render_report
    from app.settings import get_settings

    if args.run_id is None and not args.open:
        print("name a run (see `python -m app runs`), or use --open for the newest", file=sys.stderr)
        return EXIT_USAGE
    settings = get_settings()
    try:
        summary = find_summary(services.run_store(), settings.log_dir, args.run_id)
    except ReportError as e:
        print(e, file=sys.stderr)
        return EXIT_FAILURES
    output = Path(args.output) if args.output else settings.log_dir / f"report_{summary.id}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(summary), encoding="utf-8")
    print(output)
    if args.open:
        import webbrowser

        webbrowser.open(output.resolve().as_uri())
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    from app import services
    from app.ops.health import EXIT_CODES, as_json, overall, run_checks
    from app.settings import get_settings

    settings = get_settings()
    client = services.redis_client()
    breakers = {"zendesk": (services.zendesk_circuit, "updates wait until it closes", services.zendesk_faults().get)}
    if settings.llm_choice()[0] == "openai":
        breakers["llm"] = (services.llm_circuit, "the rules classify (ai_fallback)", services.llm_faults().get)

    def ping_workers() -> list[Any]:
        from app.celery import app

        return app.control.ping(timeout=1.0)

    def worker_queues() -> dict[str, list[str]]:
        from app.celery import app

        answers = app.control.inspect(timeout=1.0).active_queues() or {}
        return {worker: [queue["name"] for queue in queues] for worker, queues in answers.items()}

    store = services.run_store()
    try:
        last_sweep, last_run = store.last_sweep(), store.last_run()
    except Exception:  # noqa: BLE001 - Redis down: the redis check says so
        last_sweep = last_run = None
    checks = run_checks(settings, client, ping_workers, breakers, last_sweep, last_run, worker_queues,
                        lambda: zendesk_checks(settings))
    status = overall(checks)
    if args.json:
        print(json.dumps(as_json(checks), indent=2))
    else:
        print(status)
        for check in checks:
            print(f"  {check.status:<10} {check.name:<16} {check.detail}")
    return EXIT_CODES[status]


def zendesk_checks(settings: Any) -> list[Any]:
    """health's look at the account: the credentials, what `zendesk check` finds, who raises priorities."""
    from app import services
    from app.clients.zendesk import ZendeskConfigFault, ZendeskError
    from app.clients.zendesk_admin import ZendeskAdmin
    from app.ops.health import DEGRADED, HEALTHY, UNHEALTHY, Check, credentials_check, setup_check
    from app.ops.zendesk_setup import check

    checks = [credentials_check(settings.zendesk_credentials, describe_credentials(settings))]
    secret = settings.zendesk_webhook_secret
    try:
        checks.append(setup_check(check(ZendeskAdmin(services.zendesk()), services.taxonomy(),
                                        secret.get_secret_value() if secret else None)))
    except ZendeskConfigFault:
        checks.append(Check("zendesk setup", UNHEALTHY, "not checked: Zendesk refuses the fleet's credentials "
                                                        "(see the zendesk breaker)"))
        return checks
    except ZendeskError as e:
        checks.append(Check("zendesk setup", DEGRADED, f"not checked: {e}"))
        return checks
    mode, why = services.priority_mode()
    checks.append(Check("priorities", HEALTHY, ("raised by Zendesk's triggers, no Update Ticket request spent"
                                                if mode == "triggers" else
                                                "one safe PUT each, at the fleet's share of Update Ticket") + f" ({why})"))
    return checks


class _BadLine(NamedTuple):
    """A stdin line that could not be read; its error line takes its place in the output."""

    error: str


def _stdin_batches(expected: str, parse: Callable[[Any], T], max_batch: int = 64) -> Iterator[list[T | _BadLine]]:
    """The non-blank lines of stdin, each a JSON object through `parse`, in batches of the lines
    that have already arrived (at most `max_batch`). A caller streaming a file gets full batches,
    which spaCy parses in one pass at about half the time per line; a caller that writes one line
    and waits for its answer gets it at once. Read from the file descriptor because a text
    stream's buffer hides from the caller what has arrived."""
    fd, pending, number = sys.stdin.fileno(), b"", 0
    while True:
        chunk = os.read(fd, 1 << 16)
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop() if chunk else b""
        batch: list[T | _BadLine] = []
        for line in lines:
            number += 1
            if not line.strip():
                continue
            try:
                batch.append(parse(json.loads(line.decode("utf-8"))))
            except (ValueError, KeyError, AttributeError, TypeError) as e:  # UnicodeDecodeError is a ValueError
                batch.append(_BadLine(f"line {number}: expected {expected} ({type(e).__name__})"))
        for start in range(0, len(batch), max_batch):
            yield batch[start : start + max_batch]
        if not chunk:
            return


def _stdin_records(expected: str, parse: Callable[[Any], T]) -> Iterator[T | None]:
    """Each non-blank line of stdin, a JSON object, through `parse`. A line that cannot be read
    gets an error line in its place and None: one output line per input line keeps the streams
    aligned for the caller."""
    for batch in _stdin_batches(expected, parse, max_batch=1):
        for item in batch:
            if isinstance(item, _BadLine):
                print(json.dumps({"error": item.error}), flush=True)
                yield None
            else:
                yield item


def _text_of(record: Any) -> str:
    text = record["text"]
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return text


def cmd_redact(args: argparse.Namespace) -> int:
    from app import services

    redactor = services.redactor()
    status = EXIT_OK
    for batch in _stdin_batches('{"text": string}', _text_of):
        texts = [item for item in batch if not isinstance(item, _BadLine)]
        results = iter(redactor.redact_texts(texts))
        for item in batch:
            if isinstance(item, _BadLine):
                status = EXIT_FAILURES
                print(json.dumps({"error": item.error}))
                continue
            result = next(results)
            out: dict[str, Any] = {"redacted": result.text}
            if args.spans:
                out["spans"] = [span.as_dict() for span in result.spans]
            print(json.dumps(out, ensure_ascii=False))
        sys.stdout.flush()
    return status


def cmd_backfill(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.intake.backfill import run_backfill

    source = Path(args.file)
    if not source.is_file():
        print(f"error: {source}: no such file", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output) if args.output else source.with_name(source.stem + ".triaged.jsonl")
    with _progress_bar("backfill") as progress:
        bar = progress.add_task("rows", total=None)
        try:
            report = run_backfill(source, output, args.include_redacted, args.write, args.chunk, args.timeout,
                                  lambda done, total: progress.update(bar, completed=done, total=total))
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
    print("\n".join(report.lines()))
    print(f"results: {output}")
    return EXIT_OK if not report.failed else EXIT_FAILURES


def _ticket_texts(record: Any) -> tuple[str, str]:
    subject, description = (record.get(key) or "" for key in ("subject", "description"))
    if not isinstance(subject, str) or not isinstance(description, str) or not (subject or description):
        raise TypeError("subject and description must be text, not both empty")
    return subject, description


def cmd_classify(args: argparse.Namespace) -> int:
    """Redact each line's ticket, as the workers do, and classify it; one JSON line out per line in."""
    from app import services
    from app.errors import TryLater, waiting_out

    classifier = services.build_classifier(args.provider)
    redactor = services.redactor()
    status = EXIT_OK
    for texts in _stdin_records('{"subject": string, "description": string}', _ticket_texts):
        if texts is None:
            status = EXIT_FAILURES
            continue
        subject, description = (part.text for part in redactor.redact_ticket(*texts))
        # The shared LLM quota: wait as a worker would, never fall back.
        try:
            analysis = waiting_out(lambda: classifier.classify(subject, description, may_wait=True), shortest_wait=0.5)
        except TryLater as e:  # a configuration fault: the person running this is the one to fix it
            print(f"error: {e}", file=sys.stderr)
            return EXIT_FAILURES
        out = {**analysis.values, "confidence": analysis.confidence, "provider": analysis.provider,
               "model": analysis.model}
        if analysis.fallback_reason:
            out["fallback_reason"] = analysis.fallback_reason
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return status


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
    output = Path(args.output) if args.output else settings.local_model_path
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
        override = {"measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "since_days": args.since,
                    **history.override}
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


def _admin_client() -> Any:
    """The administrative endpoints with the fleet's credentials; a token of this command's own, so
    setup and check work before the fleet's Redis does."""
    from app.clients.zendesk import ZendeskClient
    from app.clients.zendesk_admin import ZendeskAdmin
    from app.clients.zendesk_auth import MemoryTokenStore
    from app.services import zendesk_auth
    from app.settings import get_settings

    settings = get_settings()
    auth = zendesk_auth(settings, MemoryTokenStore())
    print(f"Zendesk {settings.zendesk_base_url} ({describe_credentials(settings)})", file=sys.stderr)
    return ZendeskAdmin(ZendeskClient(settings.zendesk_base_url, auth, timeout=settings.zendesk_timeout))


def describe_credentials(settings: Any) -> str:
    """The credentials in words, never their secret part."""
    if settings.zendesk_credentials == "oauth":
        return f"OAuth client {settings.zendesk_oauth_client_id!r}, scope {settings.zendesk_oauth_scope!r}"
    return f"API token of {settings.zendesk_email} (until 2027-04-30)"


def cmd_zendesk(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import services
    from app.clients.zendesk import ZendeskError
    from app.ops.zendesk_setup import Setup, SetupError, check, write_env_secret
    from app.settings import get_settings

    try:
        admin = _admin_client()
        if args.zendesk_command == "check":
            secret = get_settings().zendesk_webhook_secret
            findings = check(admin, services.taxonomy(), secret.get_secret_value() if secret else None)
            for finding in findings:
                print(f"not ready: {finding}")
            print("every object is present, active and as setup makes it" if not findings else
                  f"{len(findings)} problem(s); `python -m app zendesk setup --webhook-url URL` repairs them")
            return EXIT_FAILURES if findings else EXIT_OK
        setup = Setup(admin, services.taxonomy(), args.webhook_url)
        plan = setup.plan()
        for note in plan.notes:
            print(note, file=sys.stderr)
        if args.dry_run:
            print("plan (dry run: nothing changed):")
            for step in plan.steps:
                print(f"  {step}")
            for name in plan.up_to_date:
                print(f"  {name}: up to date")
            return EXIT_OK
        if not plan.changes:
            print("everything is up to date; nothing changed")
        for step in plan.steps:
            assert step.apply is not None
            step.apply()
            print(f"done: {step}")
        if plan.changes:
            _forget_priority_mode()
        if args.env_file:
            path = Path(args.env_file)
            secret = setup.secret()
            if _env_value(path, "ZENDESK_WEBHOOK_SECRET") == secret:
                print(f"ZENDESK_WEBHOOK_SECRET in {path} is up to date")
            else:
                write_env_secret(path, secret)
                print(f"wrote ZENDESK_WEBHOOK_SECRET (the webhook's signing secret) to {path} (mode 0600)")
        else:
            print("the signing secret was not written: run again with --env-file .env (or reveal it in Admin Center)")
    except SetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ZendeskError as e:
        print(f"error: Zendesk: {e}", file=sys.stderr)
        return EXIT_FAILURES
    return EXIT_OK


def _forget_priority_mode() -> None:
    """Workers look at the priority triggers again at their next write, not in five minutes. Best
    effort: setup works without the fleet's Redis."""
    import redis

    from app import services

    try:
        services.forget_priority_mode()
    except redis.RedisError:
        pass


def _env_value(path: Any, name: str) -> str | None:
    """NAME's value in an env file, or None."""
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key == name:
            return value
    return None


def cmd_webhook(args: argparse.Namespace) -> int:
    from app.intake.webhook import serve
    from app.logs import setup_file_logging
    from app.settings import get_settings

    settings = get_settings()
    setup_file_logging(settings)
    serve(args.host or settings.webhook_host, args.port or settings.webhook_port)
    return EXIT_OK


def _release_result_subscriptions() -> None:
    """Celery's Redis result backend subscribes to every result a dispatched chord creates and
    unsubscribes in AsyncResult.__del__, which at interpreter exit runs after imports are torn
    down and prints a traceback. The CLI never waits on results (it reads the run summary from
    Redis), so it lets go of them before exiting."""
    celery_app = sys.modules.get("app.celery")
    consumer = getattr(getattr(celery_app, "app", None), "backend", None) if celery_app else None
    consumer = getattr(consumer, "result_consumer", None)
    if consumer is not None:
        consumer.subscribed_to.clear()  # nothing left for __del__ to unsubscribe at exit
        consumer.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging()
    handlers = {"run": cmd_run, "runs": cmd_runs, "report": cmd_report, "redact": cmd_redact,
                "dead-letters": cmd_dead_letters, "health": cmd_health, "webhook": cmd_webhook,
                "backfill": cmd_backfill, "classify": cmd_classify, "train": cmd_train, "zendesk": cmd_zendesk}
    try:
        return handlers[args.command](args)
    finally:
        _release_result_subscriptions()


if __name__ == "__main__":
    sys.exit(main())
