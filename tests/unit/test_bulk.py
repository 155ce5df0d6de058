"""Batched writes against a fake Zendesk that behaves as documented: update_many ignores
safe_update, job statuses expire, Update Ticket honours safe_update. Rounds, resumption, priorities."""

import pytest

from app.clients.bulk import JobPolling
from app.clients.zendesk import (
    JobStatus,
    ZendeskConflict,
    ZendeskJobsBusy,
    ZendeskNotFound,
    ZendeskRateLimited,
    ZendeskRejected,
    ZendeskUnavailable,
)
from app.domain.models import Analysis, Ticket
from app.domain.taxonomy import load_taxonomy
from app.fleet.writeback import (
    ROUNDS,
    BatchInterrupted,
    BatchItem,
    BatchTarget,
    JobRecord,
    write_batch,
    write_triage_batch,
)

TAXONOMY = load_taxonomy()
ANALYSIS = Analysis(
    summary="Login fails",
    values={"root_cause": "bug", "urgency": "high", "sentiment": "negative"},
    provider="llm",
    model="gpt-4o-mini",
)


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def polling(clock, **overrides):
    return JobPolling(
        **{
            "interval": 1,
            "timeout": 300,
            "max_interval": 10,
            "max_sleep": 5,
            "sleep": clock.sleep,
            "clock": clock,
            **overrides,
        }
    )


class FakeZendesk:
    """Tickets with stamps. update_many jobs apply only what they carry and ignore safe_update, as
    Zendesk documents; they finish after `polls_to_finish` polls and their status can be expired."""

    def __init__(self, n, polls_to_finish=2):
        self.tickets = {
            i: Ticket(
                id=i,
                subject=f"Anna's ticket {i}",
                description="call me on +44 20 7946 0958",
                status="open",
                priority=None,
                updated_at=f"v1-{i}",
            )
            for i in range(1, n + 1)
        }
        self.notes = dict.fromkeys(self.tickets, 0)
        self.jobs, self.polls_to_finish = {}, polls_to_finish
        self.sent = []
        self.reads = 0
        self.puts = []
        self.reject = {}  # ticket id -> rounds to answer with a failure
        self.fail_polls = []
        self.fail_send = None
        self.fail_puts = []
        self.expired = set()
        self.before_put = None  # called before a priority PUT is applied (an agent racing us)

    def touch(self, ticket_id, **changes):
        ticket = self.tickets[ticket_id]
        self.tickets[ticket_id] = ticket.model_copy(update={**changes, "updated_at": ticket.updated_at + "'"})

    def update_many(self, updates):
        if self.fail_send is not None:
            error, self.fail_send = self.fail_send, None
            raise error
        job_id = f"job{len(self.jobs) + 1}"
        self.sent.append((job_id, sorted(updates)))
        results = []
        for index, (ticket_id, update) in enumerate(updates.items()):
            fields = update.additive_fields()
            assert set(fields) == {"additional_tags", "comment"}  # nothing a person set is overwritten
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                results.append({"id": ticket_id, "index": index, "success": False, "error": "RecordNotFound"})
            elif self.reject.get(ticket_id, 0) > 0:
                self.reject[ticket_id] -= 1
                results.append(
                    {
                        "id": ticket_id,
                        "index": index,
                        "success": False,
                        "error": "TicketUpdateFailed",
                        "details": "Temporary failure",
                    }
                )
            else:
                self.touch(ticket_id, tags=ticket.tags + fields["additional_tags"])
                self.notes[ticket_id] += 1
                results.append({"id": ticket_id, "index": index, "success": True, "status": "Updated"})
        self.jobs[job_id] = [0, results]
        return JobStatus(id=job_id, status="queued", results=[])

    def job_status(self, job_id):
        if self.fail_polls:
            raise self.fail_polls.pop(0)
        if job_id not in self.jobs or job_id in self.expired:
            raise ZendeskNotFound("HTTP 404", 404)
        job = self.jobs[job_id]
        job[0] += 1
        if job[0] < self.polls_to_finish:
            return JobStatus(id=job_id, status="working", results=[])
        return JobStatus(id=job_id, status="completed", results=job[1])

    def show_many(self, ids):
        self.reads += 1
        assert len(ids) <= 100
        return [self.tickets[i] for i in ids if i in self.tickets]

    def get_ticket(self, ticket_id):
        if ticket_id not in self.tickets:
            raise ZendeskNotFound("HTTP 404", 404)
        return self.tickets[ticket_id]

    def set_priority(self, ticket_id, priority, stamp):
        if self.fail_puts:
            raise self.fail_puts.pop(0)
        if self.before_put is not None:
            self.before_put(ticket_id)
        ticket = self.tickets[ticket_id]
        if ticket.updated_at != stamp:
            raise ZendeskConflict("HTTP 409 UpdateConflict", 409)
        if ticket.status == "closed":
            raise ZendeskRejected("HTTP 422 closed", 422)
        self.puts.append((ticket_id, priority))
        self.touch(ticket_id, priority=priority)
        return self.tickets[ticket_id]


