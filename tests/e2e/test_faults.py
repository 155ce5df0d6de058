"""Fault tests with several worker processes on one real Redis and the simulators."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sim.launcher.stack import LocalStack, wait_until
from tests.e2e.scenarios import FAST_ZENDESK, assert_nothing_lost_or_written_twice, kill_a_worker_mid_run

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    return new_stack("fault", sim_options=FAST_ZENDESK)


def test_kill_9_of_a_worker_mid_run_loses_nothing_and_writes_nothing_twice(stack: LocalStack):
    stack.tickets = 150
    stack.start_simulator()
    stack.start_llm_simulator(["--latency-mean", "0.4", "--rpm", "100000", "--tpm", "100000000"])
    # A dead worker's unacknowledged tasks come back after 15 s instead of an hour; batches of 25
    # (6 update_many jobs instead of 2), so the kill lands between writes.
    stack.extra_env = {"BROKER_VISIBILITY_TIMEOUT": "15", "RETRY_MAX_COUNTDOWN": "5", "BULK_BATCH_SIZE": "25"}
    outcome = kill_a_worker_mid_run(stack, {"autoscale": "6,6"}, written_before_kill=25)
    assert_nothing_lost_or_written_twice(outcome, stack, 150)
    assert "triage.update" in (stack.workdir / "doomed.log").read_text()  # it was working when killed
    print(
        f"kill -9: killed with {outcome.written_at_kill} of 150 written; updated once "
        f"{outcome.stats['tickets_ai_processed']}, dead-lettered {len(outcome.dead_letters)}"
    )


def test_zendesk_outage_opens_the_breaker_and_every_ticket_lands_after_it(stack: LocalStack):
    """All of Zendesk answers 503 for 20 s mid-run: the breaker opens, updates wait, no ticket is
    lost or failed, and the LLM is not asked again for tickets it already classified."""
    stack.tickets = 120
    stack.start_simulator()
    stack.start_llm_simulator(["--latency-mean", "0.3", "--rpm", "100000", "--tpm", "100000000"])
    stack.extra_env = {
        "ZENDESK_BREAKER_RESET_TIMEOUT": "10",
        "RETRY_MAX_COUNTDOWN": "15",
        "BROKER_VISIBILITY_TIMEOUT": "600",
    }
    stack.start_worker("alpha", autoscale="4,4")
    stack.start_worker("bravo", autoscale="4,4")
    stack.wait_for_workers(2)
    runner = stack.start_app("run", "--wait", "--timeout", "400")
    wait_until(lambda: stack.stats()["tickets_ai_processed"] >= 20, 120, "20 tickets done")
    stack.sim("/_sim/config", method="POST", json={"outage_seconds": 20})
    out, err = runner.communicate(timeout=500)
    assert runner.returncode == 0, out + err

    stats = stack.stats()
    assert stats["responses_by_status"].get("503", 0) >= 3  # the outage was seen
    assert stats["tickets_ai_processed"] == 120 and stats["max_ai_notes_per_ticket"] == 1
    (summary,) = stack.summaries(5)
    assert (summary["total"], summary["processed"], summary["failed"]) == (120, 120, 0)
    logs = "".join((stack.workdir / f"{name}.log").read_text() for name in ("alpha", "bravo"))
    assert "breaker zendesk: closed -> open" in logs
    assert stack.llm_sim("/_sim/stats")["completions_ok"] == 120  # one classification per ticket
    print(
        f"outage: {stats['responses_by_status'].get('503', 0)} answered 503, 120 updated once, 0 failed, "
        f"LLM completions {stack.llm_sim('/_sim/stats')['completions_ok']}"
    )


def test_redis_restart_mid_run_workers_reconnect_and_every_ticket_lands_once(tmp_path: Path):
    """Redis (holding nothing on disk) dies for 5 s mid-run and comes back empty. What is lost:
    queued tasks, claims, done markers, the run's results and summary. What is not: the tickets,
    because beat's next sweeps find them still untagged in Zendesk, and nothing is written twice,
    because every update is a safe_update that re-reads and sees `ai_processed` on a conflict.
    Workers reconnect by themselves; celery beat (RedBeat loses its lock) exits and needs its
    supervisor to start it again, as docker-compose's restart policy does; the test plays that."""
    stack = LocalStack(
        workdir=tmp_path / "stack", tickets=120, sweep_interval=3.0, sim_options=[*FAST_ZENDESK, "--index-lag", "5"]
    )
    with stack:
        stack.start_redis(embedded=True)
        stack.start_simulator()
        stack.start_llm_simulator(["--latency-mean", "0.3", "--rpm", "100000", "--tpm", "100000000"])
        stack.start_worker("alpha", autoscale="4,4")
        stack.start_worker("bravo", autoscale="4,4")
        stack.wait_for_workers(2)
        beat = stack.start_beat()
        wait_until(lambda: stack.stats()["tickets_ai_processed"] >= 30, 120, "30 tickets done")
        stack.restart_redis(down_seconds=5)
        time.sleep(3)
        beat_survived = beat.alive()
        if not beat_survived:
            stack.processes.remove(beat)
            stack.start_beat("beat-restarted")  # what a supervisor with a restart policy does
        wait_until(lambda: stack.stats()["tickets_ai_processed"] >= 120, 240, "every ticket after the restart")
        time.sleep(2 * stack.sweep_interval)  # more sweeps over lagging search results
        stats = stack.stats()
        assert stats["tickets_ai_processed"] == 120
        assert stats["max_ai_notes_per_ticket"] == 1 and stats["notes_total"] == 120
        workers = [p for p in stack.processes if p.name in ("alpha", "bravo")]
        assert all(p.alive() for p in workers)  # they reconnected on their own
        print(
            f"redis restart: {stats['tickets_ai_processed']} updated once, "
            f"{stats['responses_by_status'].get('409', 0)} conflicts answered by re-reading, "
            f"beat survived: {beat_survived}"
        )
