"""End to end: real Redis, real `celery -A app worker|beat` processes, the Zendesk simulator.

Each test runs its own simulator and its own Redis key prefix, so tests (and a fleet sharing the
server) never see each other's tickets, queues or results.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest

from app.redaction.redactor import EMAIL_RE
from sim.launcher.stack import LocalStack, wait_until
from tests.e2e.scenarios import FAST_ZENDESK

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    return new_stack("runs")


def summaries(stack: LocalStack) -> list[dict]:
    return stack.summaries(50)


def assert_each_ticket_once(stats: dict, expected: int) -> None:
    assert stats["tickets_ai_processed"] == expected
    assert stats["max_ai_notes_per_ticket"] == 1
    assert stats["notes_total"] == expected
    assert stats["tickets_lost_tags"] == 0
    assert stats["tickets_priority_lowered"] == 0


def test_150_tickets_two_workers_two_racing_sweeps(stack: LocalStack):
    """Every ticket tagged once with one note, across two workers and two concurrent sweeps."""
    stack.tickets = 150
    stack.sim_options = [*FAST_ZENDESK, "--index-lag", "2"]
    stack.start_simulator()
    stack.start_worker("alpha", autoscale="6,3")
    stack.start_worker("bravo", autoscale="6,3")
    stack.wait_for_workers(2)

    racers = [stack.start_app("run", "--wait", "--timeout", "240") for _ in range(2)]
    outputs = [racer.communicate(timeout=300) for racer in racers]
    for racer, (out, err) in zip(racers, outputs):
        assert racer.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"

    stats = stack.stats()
    assert stats["tickets_total"] == 150
    assert_each_ticket_once(stats, 150)
    runs = summaries(stack)
    # The two sweeps split the tickets between them (one may have found all of them claimed).
    assert sum(run["total"] for run in runs) == 150
    assert sum(run["processed"] for run in runs) == stats["tickets_ai_processed"]
    assert all(run["failed"] == 0 for run in runs)
    ticket_ids = [result["ticket_id"] for run in runs for result in run["results"]]
    assert len(ticket_ids) == len(set(ticket_ids)) == 150
    # Both workers did part of the work (the two node names really raced).
    worked = [name for name in ("alpha", "bravo") if "triage.classify" in (stack.workdir / f"{name}.log").read_text()]
    assert worked == ["alpha", "bravo"]
    # A run of BULK_MIN_TICKETS (50) or more writes tags and notes through update_many jobs; only its
    # priority raises take a PUT each (update_many cannot protect an agent's priority). A sweep that
    # lost most of the race may claim a small remainder: those tickets take one PUT each.
    bulk_runs = [run for run in runs if run["total"] >= 50]
    small_run_tickets = sum(run["total"] for run in runs if run["total"] < 50)
    raised_in_bulk = sum(1 for run in bulk_runs for r in run["results"] if r["priority_set"])
    assert bulk_runs and stats["requests_by_endpoint"]["update_many"] >= 2
    assert stats["requests_by_endpoint"]["ticket_update"] == raised_in_bulk + small_run_tickets
    # No personal data from the tickets in any worker log line (ids only, return values hidden).
    emails = {
        m for i in range(1, 151) for m in EMAIL_RE.findall(stack.sim(f"/_sim/tickets/{i}")["ticket"]["description"])
    }
    assert len(emails) > 10  # the simulator seeds personal data, so this check means something
    logs = "".join((stack.workdir / f"{name}.log").read_text() for name in ("alpha", "bravo"))
    assert [e for e in emails if e in logs] == []
    # The summary file is the seed's shape and matches what Redis keeps.
    for run in runs:
        on_disk = json.loads(Path(run["file"]).read_text())
        assert on_disk["total"] == run["total"] and len(on_disk["results"]) == run["total"]
        assert {"timestamp", "processed", "failed", "avg_time_per_ticket", "total_time", "cost_estimate"} <= set(
            on_disk
        )


def test_beat_sweeps_with_search_lag_never_write_twice(stack: LocalStack):
    """Beat sweeps every second while search lags 4 s behind: done markers stop re-processing,
    and tickets that arrive mid-run are picked up by a later sweep."""
    stack.tickets = 60
    stack.sweep_interval = 1.0
    stack.sim_options = [*FAST_ZENDESK, "--index-lag", "4"]
    stack.start_simulator()
    stack.start_worker("worker", autoscale="6,3")
    stack.wait_for_workers(1)
    stack.start_beat()
    wait_until(lambda: stack.stats()["tickets_ai_processed"] >= 60, 120, "the first 60 tickets")
    stack.sim("/_sim/tickets", method="POST", json={"count": 15})
    wait_until(lambda: stack.stats()["tickets_ai_processed"] >= 75, 120, "the 15 late tickets")
    time.sleep(8)  # several more sweeps over lagging search results
    assert_each_ticket_once(stack.stats(), 75)
    runs = summaries(stack)
    assert len(runs) >= 2
    assert sum(run["processed"] for run in runs) == 75


def test_update_rejected_with_4xx_is_reported_and_the_run_completes(stack: LocalStack):
    stack.tickets = 40
    stack.sim_options = FAST_ZENDESK
    stack.start_simulator()
    doomed = [5, 17, 33]
    stack.sim("/_sim/config", method="POST", json={"fail_updates": {str(i): 422 for i in doomed}})
    stack.start_worker("worker", autoscale="4,2")
    stack.wait_for_workers(1)

    result = stack.run_app("run", "--wait", "--timeout", "180")
    assert result.returncode == 1, result.stdout + result.stderr  # failures make the run exit 1
    assert "failed (3)" in result.stdout

    (run,) = summaries(stack)
    assert (run["total"], run["processed"], run["failed"]) == (40, 37, 3)
    failed = {r["ticket_id"]: r for r in run["results"] if r["status"] == "failed"}
    assert sorted(failed) == doomed
    for record in failed.values():
        assert record["stage"] == "update" and "422" in record["error"]
    stats = stack.stats()
    assert stats["tickets_ai_processed"] == 37
    for ticket_id in doomed:
        ticket = stack.sim(f"/_sim/tickets/{ticket_id}")
        assert "ai_processed" not in ticket["ticket"]["tags"]
    # The failed tickets are dead-lettered, not lost: listed with stage and reason, skipped by
    # sweeps until requeued.
    dead = json.loads(stack.run_app("dead-letters", "--json").stdout)
    assert sorted(d["ticket_id"] for d in dead) == doomed
    assert all(d["stage"] == "update" and "422" in d["reason"] and d["run_id"] == run["id"] for d in dead)
    assert "nothing to triage" in stack.run_app("run").stdout
    stack.sim("/_sim/config", method="POST", json={"fail_updates": {}})
    again = stack.run_app("dead-letters", "--requeue", "--wait", "--timeout", "120")
    assert again.returncode == 0 and "requeued 3 tickets" in again.stdout, again.stdout + again.stderr
    assert_each_ticket_once(stack.stats(), 40)
    assert json.loads(stack.run_app("dead-letters", "--json").stdout) == []

    # `runs --json` lists both runs, newest first, each with an id.
    listed = json.loads(stack.run_app("runs", "--json").stdout)
    assert [r["id"] for r in listed] == [r["id"] for r in summaries(stack)] and len(listed) == 2
    assert (listed[0]["total"], listed[1]["failed"]) == (3, 3)

    # `report` writes the failing run's page: its failures chart and table rows name the reason.
    report_file = stack.workdir / "report.html"
    made = stack.run_app("report", listed[1]["id"], "--output", str(report_file))
    assert made.returncode == 0 and made.stdout.strip() == str(report_file), made.stderr
    page = report_file.read_text()
    assert page.count("<tr>") - 1 == 40 and page.count("status-failed") >= 3 and "422" in page
    default = stack.run_app("report", listed[0]["id"])
    assert default.returncode == 0 and default.stdout.strip().endswith(f"report_{listed[0]['id']}.html")
    missing = stack.run_app("report", "20990101_000000_000000")
    assert missing.returncode == 1 and "no run '20990101_000000_000000'" in missing.stderr
    assert stack.run_app("report").returncode == 2  # name a run, or --open for the newest

    # --ticket-id with --dry-run analyses one ticket and writes nothing, but shows what it would
    # write: the tags, priority and note (made from the redacted analysis); without it, it writes.
    (new_id,) = stack.sim(
        "/_sim/tickets",
        method="POST",
        json={"tickets": [{"subject": "Refund request from jane.roe@example.com", "description": "Refund please"}]},
    )["ids"]
    dry = stack.run_app("run", "--ticket-id", str(new_id), "--dry-run", "--wait", "--timeout", "60")
    assert dry.returncode == 0 and "(dry run: nothing was written to Zendesk)" in dry.stdout, dry.stdout + dry.stderr
    would = dry.stdout.splitlines()
    ticket_line = next(line for line in would if line.startswith(f"ticket {new_id}: tags "))
    assert "ai_processed" in ticket_line and "ai_refund" in ticket_line and "; priority " in ticket_line
    assert (
        "    AI Analysis:" in would
        and f"    Run: {json.loads(stack.run_app('runs', '--json').stdout)[0]['id']}" in would
    )
    assert "jane.roe@example.com" not in dry.stdout and "tickets written" not in dry.stdout
    assert any(line.endswith("dry run") for line in stack.run_app("runs").stdout.splitlines()[1:2])
    assert "ai_processed" not in stack.sim(f"/_sim/tickets/{new_id}")["ticket"]["tags"]
    real = stack.run_app("run", "--ticket-id", str(new_id), "--wait", "--timeout", "60")
    assert real.returncode == 0, real.stdout + real.stderr
    assert "ai_refund" in stack.sim(f"/_sim/tickets/{new_id}")["ticket"]["tags"]
    assert_each_ticket_once(stack.stats(), 41)
    nothing = stack.run_app("run", "--ticket-id", str(new_id))
    assert nothing.returncode == 0 and "nothing to triage" in nothing.stdout


def test_429s_and_5xx_never_lose_or_fail_a_ticket(stack: LocalStack):
    """A 429 storm (Zendesk allows a quarter of what the fleet was told), 15% random 503s, and
    one ticket whose updates fail with 503 six times in a row (Celery's default would give up
    after 3): every ticket is still written exactly once and none fails."""
    stack.tickets = 60
    stack.sim_options = [
        "--rate-limit",
        "100000",
        "--update-rate-limit",
        "10",
        "--rate-window",
        "3",
        "--error-ratio",
        "0.15",
        "--error-status",
        "503",
    ]
    stack.start_simulator()
    stack.sim("/_sim/config", method="POST", json={"fail_updates": {"7": 503}})
    # The fleet is told the plan allows 4x what Zendesk really allows: a 429 storm. One PUT per
    # ticket (update_many would not meet the Update Ticket limit at all).
    stack.extra_env = {"RETRY_MAX_COUNTDOWN": "2", "ZENDESK_UPDATE_RATE_LIMIT": "40", "UPDATE_MODE": "single"}
    stack.start_worker("worker", autoscale="4,4")
    stack.start_worker("second", autoscale="4,4")
    stack.wait_for_workers(2)
    runner = stack.start_app("run", "--wait", "--timeout", "240")
    log = stack.workdir / "worker.log"

    def logs() -> str:
        return log.read_text() + (stack.workdir / "second.log").read_text()

    wait_until(lambda: logs().count("ticket 7: HTTP 503") >= 6, 120, "six failed updates of ticket 7")
    stack.sim("/_sim/config", method="POST", json={"fail_updates": {}})
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 0, out + err
    stats = stack.stats()
    assert stats["responses_429"] > 0 and stats["responses_by_status"].get("503", 0) > 10  # the faults happened
    assert_each_ticket_once(stats, 60)
    (run,) = summaries(stack)
    assert (run["total"], run["processed"], run["failed"]) == (60, 60, 0)
    assert "raised unexpected" not in logs()
    print(
        f"429 storm: {stats['responses_429']} answered 429, {stats['responses_by_status'].get('503', 0)} 503, "
        f"{stats['tickets_ai_processed']} updated once, {run['failed']} failed"
    )


@pytest.mark.solo
def test_two_beat_processes_send_each_sweep_once(stack: LocalStack):
    """RedBeat's lock in Redis: a second `celery beat` waits instead of doubling the sweeps."""
    stack.tickets = 30
    stack.sweep_interval = 2.0
    stack.sim_options = FAST_ZENDESK
    stack.start_simulator()
    stack.start_worker("worker", autoscale="2,2")
    stack.start_worker("other", autoscale="2,2")
    stack.wait_for_workers(2)
    first, second = stack.start_beat("beat-a"), stack.start_beat("beat-b")
    time.sleep(3 * stack.sweep_interval + 4)
    wait_until(lambda: stack.stats()["tickets_ai_processed"] >= 30, 60, "all tickets")
    time.sleep(stack.sweep_interval)
    # The beat that stops first releases the lock, and the other may take it over before its own
    # stop reaches it: that is the hand-over working. What is judged is the time both ran.
    both_stopping = datetime.now()  # beat's log times are this machine's local time
    first.stop()
    second.stop()

    def sends(name: str, before: datetime | None = None) -> list[str]:
        lines = (stack.workdir / f"{name}.log").read_text().splitlines()
        return [
            line
            for line in lines
            if "Sending due task" in line
            and (before is None or datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f") < before)
        ]

    sent = sends("beat-a") + sends("beat-b")
    worker_logs = "".join((stack.workdir / f"{name}.log").read_text() for name in ("worker", "other"))
    received = len(re.findall(r"Task triage\.sweep\[[^\]]+\] received", worker_logs))
    assert sent, "no beat sent a sweep"
    # While both ran, one beat held the lock and sent sweeps; the other never did.
    assert [name for name in ("beat-a", "beat-b") if sends(name, before=both_stopping)] in (["beat-a"], ["beat-b"])
    assert received <= len(sent) + 1
    assert_each_ticket_once(stack.stats(), 30)
    ids = [r["ticket_id"] for run in summaries(stack) for r in run["results"]]
    assert sorted(ids) == list(range(1, 31))  # each ticket dispatched in exactly one run


@pytest.mark.solo
def test_shared_limiter_keeps_the_fleet_under_the_update_budget(stack: LocalStack):
    """Told the real plan, two workers with 16 processes together never get a 429, and take only
    their half of Update Ticket (10 per 4 s here): the updates spread over the windows that needs."""
    stack.tickets = 40
    stack.sim_options = ["--rate-limit", "100000", "--update-rate-limit", "20", "--rate-window", "4"]
    stack.extra_env = {"UPDATE_MODE": "single"}
    stack.start_simulator()
    stack.start_worker("alpha", autoscale="8,8")
    stack.start_worker("bravo", autoscale="8,8")
    stack.wait_for_workers(2)
    result = stack.run_app("run", "--wait", "--timeout", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    stats = stack.stats()
    assert stats["responses_429"] == 0
    assert_each_ticket_once(stats, 40)
    # When Zendesk wrote each ticket (its own clock, whole seconds): never more than the fleet's
    # share in a window, so the updates span at least the windows 40 of them need.
    written = sorted(
        datetime.fromisoformat(stack.sim(f"/_sim/tickets/{i}")["updates"][0]["at"]).timestamp() for i in range(1, 41)
    )
    assert written[-1] - written[0] >= (40 - 10) / 10 * 4 - 2
    print(f"limiter at the real plan: 0 answered 429, 40 updated once over {written[-1] - written[0]:.0f}s")


def test_a_large_run_writes_through_update_many_and_a_put_only_where_priority_rises(stack: LocalStack):
    """150 tickets: tags and notes go out as update_many jobs of 100 (each ticket its own tags and
    note), a rejected ticket fails alone after its rounds, and only priority raises cost a PUT each,
    paced at the fleet's half of Update Ticket (limits per 10 s here)."""
    stack.tickets = 150
    stack.sim_options = ["--rate-window", "10", "--index-lag", "0"]
    stack.start_simulator()
    stack.sim("/_sim/config", method="POST", json={"fail_updates": {"5": 422}})
    stack.extra_env = {"BULK_POLL_INTERVAL": "0.5"}
    stack.start_worker("worker", autoscale="8,4")
    stack.wait_for_workers(1)
    result = stack.run_app("run", "--wait", "--timeout", "240")
    assert result.returncode == 1, result.stdout + result.stderr  # ticket 5 failed

    stats = stack.stats()
    calls = stats["requests_by_endpoint"]
    assert calls["update_many"] == 2 + 2  # two batches, then two more rounds for ticket 5 alone
    (run,) = summaries(stack)
    raised = [r for r in run["results"] if r["priority_set"]]
    assert calls["ticket_update"] == len(raised) and calls["ticket_get"] == 0  # no conflict: nobody else wrote
    assert stats["responses_429"] == 0  # paced by the shared quota, not by Zendesk
    assert stats["tickets_ai_processed"] == 149 and stats["max_ai_notes_per_ticket"] == 1
    assert stats["notes_total"] == 149 and stats["tickets_lost_tags"] == 0 == stats["tickets_priority_lowered"]
    assert (run["total"], run["processed"], run["failed"]) == (150, 149, 1)
    (failed,) = [r for r in run["results"] if r["status"] == "failed"]
    assert failed["ticket_id"] == 5 and failed["stage"] == "update" and "update_many rounds" in failed["error"]
    written = {r["ticket_id"]: r for r in run["results"] if r["status"] in ("success", "fallback")}
    assert len(written) == 149 and all("ai_processed" in r["tags_added"] for r in written.values())
    for ticket_id in (1, 100, 150):  # each ticket got its own note, tags and priority
        ticket = stack.sim(f"/_sim/tickets/{ticket_id}")["ticket"]
        assert set(written[ticket_id]["tags_added"]) <= set(ticket["tags"])
        if written[ticket_id]["priority_set"]:
            assert ticket["priority"] == written[ticket_id]["priority_set"]
    print(
        f"bulk: 150 tickets in {calls['update_many']} update_many jobs and {len(raised)} priority PUTs, "
        f"{stats['requests_total']} requests ({stats['requests_total'] / 150:.3f} per ticket)"
    )


def test_strict_zendesk_150_tickets_while_agents_edit(stack: LocalStack):
    """Zendesk as documented, time compressed tenfold (limits per 6 s): update_many ignores
    safe_update, jobs take seconds and their statuses expire half a second after they finish
    (before the fleet's second poll), search lags five minutes, and agents raise priorities and tag
    tickets throughout, their edits counted against Update Ticket. Every ticket gets exactly one
    note, no agent's priority is lowered, nothing is rejected as malformed, an expired job status is
    no failure, and a second sweep inside the index lag writes nothing."""
    stack.tickets = 150
    stack.sim_options = ["--rate-window", "6", "--job-ttl", "0.5", "--agent-edit-rate", "300", "--index-lag", "300"]
    stack.extra_env = {"BULK_POLL_INTERVAL": "2"}
    stack.start_simulator()
    stack.start_worker("alpha", autoscale="8,4")
    stack.start_worker("bravo", autoscale="8,4")
    stack.wait_for_workers(2)
    result = stack.run_app("run", "--wait", "--timeout", "400", timeout=460)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr  # none at exit either
    assert "claim to written, per ticket: p50" in result.stdout and "tickets/min" in result.stdout
    for name in ("alpha", "bravo"):
        assert "Traceback" not in (stack.workdir / f"{name}.log").read_text()

    stats = stack.stats()
    assert stats["tickets_ai_processed"] == 150 and stats["notes_total"] == 150
    assert stats["max_ai_notes_per_ticket"] == 1
    assert stats["tickets_priority_lowered"] == 0 and stats["tickets_lost_tags"] == 0
    assert stats["agent_priority_raises"] > 0  # agents really raised priorities during the run
    assert stats["responses_400"] == 0 and stats["responses_by_status"].get("422", 0) == 0
    assert stats["job_status_404"] > 0  # statuses expired under the fleet ...
    (run,) = summaries(stack)
    assert (run["total"], run["processed"], run["failed"]) == (150, 150, 0)  # ... and failed nothing
    assert stats["responses_429"] == 0  # the fleet's share of Update Ticket left the agents theirs
    raised = sum(1 for r in run["results"] if r["priority_set"])
    assert raised > 30 and stats["requests_by_endpoint"]["ticket_update"] >= raised

    writes = (stats["ticket_updates_total"], stats["requests_by_endpoint"]["update_many"])
    again = stack.run_app("run", "--wait", "--timeout", "60")  # search still lags: all 150 look unprocessed
    assert again.returncode == 0 and "nothing to triage (150 eligible" in again.stdout, again.stdout + again.stderr
    after = stack.stats()
    assert (after["ticket_updates_total"], after["requests_by_endpoint"]["update_many"]) == writes  # API writes
    print(
        f"strict Zendesk: 150 tickets, {stats['agent_edits_total']} agent edits "
        f"({stats['agent_priority_raises']} priority raises), {stats['job_status_404']} expired job statuses, "
        f"{stats['requests_by_endpoint']['update_many']} jobs, {raised} priorities raised by the fleet, "
        f"0 lowered, 0 malformed, {stats['responses_429']} answered 429"
    )