class MemoryJobLog(dict):
    def put(self, key, record):
        self[key] = record

    def forget(self, key):
        self.pop(key, None)


class MemorySlots:
    def __init__(self, limit=30):
        self.limit, self.held = limit, set()

    def acquire(self, holder, hold):
        if holder in self.held or len(self.held) < self.limit:
            self.held.add(holder)
            return True
        return False

    def release(self, holder):
        self.held.discard(holder)


def items(zendesk, ids):
    return [BatchItem(i, ANALYSIS) for i in ids]


def target(zendesk, run_id="run", log=None, slots=None, job_polling=None):
    """The batch target the tests write through: fresh in-memory job log and slots unless given."""
    return BatchTarget(
        zendesk,
        TAXONOMY,
        run_id,
        MemoryJobLog() if log is None else log,
        MemorySlots() if slots is None else slots,
        job_polling or polling(Clock()),
    )


def write(zendesk, batch, log=None, slots=None, clock=None, **overrides):
    clock = clock or Clock()
    log = MemoryJobLog() if log is None else log
    return write_triage_batch(
        target(zendesk, log=log, slots=slots, job_polling=polling(clock, **overrides)), batch, "run:0"
    )


def test_one_job_adds_every_tickets_tags_and_note_once_and_nothing_else():
    zendesk = FakeZendesk(100)
    slots = MemorySlots()
    outcome = write(zendesk, items(zendesk, range(1, 101)), slots=slots)
    assert len(zendesk.sent) == 1 and outcome.jobs == 1 and zendesk.reads == 1  # read once before the job
    assert set(outcome.written) == set(range(1, 101)) and not outcome.failed
    assert all(count == 1 for count in zendesk.notes.values())
    assert all(
        not o.already_done and "ai_processed" in o.tags_added and o.priority_set is None
        for o in outcome.written.values()
    )
    assert all(t.priority is None for t in zendesk.tickets.values())  # priorities are not the job's
    assert slots.held == set()  # the slot comes back once the job is seen finished


def test_priorities_go_one_safe_put_each_and_never_lower_what_an_agent_set():
    zendesk = FakeZendesk(4)
    batch = items(zendesk, range(1, 5))
    zendesk.touch(2, priority="urgent")  # an agent raised ticket 2 after the sweep read it
    zendesk.tickets[3] = zendesk.tickets[3].model_copy(update={"priority": "high"})
    zendesk.before_put = lambda ticket_id: (
        ticket_id == 4 and zendesk.tickets[4].priority is None and zendesk.touch(4, priority="urgent")
    )  # ... and ticket 4 between our read and our PUT
    progress = write_batch(target(zendesk), batch, "run:0")
    assert progress.priorities == {1: "high", 2: None, 3: None, 4: None}
    assert [t.priority for t in zendesk.tickets.values()] == ["high", "urgent", "high", "urgent"]
    assert zendesk.puts == [(1, "high")]  # ticket 4's PUT met a 409, was read again and left alone
    assert set(progress.written) == {1, 2, 3, 4} and max(zendesk.notes.values()) == 1


def test_a_ticket_already_processed_by_someone_else_is_not_written_again():
    zendesk = FakeZendesk(3)
    batch = items(zendesk, [1, 2, 3])
    write_triage_batch(target(zendesk, run_id="other"), items(zendesk, [2]), "other:0")
    outcome = write(zendesk, batch)
    assert outcome.written[2].already_done and not outcome.written[1].already_done
    assert zendesk.notes == {1: 1, 2: 1, 3: 1}


