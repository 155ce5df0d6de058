"""The Zendesk simulator's configuration: its command line, its defaults and what may change at run time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.common import BaseSimConfig, SimConfigError, option, parse_config
from sim.zendesk.oauth import valid_scope

# --auth: "both" accepts API tokens and OAuth bearer tokens; "oauth" refuses API tokens, as a
# new account does and every account will from 2027-04-30.
AUTH_MODES = ("both", "oauth")

# Settings that POST /_sim/config may change while running:
# name -> (type, minimum, maximum) or, for strings, (str, None, None[, choices]).
RUNTIME_SETTINGS: dict[str, tuple[Any, ...]] = {
    "latency_ms": (float, 0, None),
    "error_ratio": (float, 0, 1),
    "error_status": (int, 400, 599),
    "rate_limit": (int, 1, None),
    "update_rate_limit": (int, 1, None),
    "rate_window": (float, 0.001, None),
    "index_lag": (float, 0, None),
    "arrival_rate": (float, 0, None),
    "job_delay_ms": (float, 0, None),
    "job_item_ms": (float, 0, None),
    "job_ttl": (float, 0, None),
    "max_jobs": (int, 1, None),
    "bulk_safe_update": (bool, 0, None),
    "export_rate_limit": (int, 1, None),
    "incremental_rate_limit": (int, 1, None),
    "incremental_delay": (float, 0, None),
    "cursor_ttl": (float, 0.001, None),
    "agent_edit_rate": (float, 0, None),
    "agent_error_rate": (float, 0, 1),
    "token_ttl": (float, 0, None),
    "oauth_client_secret": (str, None, None),  # rotated mid-run: tokens issued before stay valid
    "auth": (str, None, None, AUTH_MODES),
}


@dataclass
class SimConfig(BaseSimConfig):
    """Everything the simulator can be told on its command line (same names, underscored).

    Each field is an option of ``python -m sim.zendesk`` with its help (sim.common.parse_config);
    the options every simulator has come first (sim.common.BaseSimConfig).
    """

    RUNTIME_SETTINGS = RUNTIME_SETTINGS

    port: int = option(8081, "0 picks a free port")
    error_ratio: float = option(0.0, "share of /api/v2 requests that fail with --error-status")
    error_status: int = 503
    tickets: int = option(200, "tickets seeded at start")
    # Their ids follow the open tickets' and they come from a generator of their own, so a seed
    # seeds the same open tickets with or without them (sim.zendesk.history).
    solved: int = option(
        0,
        "solved tickets seeded as history, created 1 to 180 days ago; about 60%% "
        "triaged by the fleet (ai_ tags, note), some of its labels corrected by agents",
    )
    email: str = option("triage-bot@example.com", "API user; log in as EMAIL/token")
    token: str = option("sim-api-token", "API token (the Basic auth password)")
    # https://developer.zendesk.com/documentation/api-basics/authentication/oauth-migration/
    auth: str = option(
        "both",
        "both: API tokens and OAuth bearer tokens pass; oauth: API tokens are "
        "refused (401), as on a new account. API tokens are refused anyway "
        "from 2027-04-30, when Zendesk turns them all off",
        choices=AUTH_MODES,
    )
    # https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/
    oauth_client_id: str = option(
        "triage-fleet",
        "the OAuth client's identifier (client_id of the client credentials grant at POST /oauth/tokens)",
    )
    oauth_client_secret: str = option("sim-oauth-secret", "the OAuth client's secret")
    oauth_allowed_scopes: str = option(
        "read write",
        'the client\'s "Allowed scopes", space separated: a token request asking for more is a 400 invalid_scope',
    )
    token_ttl: float = option(
        0.0, "when > 0, no access token lives longer than this many seconds, whatever expires_in asked (0: off)"
    )
    revoke_tokens_after: float = option(
        0.0, "seconds after start at which every live access token is revoked, once (0: never)"
    )
    latency_ms: float = option(0.0, "added to every /api/v2 response")
    # New tickets take minutes to appear in real search results; tens of seconds by default here.
    index_lag: float = option(
        30.0, "seconds before a new or changed ticket is visible to search (seeded tickets are indexed from the start)"
    )
    rate_limit: int = option(700, "account requests per window")
    update_rate_limit: int = option(100, "PUT /api/v2/tickets/{id} per window (agents' UI edits count too)")
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    # (its own limit of 100 requests per minute, on top of the account limit)
    export_rate_limit: int = option(100, "GET /api/v2/search/export per window, on top of the account limit")
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
    # ("You can make up to 10 requests per minute to these endpoints", on top of the account limit)
    incremental_rate_limit: int = option(
        10, "GET /api/v2/incremental/tickets/cursor per window, on top of the account limit"
    )
    # https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api
    # ("items that were created or changed within the minute prior to your request are excluded")
    incremental_delay: float = option(
        60.0, "seconds before a change shows in the incremental export; a start_time later than that ago is a 422"
    )
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    # (a cursor lives an hour)
    cursor_ttl: float = option(3600.0, "seconds an export cursor stays valid after it was issued")
    outage_start: float = option(0.0, "seconds after start when the outage begins")
    outage_seconds: float = option(0.0, "length of the outage (0: none)")
    arrival_rate: float = option(0.0, "new tickets per minute while running")
    job_delay_ms: float = option(2000.0, "time an update_many job stays queued")
    job_item_ms: float = option(20.0, "time a working update_many job spends on each ticket")
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/
    # (statuses expire; an hour is the short end of what Zendesk keeps)
    job_ttl: float = option(3600.0, "seconds a finished job's status can still be read (then 404)")
    # https://developer.zendesk.com/api-reference/introduction/rate-limits/ ("Job limit")
    max_jobs: int = option(30, "jobs that may be queued or working at once; update_many answers 429 TooManyJobs beyond")
    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-many-tickets
    # documents safe_update for single-ticket updates only: ignored in update_many unless set.
    bulk_safe_update: bool = option(
        False,
        "honour safe_update/updated_stamp inside update_many items "
        "(Zendesk documents them for single-ticket updates only)",
    )
    agent_edit_rate: float = option(
        0.0,
        "edits per minute by simulated agents (raise priority to urgent "
        "or tag agent_reviewed); they use up the Update Ticket budget",
    )
    # POST /_sim/agents/finish: agents who finish tickets decide each field of the default
    # taxonomy right (the planted truth) or, at this rate per field, wrong.
    agent_error_rate: float = option(
        0.0,
        "share of fields agents who finish tickets (POST /_sim/agents/finish) decide wrong, "
        "against the planted truth (0..1)",
    )
    non_english_share: float = option(0.1, "share of generated tickets in German, Spanish, French or Portuguese")
    # https://developer.zendesk.com/documentation/webhooks/troubleshooting/ (delivery is at least
    # once). Webhooks and the triggers that call them are made through the API.
    webhook_repeat: float = option(0.0, "share of deliveries sent a second time (delivery is at least once)")
    webhook_drop: float = option(0.0, "share of deliveries never sent (Zendesk paused the webhook)")
    # Zendesk's documentation is silent on plain http endpoints: https is required, except to these.
    http_webhook_hosts: str = option(
        "127.0.0.1,localhost,::1",
        "comma-separated hosts a webhook may "
        "reach over plain http (default the loopback ones; e.g. a compose "
        "network's receiver); every other endpoint must be https",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.tickets, self.solved, self.outage_start, self.outage_seconds) < 0:
            raise SimConfigError("tickets, solved, outage_start and outage_seconds must be >= 0")
        if not 0 <= self.non_english_share <= 1:
            raise SimConfigError("non_english_share must be between 0 and 1")
        if self.revoke_tokens_after < 0:
            raise SimConfigError("revoke_tokens_after must be >= 0")
        if not self.oauth_client_id.strip():
            raise SimConfigError("oauth_client_id must be a non-blank string")
        scopes = self.oauth_allowed_scopes.split()
        unknown = [scope for scope in scopes if not valid_scope(scope)]
        if not scopes or unknown:
            raise SimConfigError(
                f"oauth_allowed_scopes must name Zendesk scopes (read, write, "
                f"tickets:read ...); not {' '.join(unknown) or 'nothing'}"
            )
        if not (0 <= self.webhook_repeat <= 1 and 0 <= self.webhook_drop <= 1):
            raise SimConfigError("webhook_repeat and webhook_drop must be between 0 and 1")


def parse_args(argv: list[str] | None = None) -> SimConfig:
    """Read the command line of ``python -m sim.zendesk`` into a SimConfig."""
    return parse_config(SimConfig, "sim.zendesk", argv)
