"""Batched writes through update_many against a fake Zendesk: rounds, conflicts, resumption."""

import pytest

from app.bulk import ROUNDS, BatchItem, JobPolling, write_triage_batch
from app.models import Analysis, Ticket
from app.taxonomy import load_taxonomy
from app.zendesk import JobStatus, ZendeskNotFound, ZendeskRateLimited, ZendeskUnavailable

TAXONOMY = load_taxonomy()
ANALYSIS = Analysis(summary="Login fails", values={"root_cause": "bug", "urgency": "high", "sentiment": "negative"},
                    provider="llm", model="gpt-4o-mini")
NO_WAIT = JobPolling(interval=0.01, timeout=5, max_sleep=1, sleep=lambda _: None)


class FakeZendesk:
    """Tickets with stamps; update_many jobs apply safe_update items like Zendesk does, finishing
    after `polls_to_finish` polls."""

    def __init__(self, n, polls_to_finish=2):
        self.tickets = {i: Ticket(id=i, status="open", priority="normal", updated_at=f"v1-{i}") for i in range(1, n + 1)}
        self.notes = {i: 0 for i in self.tickets}
        self.jobs, self.polls_to_finish = {}, polls_to_finish
        self.sent = []
        self.reads = 0
        self.reject = {}  # ticket id -> rounds to answer with a failure
        self.fail_polls = []

    def agent_edits(self, ticket_id):
        ticket = self.tickets[ticket_id]
        self.tickets[ticket_id] = ticket.model_copy(update={"updated_at": ticket.updated_at + "'"})

    def update_many(self, updates):
        job_id = f"job{len(self.jobs) + 1}"
        self.sent.append((job_id, sorted(updates)))
        results = []
        for index, (ticket_id, update) in enumerate(updates.items()):
            fields = update.fields()
            ticket = self.tickets.get(ticket_id)
            if ticket is None:
                results.append({"id": ticket_id, "index": index, "success": False, "error": "RecordNotFound"})
            elif self.reject.get(ticket_id, 0) > 0:
                self.reject[ticket_id] -= 1
                results.append({"id": ticket_id, "index": index, "success": False, "error": "TicketUpdateFailed",
                                "details": "Temporary failure"})
            elif fields.get("safe_update") and fields["updated_stamp"] != ticket.updated_at:
                results.append({"id": ticket_id, "index": index, "success": False, "error": "UpdateConflict"})
            else:
                self.tickets[ticket_id] = ticket.model_copy(update={
                    "tags": ticket.tags + fields["additional_tags"], "updated_at": ticket.updated_at + "+",
                    "priority": fields.get("priority", ticket.priority)})
                self.notes[ticket_id] += 1
                results.append({"id": ticket_id, "index": index, "success": True, "status": "Updated"})
        self.jobs[job_id] = [0, results]
        return JobStatus(id=job_id, status="queued", results=[])

    def job_status(self, job_id):
        if self.fail_polls:
            raise self.fail_polls.pop(0)
        if job_id not in self.jobs:
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


class MemoryJobLog(dict):
    def put(self, key, job_id):
        self[key] = job_id


def items(zendesk, ids):
    return [BatchItem(i, ANALYSIS, zendesk.tickets[i].model_copy()) for i in ids]


def test_one_job_writes_every_ticket_once_with_its_own_fields():
    zendesk = FakeZendesk(100)
    outcome = write_triage_batch(zendesk, items(zendesk, range(1, 101)), TAXONOMY, "run", MemoryJobLog(), "run:0", NO_WAIT)
    assert len(zendesk.sent) == 1 and outcome.jobs == 1 and zendesk.reads == 0
    assert set(outcome.written) == set(range(1, 101)) and not outcome.failed
    assert all(count == 1 for count in zendesk.notes.values())
    assert all(not o.already_done and "ai_processed" in o.tags_added and o.priority_set == "high"
               for o in outcome.written.values())


def test_conflicts_are_read_again_and_written_against_the_fresh_ticket():
    zendesk = FakeZendesk(10)
    batch = items(zendesk, range(1, 11))
    zendesk.agent_edits(3)  # an agent wrote ticket 3 after the sweep read it
    zendesk.tickets[7] = zendesk.tickets[7].model_copy(update={"priority": "urgent"})
    zendesk.agent_edits(7)  # ... and raised ticket 7 to urgent
    zendesk.tickets[9] = zendesk.tickets[9].model_copy(update={"status": "closed"})
    zendesk.agent_edits(9)
    outcome = write_triage_batch(zendesk, batch, TAXONOMY, "run", MemoryJobLog(), "run:0", NO_WAIT)
    assert [ids for _, ids in zendesk.sent] == [list(range(1, 11)), [3, 7]]
    assert set(outcome.written) == {1, 2, 3, 4, 5, 6, 7, 8, 10}
    assert outcome.written[7].priority_set is None  # urgent is never lowered to high
    assert zendesk.tickets[7].priority == "urgent"
    assert outcome.failed == {9: "ticket is closed; left untouched"}
    assert max(zendesk.notes.values()) == 1 and zendesk.notes[9] == 0


