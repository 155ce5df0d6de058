"""The fleet's shared state on fakeredis: Redis semantics (SET NX, expiry, pipelines and the
fleet's Lua scripts, run by lupa) without a server, so the fast tier needs none. What needs a real
server's behaviour stays in tests/integration: Sentinel, reconnects, many processes at once, and the
rate limiter, whose script calls redis.replicate_commands() (fakeredis has no such function)."""

from __future__ import annotations

import fakeredis
import pytest

from app.fleet.claims import Claims, DeadLetters
from app.fleet.store import JobSlots, SharedTokenStore, StoredToken


@pytest.fixture
def redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def test_a_claim_is_taken_once_and_a_written_ticket_is_done_afterwards(redis):
    claims = Claims(redis, claim_ttl=60, done_ttl=600, prefix="p:")
    assert claims.take(7, owner="host-a:1")
    assert not claims.take(7, owner="host-b:2")  # the racing path loses
    assert claims.unavailable([7, 8]) == {7}
    assert claims.unavailable([7, 8], include_claims=False) == set()
    claims.finish(7, written=True)
    assert claims.is_done(7) and redis.get("p:ticket:7:claim") is None
    assert 0 < redis.ttl("p:ticket:7:done") <= 600
    assert claims.unavailable([7], include_claims=False) == {7}


def test_a_ticket_that_was_not_written_is_free_again_and_not_done(redis):
    claims = Claims(redis, claim_ttl=60, done_ttl=600)
    claims.take(3)
    claims.finish(3, written=False)
    assert not claims.is_done(3) and claims.take(3)


def test_dead_letters_keep_their_order_hide_the_ticket_from_sweeps_and_leave_when_requeued(redis):
    claims = Claims(redis, claim_ttl=60, done_ttl=600, prefix="p:")
    dead = DeadLetters(claims)
    dead.add(11, "classify", "LLM refused", "run-1")
    dead.add(12, "update", "HTTP 422", "run-1")
    assert [(e["ticket_id"], e["stage"]) for e in dead.entries()] == [(11, "classify"), (12, "update")]
    assert claims.unavailable([11, 12, 13], include_claims=False) == {11, 12}
    dead.remove([11])
    assert [e["ticket_id"] for e in dead.entries()] == [12]
    assert claims.unavailable([11], include_claims=False) == set()


def test_the_shared_token_is_dropped_only_by_whoever_holds_that_very_token(redis):
    store = SharedTokenStore(redis, prefix="p:")
    store.put(StoredToken("new-token", expires_at=4_102_444_800.0, lifetime=7200.0))
    store.discard("old-token")  # a process that saw the previous token refused
    assert store.get() == StoredToken("new-token", 4_102_444_800.0, 7200.0)
    store.discard("new-token")
    assert store.get() is None


def test_one_renewer_at_a_time_and_only_the_holder_unlocks(redis):
    store = SharedTokenStore(redis)
    assert store.lock("a", 5) and not store.lock("b", 5)
    store.unlock("b")  # not the holder: nothing happens
    assert not store.lock("b", 5)
    store.unlock("a")
    assert store.lock("b", 5)


def test_job_slots_cap_the_fleet_and_keep_a_reserve_for_new_tickets(redis):
    slots = JobSlots(redis, limit=10, prefix="p:")
    assert slots.reserve == 2
    taken = [slots.acquire(f"batch-{i}", hold=60) for i in range(10)]
    assert taken.count(True) == 8  # a backlog stops short of the reserve
    assert slots.acquire("batch-0", hold=60)  # a holder keeps its own slot
    slots.release("batch-0")
    assert slots.acquire("batch-9", hold=60)
