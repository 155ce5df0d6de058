"""The Zendesk account: `zendesk setup` makes it ready for the fleet, `zendesk check` verifies it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli.common import EXIT_FAILURES, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from app.cli.common import Commands


def add_zendesk(commands: Commands) -> None:
    zendesk = commands.add_parser("zendesk", help="make the Zendesk account ready for the fleet, or verify it")
    zendesk_commands = zendesk.add_subparsers(dest="zendesk_command", required=True)
    setup = zendesk_commands.add_parser(
        "setup", help="create or repair the webhook, its signing secret and the fleet's triggers (idempotent)"
    )
    setup.add_argument(
        "--webhook-url",
        required=True,
        help="where Zendesk reaches `python -m app webhook`, e.g. https://triage.example.com/zendesk/webhook",
    )
    setup.add_argument(
        "--env-file",
        help="write ZENDESK_WEBHOOK_SECRET=<signing secret> into this file (mode 0600); the secret is never printed",
    )
    setup.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    zendesk_commands.add_parser(
        "check",
        help="exit 0 when every object setup makes is present, active and as setup "
        "makes it; otherwise name each one that is not",
    )
    zendesk.set_defaults(handler=cmd_zendesk)


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
    print(f"Zendesk {settings.zendesk.base_url} ({describe_credentials(settings)})", file=sys.stderr)
    return ZendeskAdmin(ZendeskClient(settings.zendesk.base_url, auth, timeout=settings.zendesk.timeout))


def describe_credentials(settings: Any) -> str:
    """The credentials in words, never their secret part."""
    if settings.zendesk.credentials == "oauth":
        return f"OAuth client {settings.zendesk.oauth_client_id!r}, scope {settings.zendesk.oauth_scope!r}"
    return f"API token of {settings.zendesk.email} (until 2027-04-30)"


def cmd_zendesk(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import services
    from app.clients.zendesk import ZendeskError
    from app.ops.zendesk_setup import Setup, SetupError, check, write_env_secret
    from app.settings import get_settings

    try:
        admin = _admin_client()
        if args.zendesk_command == "check":
            configured = get_settings().intake.zendesk_webhook_secret
            findings = check(admin, services.taxonomy(), configured.get_secret_value() if configured else None)
            for finding in findings:
                print(f"not ready: {finding}")
            print(
                "every object is present, active and as setup makes it"
                if not findings
                else f"{len(findings)} problem(s); `python -m app zendesk setup --webhook-url URL` repairs them"
            )
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