def test_a_ticket_already_processed_by_someone_else_is_not_written_again():
    zendesk = FakeZendesk(3)
    batch = items(zendesk, [1, 2, 3])
    write_triage_batch(zendesk, items(zendesk, [2]), TAXONOMY, "other-run", MemoryJobLog(), "other:0", NO_WAIT)
    outcome = write_triage_batch(zendesk, batch, TAXONOMY, "run", MemoryJobLog(), "run:0", NO_WAIT)
    assert outcome.written[2].already_done and not outcome.written[1].already_done
    assert zendesk.notes == {1: 1, 2: 1, 3: 1}


def test_a_retried_batch_polls_the_job_it_sent_instead_of_sending_another():
    zendesk = FakeZendesk(50, polls_to_finish=3)
    log = MemoryJobLog()
    zendesk.fail_polls = [ZendeskUnavailable("HTTP 503", 503)]
    with pytest.raises(ZendeskUnavailable):
        write_triage_batch(zendesk, items(zendesk, range(1, 51)), TAXONOMY, "run", log, "run:0", NO_WAIT)
    assert len(zendesk.sent) == 1 and log == {"run:0:1": "job1"}
    # The task retries with the same message: the sweep's stamps, now stale for every ticket.
    outcome = write_triage_batch(zendesk, items_stale(zendesk, range(1, 51)), TAXONOMY, "run", log, "run:0", NO_WAIT)
    assert len(zendesk.sent) == 1  # no second job
    assert set(outcome.written) == set(range(1, 51)) and all(not o.already_done for o in outcome.written.values())
    assert max(zendesk.notes.values()) == 1


def test_an_expired_job_is_sent_again_and_safe_update_prevents_a_second_note():
    zendesk = FakeZendesk(5)
    log = MemoryJobLog({"run:0:1": "job-long-gone"})
    zendesk.update_many({1: _plan(zendesk, 1)})  # ticket 1 was written by the lost job
    outcome = write_triage_batch(zendesk, items_stale(zendesk, range(1, 6)), TAXONOMY, "run", log, "run:0", NO_WAIT)
    assert outcome.written[1].already_done  # conflict, re-read, processed tag found
    assert set(outcome.written) == {1, 2, 3, 4, 5} and zendesk.notes == {i: 1 for i in range(1, 6)}


def _plan(zendesk, ticket_id):
    from app.triage import plan_update

    ticket = zendesk.tickets[ticket_id]
    return plan_update(ANALYSIS, TAXONOMY, ticket.priority, ticket.updated_at, "run")


def items_stale(zendesk, ids):
    return [BatchItem(i, ANALYSIS, Ticket(id=i, status="open", priority="normal", updated_at=f"v1-{i}")) for i in ids]


def test_failed_items_get_more_rounds_then_fail_with_zendesks_reason():
    zendesk = FakeZendesk(4)
    zendesk.reject = {2: 1, 3: 99}
    del zendesk.tickets[4]
    outcome = write_triage_batch(zendesk, items_stale(zendesk, [1, 2, 3, 4]), TAXONOMY, "run", MemoryJobLog(),
                                 "run:0", NO_WAIT)
    assert set(outcome.written) == {1, 2}
    assert outcome.failed[4] == "ticket not found (deleted?)"
    assert outcome.failed[3] == f"not written in {ROUNDS} update_many rounds: TicketUpdateFailed Temporary failure"
    assert len(zendesk.sent) == ROUNDS


def test_a_poll_refused_by_the_quota_waits_briefly_or_goes_back_to_the_caller():
    zendesk = FakeZendesk(2)
    slept = []
    polling = JobPolling(interval=0.5, timeout=60, max_sleep=2, sleep=slept.append)
    zendesk.fail_polls = [ZendeskRateLimited(1.5, status=None)]
    write_triage_batch(zendesk, items(zendesk, [1, 2]), TAXONOMY, "run", MemoryJobLog(), "run:0", polling)
    assert 1.5 in slept
    zendesk = FakeZendesk(2)
    zendesk.fail_polls = [ZendeskRateLimited(30, status=None)]
    with pytest.raises(ZendeskRateLimited):
        write_triage_batch(zendesk, items(zendesk, [1, 2]), TAXONOMY, "run", MemoryJobLog(), "run:0", polling)


def test_a_job_that_never_finishes_raises_for_a_retry_later():
    zendesk = FakeZendesk(1, polls_to_finish=10**9)
    clock = iter(range(0, 10**6, 10))
    polling = JobPolling(interval=1, timeout=30, sleep=lambda _: None, clock=lambda: next(clock))
    with pytest.raises(ZendeskUnavailable, match="still working"):
        write_triage_batch(zendesk, items(zendesk, [1]), TAXONOMY, "run", MemoryJobLog(), "run:0", polling)


def test_more_than_a_hundred_is_refused():
    zendesk = FakeZendesk(101)
    with pytest.raises(ValueError):
        write_triage_batch(zendesk, items(zendesk, range(1, 102)), TAXONOMY, "run", MemoryJobLog(), "run:0", NO_WAIT)
