"""Zendesk Support API simulator that speaks the real wire protocol.

One aiohttp process with in-memory state. A client written for real Zendesk (for example
``requests.Session`` with an OAuth bearer token, or Basic auth ``{email}/token:{token}``) works
against it unchanged. It follows Zendesk's documentation strictly and, where the documentation
is silent, takes the less forgiving reading, so a client that works here does not lean on
leniency:

* authentication by OAuth access tokens from the client credentials grant (``POST
  /oauth/tokens`` with a JSON body: ``--oauth-client-id``/``--oauth-client-secret``, the
  client's ``--oauth-allowed-scopes``; ``expires_in`` between 300 and 172,800 s, 1,800 s without
  it, capped by ``--token-ttl``), which expire and can be revoked (``DELETE
  /api/v2/oauth/tokens/current``, ``--revoke-tokens-after``, ``POST /_sim/oauth/revoke``: then
  401 ``invalid_token``) and whose scopes are enforced per endpoint (403 outside them; a scope
  Zendesk does not know still gets a token, which is then refused everywhere); API tokens
  pass only with ``--auth both`` (the default) and never from 2027-04-30; token requests count
  against the account rate limit;
* the Webhooks API (no ``.json`` suffix): cursor-paged list with filters, create, show, full
  update, patch, delete, a signing secret per webhook (shown and reset on its own endpoint);
  https endpoints only, except to the loopback host;
* trigger categories and ticket triggers (offset or cursor pages, create, show, update where
  conditions or actions replace both arrays, update_many, delete), validated (422) and run as
  Zendesk runs them on every creation and update, API updates included: in order, each at
  most once per update, from the top again after one changes the ticket, never on closed
  tickets; their changes join the update's audit (via the rule);
* webhook deliveries, signed with the webhook's own secret and retried as Zendesk retries:
  from triggers' ``notification_webhook`` actions (placeholders rendered) and to webhooks
  subscribed to ``zen:event-type:ticket.created``; ``--webhook-repeat`` and ``--webhook-drop``
  make them come twice or not at all;

* tickets, comments, single updates (``tags`` replaces, ``additional_tags`` adds,
  ``safe_update`` answers 409 on a stale ``updated_stamp``), deletes, ``show_many``,
  ``users/me`` (the API user, an admin);
* ticket audits, oldest first, by offset (``next_page``) or cursor (``page[size]``, at most
  100): the customer's Create audit, an audit for every API write (author: the API user) and
  every simulated agent's edit (author: the agent); an update that changes nothing leaves none;
* with ``--solved N``, a solved history created 1 to 180 days ago (ids after the open
  tickets', its own generator so a seed's open tickets stay the same): about 60% triaged by
  the fleet (``ai_`` tags, an "AI Analysis:" note, a priority raise), about 70% of its wrong
  labels corrected by agents in later audits; ``GET /_sim/history`` tells what was planted;
* ``update_many`` as an asynchronous job polled through ``job_statuses``: jobs stay queued
  (``--job-delay-ms``, 2 s by default), then work through their tickets one by one
  (``--job-item-ms`` each, polls see ``working`` and ``progress``); at most ``--max-jobs``
  (30) jobs may be queued or working per account, beyond that 429 ``TooManyJobs`` without
  ``Retry-After``; ``safe_update``/``updated_stamp`` inside its items are ignored (they are
  documented for single-ticket updates only) unless ``--bulk-safe-update``; a job status
  answers 404 ``--job-ttl`` seconds after its job finished;
* search that sees an index lagging behind the live data (30 s by default; seeded tickets
  are indexed from the start), capped at 1,000 results per query (a page starting at
  offset 1,000 is a 422, and ``next_page`` still points there, as it does on real Zendesk);
* the cursor-based export without that cap, held to its reference: the type goes in
  ``filter[type]`` and a ``type:`` term in the query is a 400; ``page[size]`` outside
  1..1,000 is a 400, not clamped; results come in ``created_at`` order (ties by id);
  cursors expire after ``--cursor-ttl`` seconds (an hour); there is no backward paging
  (``page[before]`` is a 400, ``links.prev`` is always null); its own limit of
  ``--export-rate-limit`` (100) requests per window on top of the account limit;
* the cursor-based Incremental Ticket Export: every ticket (solved and deleted ones too) changed
  since ``start_time``, in ``updated_at`` order, leaving out the last ``--incremental-delay``
  seconds (a minute; a later ``start_time`` is a 422); ``per_page`` up to 1,000 (a 400 beyond);
  an ``after_cursor`` on every page to come back for later changes; ``end_of_stream``;
* the account-wide, Update Ticket, export and incremental export (10 a minute) rate limits
  (sliding windows, 429 + ``Retry-After``); every request, job status polls included, counts
  against the account;
* simulated agents editing tickets in the UI (``--agent-edit-rate``): their edits use up
  the Update Ticket budget, as real agents' edits do, but are never refused;
* simulated agents finishing tickets (``POST /_sim/agents/finish``, ``sim.zendesk.agents``): one
  update each in the UI, as above, that sets the default taxonomy's fields (their tags) and the
  priority to the planted truth or, at ``--agent-error-rate`` per field, a wrong value, and
  solves the ticket; what each agent decided shows in ``GET /_sim/tickets/{id}``;
* injected latency, random errors, outage windows and per-ticket update failures.

Unauthenticated ``/_sim/*`` endpoints expose statistics (``write_requests`` and
``writes_by_endpoint`` count every /api/v2 PUT, POST, PATCH and DELETE, answered or refused, the
OAuth token endpoints left out), runtime configuration and backdoors (creating tickets, agent
edits, agents finishing tickets, full ticket records, the planted history, revoking every
token) for demos, tests and benchmarks; docs/testing.md describes them. Run ``python -m
sim.zendesk --help`` for the options; import ``create_app`` or ``running_simulator`` to embed it.

The package: ``config`` (SimConfig, the command line and the runtime settings), ``wire``
(Zendesk's vocabulary, limits, error bodies, ticket records and audits), ``search`` (the
lagging index and the query engine), ``history`` (the solved history's plan), ``agents``
(agents finishing tickets), ``state`` (SimState), ``cursors`` (signed pagination cursors and
cursor pages), ``handlers`` (/api/v2 tickets, search, jobs), ``incremental`` (the incremental
export), ``oauth`` (the token endpoint, tokens, scopes), ``webhooks_api`` (the Webhooks API),
``triggers`` (trigger categories, triggers and how they run), ``triggers_api`` (their /api/v2
endpoints), ``webhooks`` (deliveries), ``backdoors`` (/_sim) and ``app`` (middleware, routes,
background tasks, and the ways to run it).
"""

from sim.zendesk.app import create_app, main, running_simulator, state_of
from sim.zendesk.config import RUNTIME_SETTINGS, SimConfig, parse_args
from sim.zendesk.state import SimState
from sim.zendesk.wire import TicketRecord

__all__ = [
    "RUNTIME_SETTINGS",
    "SimConfig",
    "SimState",
    "TicketRecord",
    "create_app",
    "main",
    "parse_args",
    "running_simulator",
    "state_of",
]
