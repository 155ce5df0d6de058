"""Looking at the fleet: `health`, `runs`, `report`, `metrics`."""

from __future__ import annotations

import argparse
import functools
import json
from typing import TYPE_CHECKING, Any

from app.cli.common import EXIT_OK, EXIT_USAGE, CommandError, listening, port_number, positive_int, since_window
from app.cli.zendesk import describe_credentials

if TYPE_CHECKING:
    from app.cli.common import Commands


def add_runs(commands: Commands) -> None:
    runs = commands.add_parser("runs", help="recent run summaries, newest first")
    runs.add_argument("--json", action="store_true", help="a JSON array, one object per run")
    runs.add_argument("--limit", type=positive_int, default=20, help="show at most N runs (default 20)")
    runs.set_defaults(handler=cmd_runs)


def add_report(commands: Commands) -> None:
    report = commands.add_parser(
        "report", help="write a run's HTML report (charts and the per-ticket table), or with --since the report by day"
    )
    report.add_argument("run_id", nargs="?", help="the run (see `runs`); with --open, default the newest run")
    report.add_argument(
        "--since",
        type=since_window,
        help="the report across runs, by UTC day, of the last 24h, 7d, 30d... (instead of one run)",
    )
    report.add_argument("--json", action="store_true", help="with --since: one JSON object (per day, and totals)")
    report.add_argument(
        "--output",
        help="file to write (default LOG_DIR/report_<RUN_ID>.html, with --since LOG_DIR/report_<SINCE>.html)",
    )
    report.add_argument("--open", action="store_true", help="open the report in the default browser")
    report.set_defaults(handler=cmd_report)


def add_health(commands: Commands) -> None:
    health = commands.add_parser("health", help="healthy (exit 0), degraded (1) or unhealthy (2), and why")
    health.add_argument("--json", action="store_true", help="the checks as a JSON object, for tools")
    health.set_defaults(handler=cmd_health)


def add_metrics(commands: Commands) -> None:
    metrics = commands.add_parser(
        "metrics", help="serve the fleet's Prometheus metrics at /metrics (one exporter for the whole fleet)"
    )
    metrics.add_argument("--host", help="address to listen on (default METRICS_HOST, 127.0.0.1)")
    metrics.add_argument("--port", type=port_number, help="port (default METRICS_PORT, 9808)")
    metrics.set_defaults(handler=cmd_metrics)


def cmd_metrics(args: argparse.Namespace) -> int:
    import sys

    from app import services
    from app.ops.metrics import serve
    from app.settings import get_settings

    settings = get_settings(need_zendesk=False)
    host = args.host or settings.operators.metrics_host
    port = args.port or settings.operators.metrics_port
    client = services.redis_client()
    client.ping()  # a wrong REDIS_URL stops here, in one line, rather than at every scrape

    def ready(server: object) -> None:
        print(f"serving the fleet's metrics at http://{host}:{port}/metrics", file=sys.stderr, flush=True)

    interval, budget = settings.intake.sweep_interval, settings.llm.daily_budget_usd
    listening(
        lambda: serve(client, settings.redis.prefix, host, port, ready, interval, budget), host, port, "METRICS_PORT"
    )
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from app import services

    summaries = services.run_store().recent(args.limit)
    if args.json:
        fields = {
            "id",
            "timestamp",
            "total",
            "processed",
            "failed",
            "fallbacks",
            "cost_estimate",
            "total_time",
            "dry_run",
            "modes",
            "file",
            "tickets_per_minute",
        }
        print(json.dumps([{"file": None, **s.model_dump(mode="json", include=fields)} for s in summaries], indent=2))
        return EXIT_OK
    if not summaries:
        print("no runs yet")
        return EXIT_OK
    # `done` counts tickets handled; in a dry run, tickets analysed (nothing was written), and the row says
    # so; a row whose tickets were not all handled live names the modes (shadow: nothing written).
    print(f"{'id':<24} {'finished (UTC)':<26} {'total':>6} {'done':>6} {'failed':>6} {'fallback':>8} {'cost $':>9}")
    for s in summaries:
        print(
            f"{s.id:<24} {s.timestamp:<26} {s.total:>6} {s.processed:>6} {s.failed:>6} {s.fallbacks:>8} "
            f"{s.cost_estimate:>9.4f}{'  dry run' if s.dry_run else ''}{_modes_note(s.modes)}"
        )
    return EXIT_OK


