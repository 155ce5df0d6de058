"""The fleet across hosts: Redis and the simulators on one, workers on others, beat on its own, in
network namespaces joined by a bridge (hostlab.py). Each scenario counts the tickets updated once,
more than once, dead-lettered and lost; conftest.py prints the table after the session."""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest
from hostlab import Lab, LabFleet

from sim.launcher.stack import wait_until

pytestmark = pytest.mark.e2e

# Short enough that a lost host's tasks come back within the test: a task not acknowledged for
# 12 s is delivered again (countdown retries must stay below it, hence the short countdown).
FAST_REDELIVERY = {"BROKER_VISIBILITY_TIMEOUT": "12", "RETRY_MAX_COUNTDOWN": "5"}
QUICK_SIMULATORS = ["--rate-limit", "100000", "--update-rate-limit", "100000"]
# One PUT per ticket: writes spread over the run, so a fault strikes between them (a run of 200
# would otherwise be written in two update_many batches of 100).
PER_TICKET_WRITES = {"UPDATE_MODE": "single"}
QUICK_LLM = ["--latency-mean", "0.4", "--rpm", "100000", "--tpm", "100000000"]


def fleet_of(lab: Lab, tickets: int, **settings: str) -> LabFleet:
    return LabFleet(
        lab, tickets, sim_options=QUICK_SIMULATORS, llm_options=QUICK_LLM, settings={**FAST_REDELIVERY, **settings}
    )


def two_worker_hosts(lab: Lab, tickets: int, slow_links: bool = False, **settings: str):
    """The services host, worker hosts alpha and bravo (both online) and ops, where runs start:
    (fleet, alpha, bravo, ops, alpha's worker). With `slow_links`, both worker hosts' links get
    100 ms more latency and lose 1% of their packets each way."""
    fleet = fleet_of(lab, tickets, **settings)
    alpha, bravo, ops = (lab.add_host(name) for name in ("alpha", "bravo", "ops"))
    if slow_links:
        for host in (alpha, bravo):
            lab.slow(host, fleet.services, delay=0.1)
            lab.lossy(host, percent=1)
    worker_alpha = fleet.start_worker(alpha)
    fleet.start_worker(bravo)
    fleet.wait_for_workers(2, timeout=150)
    return fleet, alpha, bravo, ops, worker_alpha


def busy(fleet: LabFleet, host, processed: int) -> set[str]:
    """Once `processed` tickets are written and the host's worker holds tasks it has not finished
    (by its log), those tasks' ids: the moment to strike the host."""
    in_flight: set[str] = set()

    def ready() -> bool:
        nonlocal in_flight
        received, succeeded = fleet.received_and_succeeded(host)
        in_flight = received - succeeded
        return bool(in_flight) and fleet.processed() >= processed

    wait_until(ready, 180, f"{processed} tickets written and tasks in flight on {host.name}", interval=0.2)
    return in_flight


def wait_for_every_ticket(fleet: LabFleet, timeout: float) -> dict[str, int]:
    """Until every ticket is updated or dead-lettered (then a moment more for stragglers)."""
    wait_until(lambda: fleet.tally()["lost"] <= 0, timeout, "every ticket updated or dead-lettered", interval=2)
    time.sleep(3)
    return fleet.tally()


def finished(run, timeout: float) -> int:
    try:
        return run.wait(timeout=timeout)
    finally:
        if run.poll() is None:
            run.kill()


def test_two_worker_hosts_share_150_tickets(lab: Lab, record_scenario):
    fleet, alpha, bravo, ops, _ = two_worker_hosts(lab, 150)
    started = time.monotonic()
    run = fleet.start_run(ops)
    owners: set[str] = set()
    while run.poll() is None and time.monotonic() - started < 300:
        client = fleet.redis()
        owners |= {
            value.decode().split(":")[0]
            for value in (client.get(key) for key in client.scan_iter(match="ticket:*:claim", count=1000))
            if value
        }
        time.sleep(1)
    assert finished(run, 60) == 0, (lab.workdir / "run-ops.log").read_text()
    elapsed = time.monotonic() - started
    tally = fleet.tally()
    assert (tally["once"], tally["twice"], tally["dead_lettered"], tally["lost"]) == (150, 0, 0, 0), tally

    # Both hosts took work; every claim named the host that took it (the run, on ops).
    work = {host.name: len(fleet.received_and_succeeded(host)[1]) for host in (alpha, bravo)}
    assert all(count >= 50 for count in work.values()), work
    assert owners == {"ops"}, owners
    client = fleet.redis()
    assert not list(client.scan_iter(match="ticket:*:claim"))  # every claim ended with its ticket
    assert len(list(client.scan_iter(match="ticket:*:done", count=1000))) == 150
    record_scenario("1. two worker hosts", tally, tasks_per_host=work, tickets_per_min=round(150 / elapsed * 60))


