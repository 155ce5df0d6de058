"""Lanes: the queue a task came from decides whether it may use the reserve kept for new tickets,
and the tasks of a webhook run go to the intake queues, their waiting work to the I/O worker's."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from app.fleet import lanes
from app.names import CPU_QUEUES, IO_QUEUES, Queue
from workers import signals


def task_from(queue: str | None) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(delivery_info={"routing_key": queue} if queue else None))


def test_a_task_from_an_intake_queue_runs_in_the_intake_lane_and_leaves_it_after():
    assert lanes.current() == lanes.BACKLOG
    for queue, lane in (
        ("intake", lanes.INTAKE),
        ("intake_io", lanes.INTAKE),
        ("classify", lanes.BACKLOG),
        (None, lanes.BACKLOG),
    ):
        signals._enter_lane(task_id="t", task=task_from(queue))
        assert lanes.current() == lane
        signals._leave_lane(task_id="t")
        assert lanes.current() == lanes.BACKLOG


def test_each_thread_of_the_io_pool_has_its_own_lane():
    seen = {}
    entered, checked = threading.Event(), threading.Event()

    def intake_thread() -> None:
        signals._enter_lane(task_id="a", task=task_from("intake_io"))
        entered.set()
        checked.wait(5)
        seen["intake"] = lanes.current()
        signals._leave_lane(task_id="a")

    thread = threading.Thread(target=intake_thread)
    thread.start()
    entered.wait(5)
    seen["other"] = lanes.current()
    checked.set()
    thread.join(5)
    assert seen == {"intake": lanes.INTAKE, "other": lanes.BACKLOG}


def test_the_two_workers_take_every_queue_and_the_io_worker_the_intake_io_queue():
    assert Queue.INTAKE in CPU_QUEUES and Queue.INTAKE_IO in IO_QUEUES
    assert set(CPU_QUEUES) | set(IO_QUEUES) == set(Queue)


def test_a_webhook_runs_waiting_work_goes_to_the_io_twin_of_its_queue():
    from app.domain.models import TicketWork
    from app.fleet.dispatch import classify_signature, redact_batch_signature

    assert redact_batch_signature([], "run", 0, queue="intake").options["queue"] == "intake"
    work = TicketWork(ticket_id=1, run_id="run", enqueued_at=0.0)
    assert classify_signature(work, "intake").options["queue"] == "intake_io"
    assert "queue" not in classify_signature(work).options  # a sweep's: its own route


def test_a_new_tickets_retry_waits_what_it_was_told_and_under_a_second_more():
    from app.errors import TryLater, retry_countdown

    told = TryLater("quota", 3.0)
    prompt = [retry_countdown(told, 0, 600, prompt=True) for _ in range(200)]
    herd = [retry_countdown(told, 0, 600) for _ in range(200)]
    assert all(3.0 <= c <= 4.0 for c in prompt)
    assert all(3.0 <= c <= 8.0 for c in herd) and max(herd) > 4.0