def test_a_retried_batch_follows_the_job_it_sent_instead_of_sending_another():
    zendesk = FakeZendesk(50, polls_to_finish=3)
    log, slots = MemoryJobLog(), MemorySlots()
    zendesk.fail_polls = [ZendeskUnavailable("HTTP 503", 503)]
    with pytest.raises(ZendeskUnavailable):
        write(zendesk, items(zendesk, range(1, 51)), log, slots)
    assert len(zendesk.sent) == 1 and log["run:0:1"].job_id == "job1" and slots.held == {"run:0:1"}
    outcome = write(zendesk, items(zendesk, range(1, 51)), log, slots)
    assert len(zendesk.sent) == 1  # no second job
    assert set(outcome.written) == set(range(1, 51)) and all(not o.already_done for o in outcome.written.values())
    assert max(zendesk.notes.values()) == 1 and slots.held == set()


def test_an_expired_job_status_is_settled_by_what_zendesk_holds_not_as_a_failure():
    zendesk = FakeZendesk(5, polls_to_finish=1)
    log = MemoryJobLog()
    zendesk.fail_polls = [ZendeskUnavailable("HTTP 503", 503)]
    with pytest.raises(ZendeskUnavailable):
        write(zendesk, items(zendesk, range(1, 6)), log)
    zendesk.expired.add("job1")  # by the retry, Zendesk no longer knows the job: 404
    outcome = write(zendesk, items(zendesk, range(1, 6)), log)
    assert set(outcome.written) == {1, 2, 3, 4, 5} and not outcome.failed
    assert all(not o.already_done for o in outcome.written.values())  # written by our own job
    assert len(zendesk.sent) == 1 and zendesk.notes == dict.fromkeys(range(1, 6), 1)


def test_a_job_whose_id_never_came_back_is_read_back_and_never_doubled_while_it_may_run():
    zendesk = FakeZendesk(4)
    clock = Clock()
    log = MemoryJobLog({"run:0:1": JobRecord(sent_at=clock.now, ticket_ids=[1, 2, 3, 4])})  # sent, answer lost
    zendesk.update_many({1: _plan(1), 2: _plan(2)})  # the lost job wrote 1 and 2 so far; 3 and 4 still queued
    sent_before = len(zendesk.sent)
    with pytest.raises(ZendeskJobsBusy) as info:
        write(zendesk, items(zendesk, range(1, 5)), log, clock=clock)
    assert len(zendesk.sent) == sent_before and info.value.retry_after == pytest.approx(300)
    clock.now += 301  # the lost job must have finished by now: 3 and 4 it did not write
    outcome = write(zendesk, items(zendesk, range(1, 5)), log, clock=clock)
    assert set(outcome.written) == {1, 2, 3, 4} and not outcome.failed
    assert zendesk.sent[-1][1] == [3, 4] and zendesk.notes == {1: 1, 2: 1, 3: 1, 4: 1}


def _plan(ticket_id):
    from app.domain.triage import plan_update

    return plan_update(ANALYSIS, TAXONOMY, None, None, "run")


def test_update_many_refused_by_zendesk_leaves_no_record_but_a_timeout_keeps_it():
    zendesk = FakeZendesk(2)
    log, slots = MemoryJobLog(), MemorySlots()
    zendesk.fail_send = ZendeskRejected("HTTP 400", 400)
    with pytest.raises(ZendeskRejected):
        write(zendesk, items(zendesk, [1, 2]), log, slots)
    assert log == {} and slots.held == set()  # no job exists: the next attempt sends one
    zendesk.fail_send = ZendeskUnavailable("timeout after 30s")  # sent; the answer never came
    with pytest.raises(ZendeskUnavailable):
        write(zendesk, items(zendesk, [1, 2]), log, slots)
    assert log["run:0:1"].job_id is None and slots.held == {"run:0:1"}