def _modes_note(modes: dict[str, int]) -> str:
    """Empty for a run handled live throughout; else e.g. "  shadow 300" or "  live 20, suggest 5"."""
    if set(modes) <= {"live"}:
        return ""
    return "  " + ", ".join(f"{mode} {count}" for mode, count in sorted(modes.items()))


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import services
    from app.ops.report import ReportError, find_summary, render_report
    from app.settings import get_settings

    if args.since is not None:
        return report_days(args)
    if args.json:
        raise CommandError("--json goes with --since (a run's JSON is its summary: `runs --json`)", EXIT_USAGE)
    if args.run_id is None and not args.open:
        raise CommandError("name a run (see `python -m app runs`), or use --open for the newest", EXIT_USAGE)
    settings = get_settings(need_zendesk=False)  # a report reads Redis and LOG_DIR, never Zendesk
    if args.output and not Path(args.output).parent.is_dir():
        raise CommandError(f"{Path(args.output).parent}: no such folder for --output", EXIT_USAGE)
    try:
        summary = find_summary(services.run_store(), settings.operators.log_dir, args.run_id)
    except ReportError as e:
        raise CommandError(str(e)) from None
    output = Path(args.output) if args.output else settings.operators.log_dir / f"report_{summary.id}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(summary), encoding="utf-8")
    print(output)
    if args.open:
        import webbrowser

        webbrowser.open(output.resolve().as_uri())
    return EXIT_OK


def report_days(args: argparse.Namespace) -> int:
    """`report --since 7d`: the report across runs by UTC day, as a page or (--json) on stdout. A
    window without runs is an empty report, said as such on stderr, and exit 0: nothing failed."""
    import sys
    from datetime import UTC, datetime
    from pathlib import Path

    from app import services
    from app.ops.daily import aggregate, collect, render_days
    from app.settings import get_settings

    if args.run_id is not None:
        raise CommandError("name a run or give --since, not both", EXIT_USAGE)
    text, window = args.since
    settings = get_settings(need_zendesk=False)  # a report reads Redis and LOG_DIR, never Zendesk
    if args.output and not Path(args.output).parent.is_dir():
        raise CommandError(f"{Path(args.output).parent}: no such folder for --output", EXIT_USAGE)
    end = datetime.now(UTC)
    start = end - window
    summaries, dead = collect(
        services.run_store(), services.redis_client(), settings.redis.prefix, settings.operators.log_dir, start
    )
    report = {"since": text, **aggregate(summaries, dead, start, end)}
    if not report["runs"]:
        print(f"no runs finished in the last {text} (Redis or {settings.operators.log_dir})", file=sys.stderr)
    if args.json and not args.output:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    output = Path(args.output) if args.output else settings.operators.log_dir / f"report_{text}.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) if args.json else render_days(report, text), encoding="utf-8")
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
    except Exception:
        last_sweep = last_run = None
    # The daily LLM budget, when the fleet's LLM has one: a check, and its figures in --json.
    daily = services.llm_budget() if settings.llm_choice()[0] == "openai" else None
    budget_day: dict[str, Any] = {}

    def budget(daily: Any) -> Any:
        from app.ops.health import budget_check

        day, answered_by = daily.status(), services.budget_fallback_name()
        budget_day["llm_budget"] = {**day.as_json(), "classifying_with": answered_by}
        return budget_check(day, answered_by)

    checks = run_checks(
        settings,
        client,
        ping_workers,
        breakers,
        last_sweep,
        last_run,
        worker_queues,
        lambda: zendesk_checks(settings),
        functools.partial(budget, daily) if daily is not None else None,
    )
    status = overall(checks)
    if args.json:
        print(json.dumps(as_json(checks, **budget_day), indent=2))
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

    checks = [credentials_check(settings.zendesk.credentials, describe_credentials(settings))]
    secret = settings.intake.zendesk_webhook_secret
    try:
        checks.append(
            setup_check(
                check(
                    ZendeskAdmin(services.zendesk()), services.taxonomy(), secret.get_secret_value() if secret else None
                )
            )
        )
    except ZendeskConfigFault:
        checks.append(
            Check(
                "zendesk setup",
                UNHEALTHY,
                "not checked: Zendesk refuses the fleet's credentials (see the zendesk breaker)",
            )
        )
        return checks
    except ZendeskError as e:
        checks.append(Check("zendesk setup", DEGRADED, f"not checked: {e}"))
        return checks
    mode, why = services.priority_mode()
    checks.append(
        Check(
            "priorities",
            HEALTHY,
            (
                "raised by Zendesk's triggers, no Update Ticket request spent"
                if mode == "triggers"
                else "one safe PUT each, at the fleet's share of Update Ticket"
            )
            + f" ({why})",
        )
    )
    return checks
