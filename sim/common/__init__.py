"""Plumbing shared by the simulators in this package.

Every simulator is an aiohttp application with in-memory state that validates its runtime
settings the same way (``settings``), answers errors through ``ApiError`` and keeps the same
/_sim basics (``web``), rate-limits with sliding windows (``ratelimit``), and runs either from
its command line until SIGTERM/SIGINT or in a background thread for tests (``serving``).
What differs between them (routes, wire formats, state) stays in their own packages.
"""

from sim.common.ratelimit import SlidingWindow
from sim.common.serving import (
    RunningSimulator,
    parse_config,
    run_command_line,
    serve_in_thread,
    serve_until_signalled,
    start_site,
)
from sim.common.settings import (
    BaseSimConfig,
    Setting,
    SimConfigError,
    check_fields,
    checked_changes,
    checked_setting,
    option,
)
from sim.common.web import (
    STATE_KEY,
    ApiError,
    NotAJsonObject,
    add_sim_routes,
    answer,
    api_middleware,
    in_flight,
    json_object,
    new_app,
    sim_request,
    state_of,
)

__all__ = [
    "STATE_KEY",
    "ApiError",
    "BaseSimConfig",
    "NotAJsonObject",
    "RunningSimulator",
    "Setting",
    "SimConfigError",
    "SlidingWindow",
    "add_sim_routes",
    "answer",
    "api_middleware",
    "check_fields",
    "checked_changes",
    "checked_setting",
    "in_flight",
    "json_object",
    "new_app",
    "option",
    "parse_config",
    "run_command_line",
    "serve_in_thread",
    "serve_until_signalled",
    "sim_request",
    "start_site",
    "state_of",
]