def test_a_worker_host_cut_off_from_redis_longer_than_the_visibility_timeout(lab: Lab, record_scenario):
    """alpha loses Redis (its broker, claims and markers) for 27 s, more than twice the 12 s
    visibility timeout, while it can still reach Zendesk and the LLM. Its unacknowledged tasks
    are delivered again to bravo; when alpha's link heals, it finishes what it held, and the
    re-read before every write keeps those tickets from being written twice."""
    fleet, alpha, bravo, ops, worker_alpha = two_worker_hosts(lab, 120, **PER_TICKET_WRITES)
    run = fleet.start_run(ops)
    in_flight_on_alpha = busy(fleet, alpha, processed=20)
    claims_at_cut = len(list(fleet.redis().scan_iter(match="ticket:*:claim", count=1000)))
    lab.cut(alpha, fleet.services, port=6379)
    processed_at_cut = fleet.processed()
    time.sleep(27)
    processed_during_cut = fleet.processed() - processed_at_cut
    lab.heal(alpha)

    tally = wait_for_every_ticket(fleet, 300)
    finished(run, 120)
    assert (tally["once"], tally["twice"], tally["lost"]) == (120 - tally["dead_lettered"], 0, 0), tally
    assert tally["dead_lettered"] == 0, tally
    assert processed_during_cut > 0  # bravo went on working
    _, succeeded_on_bravo = fleet.received_and_succeeded(bravo)
    redelivered = in_flight_on_alpha & succeeded_on_bravo
    assert redelivered, (in_flight_on_alpha, "none of alpha's tasks in flight at the cut ran on bravo")
    assert worker_alpha.alive()  # alpha's worker rode out the partition and reconnected
    fleet.wait_for_workers(2, timeout=60)
    client = fleet.redis()
    # Claims as the design has them: taken at dispatch (every ticket not yet written was claimed
    # at the cut), ended by each ticket's outcome, which leaves the done marker.
    assert claims_at_cut >= 120 - processed_at_cut
    assert not list(client.scan_iter(match="ticket:*:claim"))  # every claim ended with its ticket
    assert len(list(client.scan_iter(match="ticket:*:done", count=1000))) == tally["once"]
    record_scenario(
        "2. worker host partitioned from Redis 27 s",
        tally,
        redelivered_tasks=len(redelivered),
        updated_during_cut=processed_during_cut,
    )


def test_a_worker_host_lost_whole_mid_run(lab: Lab, record_scenario):
    """Every process on alpha is SIGKILLed and its namespace deleted, mid-run: its tasks come
    back after the visibility timeout and bravo finishes them."""
    fleet, alpha, bravo, ops, _ = two_worker_hosts(lab, 120, **PER_TICKET_WRITES)
    run = fleet.start_run(ops)
    in_flight_on_alpha = busy(fleet, alpha, processed=25)
    lab.lose(alpha)

    tally = wait_for_every_ticket(fleet, 300)
    finished(run, 120)
    assert (tally["once"], tally["twice"], tally["dead_lettered"], tally["lost"]) == (120, 0, 0, 0), tally
    assert in_flight_on_alpha & fleet.received_and_succeeded(bravo)[1]  # alpha's work, finished by bravo
    record_scenario("3. worker host lost whole", tally, in_flight_on_lost_host=len(in_flight_on_alpha))


BEAT_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/\w+\] (.*)$")


def beat_events(fleet: LabFleet, host_name: str) -> list[tuple[float, str]]:
    """(timestamp, message) of each line of a beat's log."""
    events = []
    for line in (fleet.lab.workdir / f"beat-{host_name}.log").read_text(errors="replace").splitlines():
        match = BEAT_LINE.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((when, match.group(2)))
    return events


