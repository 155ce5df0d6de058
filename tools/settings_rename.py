"""Rewrite uses of the flat settings (`settings.zendesk_url`) to the grouped ones (`settings.zendesk.url`).

    python tools/settings_rename.py FILE_OR_DIR...          rewrite in place, print what changed
    python tools/settings_rename.py --check FILE_OR_DIR...  change nothing; exit 1 if anything would change
    python tools/settings_rename.py --suspects FILE_OR_DIR...  also list old names read off other receivers

Kept so code written against the flat settings (a branch that moved modules meanwhile) can be
brought over by running it again. It rewrites an attribute access whose receiver is a settings
object by name: `settings.X`, `self.settings.X`, `self._settings.X`, `fleet_settings.X`,
`get_settings().X`, `get_settings(need_zendesk=False).X`, `services._settings().X`, `Settings().X`.
Running it twice changes nothing the second time.

Not rewritten, to do by hand: field names given as keywords or keys (`Settings(log_dir=...)`,
`settings.model_copy(update={"log_dir": ...})`), and a settings object under another name
(`cfg.log_dir`). `--suspects` lists `.X` accesses of old names on other receivers (many are other
objects' own attributes, such as `stack.redis_url`) for a person to look at.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

# Old flat attribute -> new path under Settings. A field's old name is its environment variable in
# lower case; the new one drops the group's prefix (ZENDESK_, LLM_, REDIS_, LOCAL_) where it has it.
RENAMES: dict[str, str] = {
    # zendesk
    "zendesk_url": "zendesk.url",
    "zendesk_subdomain": "zendesk.subdomain",
    "zendesk_oauth_client_id": "zendesk.oauth_client_id",
    "zendesk_oauth_client_secret": "zendesk.oauth_client_secret",
    "zendesk_oauth_scope": "zendesk.oauth_scope",
    "zendesk_oauth_token_lifetime": "zendesk.oauth_token_lifetime",
    "zendesk_email": "zendesk.email",
    "zendesk_api_token": "zendesk.api_token",
    "zendesk_timeout": "zendesk.timeout",
    "zendesk_rate_limit": "zendesk.rate_limit",
    "zendesk_update_rate_limit": "zendesk.update_rate_limit",
    "zendesk_update_share": "zendesk.update_share",
    "zendesk_export_rate_limit": "zendesk.export_rate_limit",
    "zendesk_incremental_rate_limit": "zendesk.incremental_rate_limit",
    "zendesk_rate_window": "zendesk.rate_window",
    "zendesk_breaker_fail_max": "zendesk.breaker_fail_max",
    "zendesk_breaker_reset_timeout": "zendesk.breaker_reset_timeout",
    # llm
    "llm_provider": "llm.provider",
    "openai_api_key": "llm.openai_api_key",
    "llm_base_url": "llm.base_url",
    "llm_model": "llm.model",
    "llm_timeout": "llm.timeout",
    "llm_sdk_max_retries": "llm.sdk_max_retries",
    "llm_attempts": "llm.attempts",
    "llm_max_tokens": "llm.max_tokens",
    "llm_rpm": "llm.rpm",
    "llm_tpm": "llm.tpm",
    "llm_rate_window": "llm.rate_window",
    "llm_temperature": "llm.temperature",
    "llm_cache_ttl": "llm.cache_ttl",
    "llm_breaker_fail_max": "llm.breaker_fail_max",
    "llm_breaker_reset_timeout": "llm.breaker_reset_timeout",
    "llm_price_input_per_mtok": "llm.price_input_per_mtok",
    "llm_price_output_per_mtok": "llm.price_output_per_mtok",
    "taxonomy_file": "llm.taxonomy_file",
    # redis
    "redis_url": "redis.url",
    "broker_url": "redis.broker_url",
    "redis_sentinels": "redis.sentinels",
    "redis_master_name": "redis.master_name",
    "redis_prefix": "redis.prefix",
    # intake
    "zendesk_webhook_secret": "intake.zendesk_webhook_secret",
    "webhook_host": "intake.webhook_host",
    "webhook_port": "intake.webhook_port",
    "sweep_interval": "intake.sweep_interval",
    "sweep_max_tickets": "intake.sweep_max_tickets",
    "claim_ttl": "intake.claim_ttl",
    "done_ttl": "intake.done_ttl",
    # learning
    "local_model_path": "learning.model_path",
    "local_gate_confidence": "learning.gate_confidence",
    "local_gate_audit_share": "learning.gate_audit_share",
    # operators
    "log_dir": "operators.log_dir",
    "log_retention_days": "operators.log_retention_days",
    "log_format": "operators.log_format",
    "alert_webhook_url": "operators.alert_webhook_url",
    "alert_failure_rate": "operators.alert_failure_rate",
    "alert_slow_seconds": "operators.alert_slow_seconds",
    "alert_cooldown": "operators.alert_cooldown",
    "flower_basic_auth": "operators.flower_basic_auth",
    # workers
    "update_mode": "workers.update_mode",
    "priority_mode": "workers.priority_mode",
    "bulk_min_tickets": "workers.bulk_min_tickets",
    "bulk_batch_size": "workers.bulk_batch_size",
    "bulk_poll_interval": "workers.bulk_poll_interval",
    "bulk_job_timeout": "workers.bulk_job_timeout",
    "bulk_max_jobs": "workers.bulk_max_jobs",
    "worker_update_rate_limit": "workers.worker_update_rate_limit",
    "rate_limit_max_sleep": "workers.rate_limit_max_sleep",
    "rate_limit_max_sleep_threads": "workers.rate_limit_max_sleep_threads",
    "update_max_retries": "workers.update_max_retries",
    "retry_max_countdown": "workers.retry_max_countdown",
    "broker_visibility_timeout": "workers.broker_visibility_timeout",
    # derived values and helpers
    "zendesk_credentials": "zendesk.credentials",
    "missing_zendesk": "zendesk.missing",
    "credential_warnings": "zendesk.credential_warnings",
    "zendesk_fleet_update_limit": "zendesk.fleet_update_limit",
    "zendesk_base_url": "zendesk.base_url",
    "llm_completion_tokens": "llm.completion_tokens",
    "llm_price_override": "llm.price_override",
    "bulk_updates": "workers.bulk_updates",
    "sentinel_addresses": "redis.sentinel_addresses",
    "uses_sentinel": "redis.uses_sentinel",
    "redis_db": "redis.db",
    "redis_username": "redis.username",
    "redis_password": "redis.password",
    "effective_broker_url": "redis.effective_broker_url",
    "result_backend_url": "redis.result_backend_url",
    "sentinel_transport_options": "redis.sentinel_transport_options",
    "redbeat_redis_url": "redis.redbeat_redis_url",
    "redbeat_redis_options": "redis.redbeat_redis_options",
}

GROUPS = {path.split(".")[0] for path in RENAMES.values()}
_OLD = "|".join(sorted(RENAMES, key=len, reverse=True))
# A receiver named like a settings object, optionally called with simple arguments, then .OLD
# (the lookahead keeps `redis_url` from matching `redis_url_x`).
ACCESS = re.compile(r"(?P<receiver>\b\w*[Ss]ettings(?:\([^()]*\))?)\.(?P<old>" + _OLD + r")\b(?!\w)")
OTHER_RECEIVER = re.compile(r"(?P<receiver>\b\w+(?:\([^()]*\))?)\.(?P<old>" + _OLD + r")\b(?!\w)")


def rewrite(text: str) -> tuple[str, int]:
    """The text with every settings access renamed, and how many were."""
    return ACCESS.subn(lambda m: f"{m['receiver']}.{RENAMES[m['old']]}", text)


def suspicious(text: str) -> list[tuple[int, str]]:
    """(line number, line) for old names read off receivers that are not named like settings."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in OTHER_RECEIVER.finditer(line):
            receiver = match["receiver"]
            if not ACCESS.match(line, match.start()) and receiver not in GROUPS and receiver != "services":
                found.append((number, line.strip()))
    return found


def python_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        files += sorted(p for p in path.rglob("*.py") if ".venv" not in p.parts) if path.is_dir() else [path]
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="Python files, or directories to walk")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything would change")
    parser.add_argument("--suspects", action="store_true", help="list old names read off other receivers")
    args = parser.parse_args(argv)
    changed = 0
    for path in python_files(args.paths):
        if path.resolve() == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        new_text, count = rewrite(text)
        if count:
            changed += 1
            print(f"{path}: {count} rename(s)")
            if not args.check:
                path.write_text(new_text, encoding="utf-8")
        for number, line in suspicious(new_text) if args.suspects else []:
            print(f"{path}:{number}: look at this by hand: {line}", file=sys.stderr)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
