"""Receiving Zendesk's signed webhooks: `webhook`."""

from __future__ import annotations

import argparse
import errno
import os
from typing import TYPE_CHECKING

from app.cli.common import EXIT_OK, EXIT_USAGE, CommandError, port_number

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
    try:
        serve(host, port)
    except OSError as e:
        # Binding is the receiver's first use of the network: these say the address is not its to take.
        if e.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} is in use on {host}: another process listens there; stop it, or choose "
                "another with --port or WEBHOOK_PORT",
                EXIT_USAGE,
            ) from None
        if e.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            raise CommandError(f"cannot listen on {host}:{port}: {os.strerror(e.errno).lower()}", EXIT_USAGE) from None
        raise
    return EXIT_OK