def test_the_beat_host_partitioned_hands_the_lock_to_the_other_beat(lab: Lab, record_scenario):
    """Two beats on two hosts; the one holding RedBeat's lock is cut off from everything for 25 s.
    The lock (5 x the 3 s loop interval) expires, the other beat takes it and sweeps on; tickets
    created meanwhile are triaged once, and two beats never sweep in the same interval."""
    fleet = fleet_of(lab, 20, SWEEP_INTERVAL="3")
    first, second, alpha = lab.add_host("beat1"), lab.add_host("beat2"), lab.add_host("alpha")
    fleet.zendesk("/_sim/config", method="POST", payload={"arrival_rate": 60})  # a ticket a second
    fleet.start_worker(alpha)
    fleet.wait_for_workers(1)
    beat1 = fleet.start_beat(first)
    wait_until(lambda: any("Acquired lock" in m for _, m in beat_events(fleet, "beat1")), 60, "beat1 to lock")
    fleet.start_beat(second)
    wait_until(lambda: fleet.processed() >= 20, 120, "the first tickets triaged")
    time.sleep(3)
    cut_at = time.time()
    lab.cut(first, fleet.services)
    wait_until(lambda: any("Acquired lock" in m for _, m in beat_events(fleet, "beat2")), 60, "beat2 to lock")
    time.sleep(max(0.0, 25 - (time.time() - cut_at)))
    lab.heal(first)
    healed_at = time.time()
    time.sleep(9)  # three sweep intervals after the heal: beat1 must not sweep again
    fleet.zendesk("/_sim/config", method="POST", payload={"arrival_rate": 0})
    tally = wait_for_every_ticket(fleet, 180)
    assert (tally["twice"], tally["dead_lettered"], tally["lost"]) == (0, 0, 0), tally

    sends = {
        name: [when for when, message in beat_events(fleet, name) if "Sending due task sweep-zendesk" in message]
        for name in ("beat1", "beat2")
    }
    (locked_at,) = [when for when, message in beat_events(fleet, "beat2") if "Acquired lock" in message][:1]
    assert sends["beat2"] and min(sends["beat2"]) >= locked_at  # beat2 swept only once it held the lock
    assert not [when for when in sends["beat1"] if when >= locked_at]  # beat1 stopped before that
    assert not [when for when in sends["beat1"] if when >= healed_at]  # and did not start again after the heal
    record_scenario(
        "4. beat host partitioned 25 s",
        tally,
        lock_moved_after_s=round(locked_at - cut_at, 1),
        beat1_alive_after_heal=beat1.alive(),
        sweeps_beat1=len(sends["beat1"]),
        sweeps_beat2=len(sends["beat2"]),
    )


def triage_and_time(lab: Lab, tickets: int, slow_links: bool) -> tuple[dict[str, int], float]:
    """One run of `tickets` on two worker hosts: (tally, seconds from the run's start to the last
    ticket)."""
    fleet, _, _, ops, _ = two_worker_hosts(lab, tickets, slow_links)
    started = time.monotonic()
    run = fleet.start_run(ops, timeout=600)
    wait_until(lambda: fleet.processed() >= tickets, 600, f"{tickets} tickets updated", interval=0.5)
    seconds = time.monotonic() - started
    finished(run, 120)
    time.sleep(3)
    return fleet.tally(), seconds


def test_slow_lossy_links_stay_correct_and_cost_throughput(lab: Lab, tmp_path, record_scenario):
    """The same 30-ticket run over clean links and over links with 100 ms more latency and 1%
    loss (netem's `delay 100ms loss 1%`, see slowlink.py), side by side in one session."""
    clean_tally, clean_seconds = triage_and_time(lab, 30, slow_links=False)
    lab.close()
    with Lab(tmp_path / "slow-lab") as slow_lab:
        slow_tally, slow_seconds = triage_and_time(slow_lab, 30, slow_links=True)
        slowed = slow_lab.workdir.joinpath("slowlink-alpha.log").read_text()
    for tally in (clean_tally, slow_tally):
        assert (tally["once"], tally["twice"], tally["dead_lettered"], tally["lost"]) == (30, 0, 0, 0), tally
    assert "slowlink on" in slowed
    clean_rate, slow_rate = 30 / clean_seconds * 60, 30 / slow_seconds * 60
    record_scenario("5a. clean links", clean_tally, tickets_per_min=round(clean_rate))
    record_scenario(
        "5b. +100 ms, 1% loss on worker links",
        slow_tally,
        tickets_per_min=round(slow_rate),
        throughput_ratio=round(slow_rate / clean_rate, 3),
    )
