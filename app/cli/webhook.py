"""Receiving Zendesk's signed webhooks: `webhook`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from app.cli.common import EXIT_OK, listening, port_number

if TYPE_CHECKING:
    from app.cli.common import Commands


def add_webhook(commands: Commands) -> None:
    webhook = commands.add_parser("webhook", help="serve POST /zendesk/webhook for Zendesk's signed webhooks")
    webhook.add_argument("--host", help="address to listen on (default WEBHOOK_HOST, 0.0.0.0)")
    webhook.add_argument("--port", type=port_number, help="port (default WEBHOOK_PORT, 8090)")
    webhook.set_defaults(handler=cmd_webhook)


def cmd_webhook(args: argparse.Namespace) -> int:
    from app.intake.webhook import serve
    from app.logs import setup_file_logging
    from app.settings import get_settings

    settings = get_settings()
    setup_file_logging(settings)
    host = args.host or settings.intake.webhook_host
    port = args.port or settings.intake.webhook_port
    listening(lambda: serve(host, port), host, port, "WEBHOOK_PORT")
    return EXIT_OK
