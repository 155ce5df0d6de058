"""Sweep logic with fakes: eligibility, skipping busy tickets, partial searches, limits."""

import pytest

from app.clients.zendesk import ZendeskUnavailable
from app.domain.models import Ticket
from app.fleet.sweep import sweep


class FakeClaims:
    def __init__(self, done=(), claimed=()):
        self.done, self.claimed = set(done), set(claimed)

    def unavailable(self, ids, include_claims=True):
        return {i for i in ids if i in self.done or (include_claims and i in self.claimed)}

    def take(self, ticket_id, owner=None):
        if ticket_id in self.claimed:
            return False
        self.claimed.add(ticket_id)
        return True


class FakeZendesk:
    def __init__(self, tickets, fail_after=None):
        self.tickets, self.fail_after = tickets, fail_after

        self.read = 0

    def unprocessed_tickets(self, processed_tag="ai_processed", wanted=100):
        self.wanted = wanted  # the page size the sweep asked for: its limit
        for index, ticket in enumerate(self.tickets):
            self.read += 1
            if self.fail_after is not None and index == self.fail_after:
                raise ZendeskUnavailable("HTTP 503", 503)
            yield ticket

    def show_many(self, ticket_ids):
        assert 1 <= len(ticket_ids) <= 100
        self.read += 1
        return [t for t in self.tickets if t.id in ticket_ids]


def tickets(n, **fields):
    return [Ticket(id=i, subject=f"s{i}", description="d", updated_at="t", **fields) for i in range(1, n + 1)]


def test_claims_eligible_and_skips_busy():
    found = tickets(6)
    found[4] = Ticket(id=5, status="solved")
    found[5] = Ticket(id=6, tags=["ai_processed"])
    claims = FakeClaims(done={1}, claimed={2})
    outcome = sweep(FakeZendesk(found), claims, limit=100)
    assert [i.ticket_id for i in outcome.inputs] == [3, 4]
    assert (outcome.found, outcome.skipped_done_or_claimed) == (4, 2)
    assert claims.claimed == {2, 3, 4}
    assert all(i.run_id == outcome.run_id and i.subject for i in outcome.inputs)


def test_a_failing_later_page_still_dispatches_what_was_claimed():
    outcome = sweep(FakeZendesk(tickets(250), fail_after=150), FakeClaims(), limit=1000)
    assert len(outcome.inputs) == 150


def test_a_failing_first_page_raises():
    with pytest.raises(ZendeskUnavailable):
        sweep(FakeZendesk(tickets(5), fail_after=0), FakeClaims(), limit=10)


def test_dry_run_claims_nothing_and_single_ticket():
    claims = FakeClaims(claimed={1})
    outcome = sweep(FakeZendesk(tickets(3)), claims, limit=10, dry_run=True)
    assert [i.ticket_id for i in outcome.inputs] == [1, 2, 3] and claims.claimed == {1}
    assert all(i.dry_run for i in outcome.inputs)
    one = sweep(FakeZendesk(tickets(3)), FakeClaims(), limit=10, ticket_ids=[2])
    assert [i.ticket_id for i in one.inputs] == [2]


def test_limit_counts_claims_so_a_backlog_past_claimed_tickets_is_reached():
    """Another sweep holds the first 1,000 tickets: this one claims the next ones instead of none
    (search.json would stop at its 1,000-result cap), and reads no further than it needs."""
    zendesk = FakeZendesk(tickets(2500))
    outcome = sweep(zendesk, FakeClaims(claimed=range(1, 1001)), limit=300)
    assert [i.ticket_id for i in outcome.inputs] == list(range(1001, 1301))
    assert zendesk.read == 1300
    assert zendesk.wanted == 300  # export pages sized to the sweep's limit (100 to 1,000 a page)


def test_tickets_asked_for_by_id_are_read_100_at_a_time_and_the_skipped_ones_counted():
    found = tickets(250)
    found[1] = Ticket(id=2, status="closed")
    found[2] = Ticket(id=3, tags=["ai_processed"])
    zendesk = FakeZendesk(found)
    asked = [*range(1, 251), 9999]
    outcome = sweep(zendesk, FakeClaims(), limit=1000, ticket_ids=asked, source="webhook")
    assert zendesk.read == 3  # show_many: 100 + 100 + 51 ids
    assert len(outcome.inputs) == 248 and outcome.source == "webhook"
    assert (outcome.not_found, outcome.not_eligible) == (1, 2)