def test_no_free_job_slot_sends_nothing_and_asks_to_come_back():
    zendesk = FakeZendesk(2)
    slots = MemorySlots(limit=1)
    slots.acquire("another-batch:1", 60)
    with pytest.raises(ZendeskJobsBusy):
        write(zendesk, items(zendesk, [1, 2]), slots=slots)
    assert zendesk.sent == []


def test_failed_items_get_more_rounds_then_fail_with_zendesks_reason():
    zendesk = FakeZendesk(4)
    zendesk.reject = {2: 1, 3: 99}
    batch = items(zendesk, [1, 2, 3, 4])
    del zendesk.tickets[4]
    outcome = write(zendesk, batch)
    assert set(outcome.written) == {1, 2}
    assert outcome.failed[4] == "ticket not found (deleted?)"
    assert outcome.failed[3] == f"not written in {ROUNDS} update_many rounds: TicketUpdateFailed Temporary failure"
    assert len(zendesk.sent) == ROUNDS


def test_polls_back_off_and_a_poll_refused_by_the_quota_waits_briefly_or_goes_back_to_the_caller():
    zendesk = FakeZendesk(2, polls_to_finish=6)
    clock = Clock()
    write(zendesk, items(zendesk, [1, 2]), clock=clock)
    assert clock.slept == [1, 1.5, 2.25, 3.375, 5.0625, 7.59375]  # each wait longer than the last
    zendesk = FakeZendesk(2)
    clock = Clock()
    zendesk.fail_polls = [ZendeskRateLimited(1.5, status=None)]
    write(zendesk, items(zendesk, [1, 2]), clock=clock)
    assert 1.5 in clock.slept
    zendesk = FakeZendesk(2)
    zendesk.fail_polls = [ZendeskRateLimited(30, status=None)]
    with pytest.raises(ZendeskRateLimited):
        write(zendesk, items(zendesk, [1, 2]))


def test_a_job_that_never_finishes_raises_for_a_retry_later():
    zendesk = FakeZendesk(1, polls_to_finish=10**9)
    with pytest.raises(ZendeskUnavailable, match="still working"):
        write(zendesk, items(zendesk, [1]), timeout=30)


def test_priority_raises_stopped_by_the_quota_resume_without_repeating_anything():
    zendesk = FakeZendesk(3)
    log, slots = MemoryJobLog(), MemorySlots()

    def run(progress=None):
        return write_batch(target(zendesk, log=log, slots=slots), items(zendesk, [1, 2, 3]), "run:0", progress)

    original = zendesk.set_priority
    calls = []

    def quota_on_second(ticket_id, priority, stamp):  # the first PUT goes through, the second meets the quota
        calls.append(ticket_id)
        if len(calls) == 2:
            raise ZendeskRateLimited(20, status=None)
        return original(ticket_id, priority, stamp)

    zendesk.set_priority = quota_on_second
    with pytest.raises(BatchInterrupted) as info:
        run()
    progress = info.value.progress
    assert progress.tags_done and set(progress.written) == {1, 2, 3} and progress.priorities == {1: "high"}
    carried = progress.model_dump(mode="json")  # what the retry's message carries: stamps, no text
    assert all(stamp["subject"] == stamp["description"] == "" for stamp in carried["stamps"].values())
    reads = zendesk.reads
    resumed = run(progress.model_validate(carried))
    assert resumed.priorities == {1: "high", 2: "high", 3: "high"}
    assert zendesk.reads == reads  # resumed from the stamps it carried, without reading again
    assert len(zendesk.sent) == 1 and zendesk.puts == [(1, "high"), (2, "high"), (3, "high")]


def test_more_than_a_hundred_is_refused():
    zendesk = FakeZendesk(101)
    with pytest.raises(ValueError):
        write(zendesk, items(zendesk, range(1, 102)))


def test_a_redelivered_batch_holding_fewer_tickets_settles_only_those_it_holds():
    zendesk = FakeZendesk(3)
    log = MemoryJobLog()
    write(zendesk, items(zendesk, [1, 2, 3]), log)
    again = write(zendesk, items(zendesk, [2]), log)  # 1 and 3 were found done and left out
    assert set(again.written) == {2} and not again.failed and len(zendesk.sent) == 1
    assert write(zendesk, [], log).written == {}  # nothing left to write: nothing is asked
