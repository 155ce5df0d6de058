"""Resident memory of one worker (parent plus prefork children) with the spaCy model loaded.

    .venv/bin/python bench/worker_memory.py [--children 10 50] [--tasks-per-child 4]

For each pool size it starts `celery -A app worker --concurrency=N`, pushes redaction tasks
through every child (so copy-on-write pages a child touches are really its own), then reads
/proc for the whole process tree:
- RSS summed over processes: what `ps` adds up; shared pages are counted once per process;
- PSS summed: shared pages divided among the processes sharing them, the real total.
The model is loaded in the parent before the fork; the per-child figures show what sharing buys.
Ends with one JSON line: {"rss_mb_10_children": ..., "pss_mb_10_children": ..., ...}.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import tree  # noqa: E402

from sim.launcher.stack import LocalStack, wait_until  # noqa: E402

TEXT = (
    "Hi, I'm Margaret Thompson (margaret.thompson@example.org, +1 415 555 0132). My card "
    "4111 1111 1111 1111 was charged twice; please refund to GB82 WEST 1234 5698 7654 32."
)


def measure(children: int, tasks_per_child: int, redis_url: str | None) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="worker-memory-"))
    stack = LocalStack(workdir=workdir, redis_prefix=f"mem-{secrets.token_hex(4)}:")
    stack.zendesk_url = "http://127.0.0.1:9"  # never called: only redaction runs here
    with stack:
        stack.start_redis(redis_url)
        worker = stack.spawn(
            "worker",
            stack.celery(
                "worker", f"--concurrency={children}", "-Q", "redact", "-n", f"mem{children}@%h", "--loglevel=WARNING"
            ),
        )
        wait_until(lambda: len(tree(worker.pid)) >= children + 1, 120, f"{children} pool children")
        stack.wait_for_workers(1, timeout=120)
        from celery import Celery

        client = Celery(broker=stack.redis_url, backend=stack.redis_url)
        client.conf.update(
            broker_transport_options={"global_keyprefix": stack.redis_prefix},
            result_backend_transport_options={"global_keyprefix": stack.redis_prefix},
        )
        payload = {
            "run_id": "mem",
            "ticket_id": 1,
            "subject": "Refund",
            "description": TEXT,
            "enqueued_at": time.time(),
        }
        results = [
            client.send_task("triage.redact", args=(payload,), queue="redact")
            for _ in range(children * tasks_per_child)
        ]
        for result in results:
            result.get(timeout=300)
        time.sleep(1)
        processes = tree(worker.pid)
        rss = sum(p.memory_info().rss for p in processes)
        pss = sum(p.memory_full_info().pss for p in processes)
        parent_rss = processes[0].memory_info().rss
        child_pss = [p.memory_full_info().pss for p in processes[1:]]
    mb = 1024 * 1024
    return {
        "processes": len(processes),
        "rss_total_mb": round(rss / mb, 1),
        "pss_total_mb": round(pss / mb, 1),
        "parent_rss_mb": round(parent_rss / mb, 1),
        "child_pss_mean_mb": round(sum(child_pss) / len(child_pss) / mb, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--tasks-per-child", type=int, default=4)
    parser.add_argument("--redis-url", default=None, help="default: REDIS_URL if reachable, else embedded")
    args = parser.parse_args(argv)
    headline: dict[str, float] = {}
    for children in args.children:
        figures = measure(children, args.tasks_per_child, args.redis_url)
        print(
            f"{children:>3} children: {figures['processes']} processes, RSS total {figures['rss_total_mb']} MB, "
            f"PSS total {figures['pss_total_mb']} MB, parent RSS {figures['parent_rss_mb']} MB, "
            f"mean child PSS {figures['child_pss_mean_mb']} MB"
        )
        headline[f"rss_mb_{children}_children"] = figures["rss_total_mb"]
        headline[f"pss_mb_{children}_children"] = figures["pss_total_mb"]
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
