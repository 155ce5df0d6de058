"""What the fleet's stages use, handed to them instead of looked up: app.services.fleet() builds it,
in one place, and the tasks (workers/) and the command line pass it in. A test builds one from fakes.

Each field gives its object when called, not before: a process builds only what its work uses (a
classify task no Zendesk client, a dry run no writer), as cheaply as before, and the long-lived
objects stay app.services' (one per process, rebuilt after a fork).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.clients.zendesk import ZendeskClient
from app.domain.rules import Classifier
from app.domain.taxonomy import Taxonomy
from app.fleet.claims import Claims, DeadLetters
from app.fleet.intake import IntakeQueue
from app.fleet.meters import Meters
from app.fleet.predictions import PredictionStore
from app.fleet.store import BulkJobLog, JobSlots, RunStore
from app.ops.alerts import Alerts
from app.settings import Settings


@dataclass(frozen=True)
class Fleet:
    settings: Callable[[], Settings]
    claims: Callable[[], Claims]
    dead_letters: Callable[[], DeadLetters]
    run_store: Callable[[], RunStore]
    intake_queue: Callable[[], IntakeQueue]
    bulk_jobs: Callable[[], BulkJobLog]
    job_slots: Callable[[], JobSlots]
    taxonomy: Callable[[], Taxonomy]
    classifier: Callable[[], Classifier]
    zendesk: Callable[[], ZendeskClient]
    alerts: Callable[[], Alerts]
    # The fleet's Prometheus counters in Redis (app.fleet.meters).
    meters: Callable[[], Meters]
    # Every ticket's prediction, for `python -m app accuracy` (app.fleet.predictions).
    predictions: Callable[[], PredictionStore]
    # Who raises priorities: the fleet's triggers (True) or safe PUTs; may ask Zendesk.
    priority_by_triggers: Callable[[], bool]
    # How long a call may wait in place for a quota token (depends on the calling thread).
    max_sleep: Callable[[Settings], float]
