"""What operators deploy beside the fleet (deploy/): the Grafana dashboard shows every metric family
the exporter serves and names no other; the alert rules read only the exporter's metrics, keep
health's thresholds, and each names its runbook entry in docs/operations.md; the scrape config
points at the exporter's default port. (promtool parses them: tests/integration/test_promtool.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fakeredis
import yaml

from app.fleet import budget
from app.ops import health
from app.ops.metrics import registry
from app.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "triage-fleet.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
SUFFIXES = ("_total", "_bucket", "_sum", "_count")
# A metric name in a PromQL expression (the fleet's all start with triage_).
METRIC_TOKEN = re.compile(r"\btriage_[a-z_]+\b")


def exporter_families() -> set[str]:
    """Every family `python -m app metrics` serves (with SWEEP_INTERVAL, as the command gives it)."""
    return {family.name for family in registry(fakeredis.FakeRedis(), "p:", sweep_interval=60.0).collect()}


def family_of(token: str) -> str:
    for suffix in SUFFIXES:
        if token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panel_exprs() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def alert_rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_every_exporter_family_has_a_panel_and_every_panel_reads_only_exporter_families():
    families = exporter_families()
    # the 15, the exporter's own gauge, the three for the alerts, tickets by mode and the daily
    # LLM budget's four
    assert len(families) >= 24
    shown = {family_of(token) for expr in panel_exprs() for token in METRIC_TOKEN.findall(expr)}
    assert families - shown == set(), "families without a panel"
    assert shown - families == set(), "panels reading metrics the exporter does not serve"
    # A counter is read through its _total samples, a histogram through its buckets, never bare.
    for expr in panel_exprs():
        for token in METRIC_TOKEN.findall(expr):
            if token in ("triage_tickets", "triage_llm_cost_usd", "triage_created_to_written_seconds"):
                raise AssertionError(f"{token} has no sample of that name: {expr}")


def test_the_dashboard_is_grafana_json_on_the_prometheus_datasource_variable():
    board = dashboard()
    assert 36 <= board["schemaVersion"] <= 41 and board["uid"] == "triage-fleet"
    (variable,) = board["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == ("DS_PROMETHEUS", "datasource", "prometheus")
    assert variable["current"]["value"] == "prometheus"  # the datasource the provisioning names
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"] and all(t["datasource"] == panel["datasource"] for t in panel["targets"])
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_the_alert_rules_read_exporter_metrics_keep_healths_thresholds_and_name_their_runbook():
    families = exporter_families()
    rules = alert_rules()
    for name, rule in rules.items():
        tokens = {family_of(token) for token in METRIC_TOKEN.findall(rule["expr"])}
        assert tokens and tokens <= families, (name, tokens - families)
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name
        assert f'"Prometheus alerts", {name}.' in rule["annotations"]["description"], name
    assert re.search(rf"> {health.STALE_INTAKE}$", rules["TriageIntakeStale"]["expr"])
    assert re.search(rf"> {health.DEEP_QUEUE}$", rules["TriageQueueDeep"]["expr"])
    assert "2 * triage_sweep_interval_seconds" in rules["TriageNoRecentSweep"]["expr"]
    # The budget's Prometheus alert marks the share the fleet's own 80% alert does.
    assert re.search(rf">= {budget.WARN_SHARE}$", rules["TriageLlmBudgetHigh"]["expr"])
    # The runbook: one entry per alert under the section the annotations name.
    docs = (ROOT / "docs" / "operations.md").read_text()
    section = docs.split("\n### Prometheus alerts\n", 1)[1].split("\n### ", 1)[0]
    for name in rules:
        assert f"**{name}**" in section, f"no runbook entry for {name}"


def test_the_scrape_config_reads_the_exporter_and_flower_and_loads_the_rules():
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    default = OperatorSettings()
    assert jobs["triage-fleet"]["static_configs"][0]["targets"] == [f"{default.metrics_host}:{default.metrics_port}"]
    assert jobs["flower"]["static_configs"][0]["targets"] == ["127.0.0.1:5555"]
