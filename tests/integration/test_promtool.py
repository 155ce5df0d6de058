"""Debian's promtool checks the Prometheus files under deploy/prometheus: the configuration and
the alert rules are valid, and `promtool test rules` runs every rule's unit tests (synthetic
series, firing and not firing, at the real `for:` durations). Each rule, made never to fire,
fails those tests: none goes untested."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.processes  # each test runs promtool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "prometheus"


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is needed: `apt-get install --no-install-recommends prometheus` (make e2e installs it)")
    return subprocess.run([path, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def rule_names() -> list[str]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


def test_the_configuration_and_its_rule_file_are_valid():
    checked = promtool("check", "config", str(DEPLOY / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = promtool("check", "rules", str(DEPLOY / "alerts.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(rule_names())} rules found" in rules.stdout
    print(rules.stdout)


def test_every_rule_passes_its_unit_tests_and_each_is_tested_firing():
    tests = DEPLOY / "tests" / "alerts_test.yml"
    passed = promtool("test", "rules", str(tests))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    spec = yaml.safe_load(tests.read_text())
    cases = [case for test in spec["tests"] for case in test["alert_rule_test"]]
    for name in rule_names():
        ours = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in ours), f"{name} is never tested firing"
        assert any(not case["exp_alerts"] for case in ours), f"{name} is never tested not firing"


@pytest.mark.parametrize("name", rule_names())
def test_a_rule_that_never_fires_fails_its_unit_tests(tmp_path: Path, name: str):
    """The unit tests see each rule's expression: replaced by one that never fires, they fail."""
    alerts = (DEPLOY / "alerts.yml").read_text()
    broken = re.sub(
        rf"(- alert: {name}\n\s+expr: )(>-\n(?:\s{{10}}.*\n)+|.*\n)", r"\1vector(1) == 0\n", alerts, count=1
    )
    assert broken != alerts
    (tmp_path / "alerts.yml").write_text(broken)
    (tmp_path / "tests").mkdir()
    shutil.copy(DEPLOY / "tests" / "alerts_test.yml", tmp_path / "tests" / "alerts_test.yml")
    assert promtool("check", "rules", str(tmp_path / "alerts.yml")).returncode == 0
    failed = promtool("test", "rules", str(tmp_path / "tests" / "alerts_test.yml"))
    assert failed.returncode != 0 and name in failed.stdout + failed.stderr, failed.stdout


def test_every_dashboard_query_parses_as_promql(tmp_path: Path):
    """promtool parses each panel's query as a recording rule (Grafana's $__rate_interval as 5m)."""
    board = json.loads((ROOT / "deploy" / "grafana" / "triage-fleet.json").read_text())
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    rules = [{"record": f"panel:{n}", "expr": expr.replace("$__rate_interval", "5m")} for n, expr in enumerate(exprs)]
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in checked.stdout
    # promtool does refuse what is not PromQL.
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": [{"record": "x", "expr": "sum by ("}]}]}))
    assert promtool("check", "rules", str(path)).returncode != 0
