"""Throughput at the quota ceiling: the seed's design and the fleet, side by side in one run.

    make bench
    .venv/bin/python bench/throughput.py [--tickets 2000] [--baseline-tickets 1000] [--time-scale 2] \
        [--cpu-tickets 1000]

One simulator configuration for both designs (a fresh simulator per phase, same options):
Zendesk Enterprise limits (700 requests/min, 100 Update Ticket/min), LLM latency mean 3.5 s
(p95 about 5 s), OpenAI tier-2 quotas for gpt-4o-mini (5,000 RPM, 2M TPM).

`--time-scale S` compresses every latency and every limit window by S (S=2: LLM mean 1.75 s,
700 requests per 30 s). Figures are reported back in real-world units (tickets per simulated
minute, seconds per ticket times S), so S changes how long the benchmark takes, not what it
reports, as long as the machine's CPU is not the bottleneck (the CPU phase says how far it is).

Phases:
1. baseline: bench/seed_baseline.py, the seed's ThreadPoolExecutor(10) fetch-merge-update (with the
   API token it was written for: the simulator takes both kinds of credentials in this phase);
2. fleet: Redis, one `celery -A app worker --autoscale=50,10`, `python -m app run --wait`, on an
   account made ready by `python -m app zendesk setup` (OAuth only, priorities raised by Zendesk's
   triggers) while simulated agents edit tickets: the complete run (priorities included) against
   the tags-and-note rate of the same run (complete_ratio), single-ticket PUTs, priorities raised
   by the triggers, agents' priorities lowered or overridden;
3. cpu: no latency and no limits; the fleet's tickets/s against a 3-task no-op chain plus chord
   (bench/noop_chain.py) on the same worker command, with where the CPU time went;
4. memory: the worker's total resident memory at 10 and 50 pool children (bench/worker_memory.py);
5. plan: the LLM plan's ceiling at real time, 10,000 tickets, the two-worker form (classification on a
   thread pool) against the one-command prefork fleet (bench/plan_ceiling.py).
Ends with one JSON line of the headline figures.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import MB, Delivery, TreeSampler, cpu_seconds, parse_args  # noqa: E402

from app.domain.summary import percentile  # noqa: E402
from app.fleet.claims import Claims, DeadLetters  # noqa: E402
from sim.launcher.stack import SIM_EMAIL, SIM_LLM_KEY, SIM_TOKEN, LocalStack, wait_until  # noqa: E402


@dataclass
class Phase:
    """One design's figures, in real-world units (already multiplied back by the time scale): its
    delivery, the tickets it reported failed (by a 429 among them), and what it observed: the
    Zendesk simulator's counts at the end, each written ticket's seconds, peak memory."""

    name: str
    delivery: Delivery
    wall_seconds: float = 0.0
    failed: int = 0
    failures_429: int = 0
    zendesk: dict[str, Any] = field(default_factory=dict)
    ticket_seconds: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def zendesk_requests(self) -> int:
        return self.zendesk.get("requests_total", 0)

    @property
    def responses_429(self) -> int:
        return self.zendesk.get("responses_429", 0)

    @property
    def requests_per_ticket(self) -> float:
        return self.zendesk_requests / self.delivery.tickets if self.delivery.tickets else 0.0

    @property
    def tickets_per_min(self) -> float:
        return self.delivery.per_min(self.wall_seconds)

    def seconds_at(self, q: int) -> float:
        """The q-th percentile of the written tickets' seconds."""
        return percentile(sorted(self.ticket_seconds), q)

    def observe(self, stats: dict[str, Any], times: list[float], sampler: TreeSampler) -> None:
        """What both designs report alike: the simulator's counts (the tickets with more than one
        note are the ones written twice), time per ticket, peak memory."""
        self.zendesk = stats
        self.delivery.twice = stats["tickets_with_multiple_notes"]
        self.ticket_seconds = times
        self.peak_rss_mb, self.peak_pss_mb = sampler.peak_rss / MB, sampler.peak_pss / MB


def zendesk_options(scale: float, limits: bool = True) -> list[str]:
    """The strict simulator as documented (update_many ignores safe_update, 30 jobs, expiring job
    statuses, the export's own limit), Enterprise limits, every duration divided by `scale`."""
    if not limits:
        return [
            "--rate-limit",
            "10000000",
            "--update-rate-limit",
            "10000000",
            "--export-rate-limit",
            "10000000",
            "--job-delay-ms",
            "0",
            "--job-item-ms",
            "0",
            "--index-lag",
            "0",
        ]
    return [
        "--rate-limit",
        "700",
        "--update-rate-limit",
        "100",
        "--rate-window",
        f"{60 / scale:g}",
        "--job-delay-ms",
        f"{2000 / scale:g}",
        "--job-item-ms",
        f"{20 / scale:g}",
        "--job-ttl",
        f"{3600 / scale:g}",
        "--index-lag",
        f"{30 / scale:g}",
        "--cursor-ttl",
        f"{3600 / scale:g}",
    ]


def llm_options(scale: float, latency: bool = True) -> list[str]:
    if not latency:
        return ["--latency-mean", "0", "--rpm", "10000000", "--tpm", "10000000000"]
    return [
        "--latency-mean",
        f"{3.5 / scale:g}",
        "--rpm",
        "5000",
        "--tpm",
        "2000000",
        "--rate-window",
        f"{60 / scale:g}",
    ]


def new_stack(workdir: Path, tickets: int, redis_url: str | None, name: str) -> LocalStack:
    stack = LocalStack(workdir=workdir / name, tickets=tickets, redis_prefix=f"bench-{secrets.token_hex(4)}:")
    stack.start_redis(redis_url)
    return stack


# -- phase 1: the seed's design ----------------------------------------------------------------


def run_baseline(args: argparse.Namespace, workdir: Path) -> Phase:
    phase = Phase("seed baseline (ThreadPoolExecutor(10), GET+merge+PUT)", Delivery(args.baseline_tickets))
    with new_stack(workdir, args.baseline_tickets, args.redis_url, "baseline") as stack:
        stack.sim_auth = "both"  # the seed knows only API tokens
        stack.sim_options = zendesk_options(args.time_scale)
        stack.start_simulator()
        stack.start_llm_simulator(llm_options(args.time_scale))
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "seed_baseline.py"),
                "--zendesk-url",
                stack.zendesk_url,
                "--llm-url",
                f"{stack.llm_url}/v1",
                "--email",
                SIM_EMAIL,
                "--token",
                SIM_TOKEN,
                "--llm-key",
                SIM_LLM_KEY,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with TreeSampler(process.pid) as sampler:
            out, err = process.communicate(timeout=args.phase_timeout)
        if process.returncode != 0:
            raise SystemExit(f"baseline failed:\n{err[-3000:]}")
        report = json.loads(out.strip().splitlines()[-1])
        stats = stack.stats()
    results = report["results"]
    scale = args.time_scale
    phase.wall_seconds = report["elapsed"] * scale
    phase.delivery.written = sum(r["status"] == "success" for r in results)
    phase.failed = sum(r["status"] == "failed" for r in results)
    phase.failures_429 = sum(bool(r.get("error_429")) for r in results)
    phase.observe(stats, [r["time"] * scale for r in results], sampler)
    # Lost: neither written nor reported as failed (the seed has no dead-letter list: a failed
    # ticket is only a log line, but it is at least reported).
    phase.delivery.lost = args.baseline_tickets - stats["tickets_ai_processed"] - phase.failed
    phase.extra["errors"] = sorted({r.get("error", "")[:120] for r in results if r["status"] == "failed"})[:3]
    return phase


# -- phase 2: the fleet ------------------------------------------------------------------------


def fleet_env(scale: float) -> dict[str, str]:
    return {"BULK_POLL_INTERVAL": f"{1.0 / scale:g}", "SWEEP_INTERVAL": f"{60 / scale:g}"}


# Simulated agents' edits per real minute in the fleet phase: each raises a ticket to urgent or tags
# it reviewed in the Zendesk UI, as people do while the fleet works (priority set by hand).
AGENT_EDITS_PER_MIN = 60


def run_fleet(args: argparse.Namespace, workdir: Path) -> Phase:
    phase = Phase(
        "fleet (celery worker --autoscale=50,10, update_many, priorities by Zendesk's triggers)",
        Delivery(args.tickets),
    )
    scale = args.time_scale
    with new_stack(workdir, args.tickets, args.redis_url, "fleet") as stack:
        stack.sim_options = [*zendesk_options(scale), "--agent-edit-rate", str(AGENT_EDITS_PER_MIN)]
        stack.start_simulator()
        stack.setup_zendesk()  # the webhook (unused here), its secret and the fleet's triggers
        stack.start_llm_simulator(llm_options(scale))
        stack.extra_env = fleet_env(scale)
        worker = stack.start_worker("worker", autoscale="50,10")
        stack.wait_for_workers(1, timeout=180)
        started, started_wall = time.monotonic(), time.time()
        with TreeSampler(worker.pid) as sampler:
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "app",
                    "run",
                    "--limit",
                    str(args.tickets),
                    "--wait",
                    "--timeout",
                    str(args.phase_timeout),
                ],
                cwd=ROOT,
                env=stack.env(),
                capture_output=True,
                text=True,
                timeout=args.phase_timeout + 60,
            )
        elapsed = time.monotonic() - started
        stats = stack.stats()
        llm_stats = stack.llm_sim("/_sim/stats")
        runs = stack.summaries(50)
        dead = DeadLetters(Claims(stack.redis(), 60, 60, stack.redis_prefix)).entries()
    if not runs:
        raise SystemExit(f"the fleet finished no run:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    results = [r for summary in runs for r in summary["results"]]
    phase.wall_seconds = elapsed * scale
    phase.delivery.written = stats["tickets_ai_processed"]
    failed = [r for r in results if r["status"] == "failed"]
    phase.failed = len(failed)
    phase.failures_429 = sum("429" in (r.get("error") or "") or "rate limit" in (r.get("error") or "") for r in failed)
    reported = {r["ticket_id"] for r in failed} | {d["ticket_id"] for d in dead}
    phase.delivery.lost = args.tickets - phase.delivery.written - len(reported)
    written = [r for r in results if r["status"] in ("success", "fallback")]
    phase.observe(stats, [r["processing_time"] * scale for r in written], sampler)
    # Tags and notes land through update_many; priority raises trail them, one safe PUT each at the
    # fleet's share of Update Ticket (ZENDESK_UPDATE_SHARE of 100 a minute).
    last_written = max((r["written_at"] for r in written if r.get("written_at")), default=started_wall)
    triaged_seconds = (last_written - started_wall) * scale
    raises = sum(1 for r in written if r.get("priority_set"))
    phase.extra.update(
        complete_per_min=round(phase.tickets_per_min, 1),
        complete_ratio=round(phase.tickets_per_min / (len(written) / triaged_seconds * 60), 3)
        if triaged_seconds and written
        else 0.0,
        single_ticket_puts=stats["requests_by_endpoint"].get("ticket_update", 0),
        priorities_raised_by_trigger=stats["tickets_priority_raised_by_trigger"],
        agent_priorities_lowered=stats["tickets_priority_lowered"],
        agent_hand_priorities_overridden=stats["hand_priorities_overridden"],
        agent_edits=stats["agent_edits_total"],
        oauth_tokens=stats["oauth"]["tokens_issued"],
        api_token_requests=stats["requests_by_auth"].get("api_token", 0),
    )
    phase.extra.update(
        peak_children=sampler.peak_children,
        runs=len(runs),
        requests_by_endpoint={k: v for k, v in stats["requests_by_endpoint"].items() if v},
        fallbacks=sum(r["status"] == "fallback" for r in results),
        triaged_per_min=round(len(written) / triaged_seconds * 60, 1) if triaged_seconds else 0.0,
        priority_raises=raises,
        priority_raises_per_min=round(raises / phase.wall_seconds * 60, 1) if phase.wall_seconds else 0.0,
        llm_requests=llm_stats["requests_total"],
        llm_responses_429=llm_stats["responses_429"],
        job_status_404=stats.get("job_status_404", 0),
        responses_400=stats.get("responses_400", 0),
    )
    return phase


# -- phase 3: CPU-bound, against the raw chain ceiling -------------------------------------------

TASK_LINE = re.compile(r"Task (\S+)\[[^\]]+\] succeeded in ([0-9.]+)s")


def _task_time(log: Path) -> dict[str, float]:
    spent: dict[str, float] = defaultdict(float)
    for name, seconds in TASK_LINE.findall(log.read_text(errors="replace")):
        spent[name] += float(seconds)
    return dict(spent)


def start_raw_chain_worker(stack: LocalStack) -> tuple[Any, Any]:
    """The no-op chain's worker, on the fleet's worker command and Redis, and its app module."""
    env = {**stack.env(), "BENCH_REDIS_URL": stack.redis_url, "BENCH_REDIS_PREFIX": f"{stack.redis_prefix}noop:"}
    worker = stack.spawn(
        "noop-worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "noop_chain",
            "--workdir",
            str(ROOT / "bench"),
            "worker",
            "--autoscale=50,10",
            "-n",
            "noop@%h",
            "--loglevel=INFO",
        ],
        env=env,
    )
    import os

    os.environ.update({"BENCH_REDIS_URL": env["BENCH_REDIS_URL"], "BENCH_REDIS_PREFIX": env["BENCH_REDIS_PREFIX"]})
    import noop_chain

    wait_until(lambda: len(noop_chain.app.control.ping(timeout=1.0)) >= 1, 60, "the no-op worker")
    noop_chain.dispatch(10).get(timeout=60)  # warm up every connection once
    return worker, noop_chain


def time_raw_chain(worker: Any, noop_chain: Any, tickets: int) -> tuple[float, float]:
    """Tickets/s of no-op chains plus a chord, and the worker's CPU seconds for them."""
    cpu_before = cpu_seconds(worker.pid)
    started = time.monotonic()
    assert noop_chain.dispatch(tickets).get(timeout=600) == tickets
    elapsed = time.monotonic() - started
    return tickets / elapsed, cpu_seconds(worker.pid) - cpu_before


def time_fleet_run(
    stack: LocalStack, watched: dict[str, int], tickets: int, written_before: int
) -> tuple[float, dict[str, float]]:
    """Tickets/s of `python -m app run --limit N --wait` from start to summary, and CPU seconds by process."""
    before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    started = time.monotonic()
    run = stack.run_app("run", "--limit", str(tickets), "--wait", timeout=900)
    elapsed = time.monotonic() - started
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in watched.items()}
    written = stack.stats()["tickets_ai_processed"] - written_before
    if run.returncode != 0 or written != tickets:
        raise SystemExit(f"CPU-bound run wrote {written}/{tickets}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return tickets / elapsed, cpu


# Where a stack sample's time goes, by the first of these found from the innermost frame out.
PROFILE_BUCKETS = [
    ("spaCy NER (redaction)", ("spacy", "thinc")),
    ("redaction rules", ("app/pii/", "phonenumbers")),
    ("LLM SDK + HTTP", ("openai/", "httpx", "httpcore")),
    ("Zendesk HTTP", ("requests/", "urllib3")),
    ("Redis client", ("redis/",)),
    ("pydantic", ("pydantic",)),
    ("logging", ("logging/",)),
    ("Celery/kombu/billiard", ("celery/", "kombu/", "billiard/", "vine/")),
    ("JSON", ("json/",)),
]


def profile_summary(raw_file: Path) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Shares of samples by bucket (innermost matching frame wins) and the top self-time frames,
    from py-spy's collapsed stacks ("frame;frame;... count")."""
    buckets: dict[str, int] = defaultdict(int)
    leaves: dict[str, int] = defaultdict(int)
    total = 0
    for line in raw_file.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[frames[-1]] += count
        for frame in reversed(frames):
            bucket = next((name for name, marks in PROFILE_BUCKETS if any(m in frame for m in marks)), None)
            if bucket:
                buckets[bucket] += count
                break
        else:
            buckets["other (interpreter, idle waits, app code)"] += count
    if not total:
        return {}, []
    shares = {name: count / total for name, count in sorted(buckets.items(), key=lambda kv: -kv[1])}
    top = [(frame, count / total) for frame, count in sorted(leaves.items(), key=lambda kv: -kv[1])[:12]]
    return shares, top


def start_profiler(pid: int, output: Path) -> subprocess.Popen | None:
    """py-spy sampling the worker and its pool children (bench/requirements.txt); None without it."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        return None
    return subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_cpu_bound(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Rounds of (raw chain, fleet) back to back on the same machine; the median round is reported,
    because a shared 2-core machine moves either figure by a fifth from one minute to the next."""
    tickets = args.cpu_tickets
    with new_stack(workdir, tickets, args.redis_url, "cpu") as stack:
        stack.sim_options = zendesk_options(1, limits=False)
        stack.start_simulator()
        stack.start_llm_simulator(llm_options(1, latency=False))
        stack.extra_env = {
            "BULK_POLL_INTERVAL": "0.05",
            "ZENDESK_RATE_LIMIT": "0",
            "ZENDESK_UPDATE_RATE_LIMIT": "0",
            "LLM_RPM": "0",
            "LLM_TPM": "0",
        }
        worker = stack.start_worker("worker", autoscale="50,10")
        stack.wait_for_workers(1, timeout=180)
        noop_worker, noop_chain = start_raw_chain_worker(stack)
        watched = {name: next(p.pid for p in stack.processes if p.name == name) for name in ("zendesk-sim", "llm-sim")}
        watched["worker"] = worker.pid
        rounds = []
        for number in range(args.cpu_rounds):
            if number:
                stack.sim("/_sim/tickets", method="POST", json={"count": tickets})
            # Alternate which goes first, so neither always runs on the warmer (or busier) machine.
            if number % 2 == 0:
                raw_tps, raw_cpu = time_raw_chain(noop_worker, noop_chain, tickets)
                fleet_tps, cpu = time_fleet_run(stack, watched, tickets, number * tickets)
            else:
                fleet_tps, cpu = time_fleet_run(stack, watched, tickets, number * tickets)
                raw_tps, raw_cpu = time_raw_chain(noop_worker, noop_chain, tickets)
            rounds.append(
                {
                    "fleet_tickets_per_s": fleet_tps,
                    "raw_chain_tickets_per_s": raw_tps,
                    "ratio": fleet_tps / raw_tps,
                    "cpu_seconds": cpu,
                    "raw_cpu_seconds": {"worker": raw_cpu},
                }
            )
            print(
                f"  round {number + 1}: fleet {fleet_tps:.1f} tickets/s, raw chain {raw_tps:.1f}, "
                f"ratio {fleet_tps / raw_tps:.2f}",
                flush=True,
            )
        noop_worker.terminate()
        noop_worker.finish()
        noop_chain.app.close()
        profile_file = workdir / "cpu-profile.txt"
        if args.profile:
            # A separate, profiled run on new tickets: sampling slows the worker, so it never
            # overlaps the measured rounds above.
            stack.sim("/_sim/tickets", method="POST", json={"count": tickets})
            profiler = start_profiler(worker.pid, profile_file)
            stack.run_app("run", "--limit", str(tickets), "--wait", timeout=900)
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                profiler.wait(timeout=60)
        worker.terminate()
        worker.finish()
        task_time = _task_time(worker.log_path)
    median = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    shares, top = profile_summary(profile_file) if profile_file.exists() else ({}, [])
    return {
        **median,
        "rounds": [round(r["ratio"], 3) for r in rounds],
        "profile_shares": shares,
        "profile_top": top,
        "tickets": tickets,
        "task_seconds": task_time,
    }


# -- phase 4: memory ---------------------------------------------------------------------------


def run_memory(args: argparse.Namespace) -> dict[int, dict[str, float]]:
    from worker_memory import measure

    return {children: measure(children, 2, args.redis_url) for children in (10, 50)}


# -- report ------------------------------------------------------------------------------------


def print_phase(phase: Phase) -> None:
    delivery = phase.delivery
    print(f"\n{phase.name}")
    print(
        f"  tickets/min          {phase.tickets_per_min:8.1f}   ({delivery.written}/{delivery.tickets} written in "
        f"{phase.wall_seconds:.0f} s)"
    )
    print(f"  Zendesk requests     {phase.zendesk_requests:8d}   ({phase.requests_per_ticket:.3f} per ticket)")
    print(
        f"  429 responses        {phase.responses_429:8d}   tickets failed by a 429: {phase.failures_429}, "
        f"failed in all: {phase.failed}"
    )
    print(f"  time per ticket      p50 {phase.seconds_at(50):.1f} s   p95 {phase.seconds_at(95):.1f} s")
    print(f"  duplicates {delivery.twice}   lost {delivery.lost}")
    print(f"  peak RSS             {phase.peak_rss_mb:8.0f} MB summed over processes, {phase.peak_pss_mb:.0f} MB PSS")
    for key, value in phase.extra.items():
        print(f"  {key}: {value}")


PHASES = ["baseline", "fleet", "cpu", "memory", "plan"]
# How much each phase runs and how fast: flag and default (its type too).
SIZES: list[tuple[str, float]] = [
    ("--tickets", 2000),
    ("--baseline-tickets", 1000),
    ("--time-scale", 2.0),
    ("--cpu-tickets", 1000),
    ("--cpu-rounds", 3),
    ("--plan-tickets", 10_000),
    ("--phase-timeout", 1800.0),
]
# Why a default is what it is, for --help.
WHY = {
    "--baseline-tickets": "the seed's design sits at its ~100/min ceiling within a minute; 2,000 tickets "
    "would add ten minutes to the run without changing its rate",
    "--time-scale": "compress latencies and limit windows by this (CPU is not compressed: above ~2 "
    "the fleet is bound by this machine's 2 cores, not by the quotas)",
    "--cpu-rounds": "raw chain + fleet rounds; the median is reported",
    "--phase-timeout": "seconds a phase may take (the fleet's priority raises go at 50 a minute of "
    "simulated time, so 2,000 tickets take most of 20 minutes at scale 2)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default in SIZES:
        parser.add_argument(flag, type=type(default), default=default, help=WHY.get(flag))
    parser.add_argument("--phases", nargs="+", default=PHASES, choices=PHASES)
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", help="skip py-spy during the CPU-bound fleet run"
    )
    args, workdir = parse_args(parser, argv, "bench-throughput-")
    print(
        f"time scale {args.time_scale:g}: LLM mean {3.5 / args.time_scale:g} s, limits per {60 / args.time_scale:g} s; "
        f"figures below are in real-world units. Logs: {workdir}"
    )
    began = time.monotonic()
    headline: dict[str, Any] = {
        "time_scale": args.time_scale,
        "tickets": args.tickets,
        "baseline_tickets": args.baseline_tickets,
    }
    baseline = fleet = None
    if "baseline" in args.phases:
        baseline = run_baseline(args, workdir)
        print_phase(baseline)
        headline["baseline_tickets_per_min"] = round(baseline.tickets_per_min, 1)
    if "fleet" in args.phases:
        fleet = run_fleet(args, workdir)
        print_phase(fleet)
        headline.update(
            fleet_tickets_per_min=round(fleet.tickets_per_min, 1),
            fleet_triaged_per_min=fleet.extra["triaged_per_min"],
            complete_ratio=fleet.extra["complete_ratio"],
            single_ticket_puts=fleet.extra["single_ticket_puts"],
            priorities_raised_by_trigger=fleet.extra["priorities_raised_by_trigger"],
            agent_priorities_lowered=fleet.extra["agent_priorities_lowered"],
            agent_hand_priorities_overridden=fleet.extra["agent_hand_priorities_overridden"],
            fleet_priority_raises_per_min=fleet.extra["priority_raises_per_min"],
            fleet_llm_responses_429=fleet.extra["llm_responses_429"],
            fleet_fallbacks=fleet.extra["fallbacks"],
            zendesk_requests_per_ticket=round(fleet.requests_per_ticket, 4),
            failures_429=fleet.failures_429,
            duplicates=fleet.delivery.twice,
            lost=fleet.delivery.lost,
            fleet_failed=fleet.failed,
            fleet_p50_s=round(fleet.seconds_at(50), 1),
            fleet_p95_s=round(fleet.seconds_at(95), 1),
        )
    if baseline and fleet:
        ratio = fleet.tickets_per_min / baseline.tickets_per_min if baseline.tickets_per_min else float("inf")
        headline.update(
            ratio=round(ratio, 2),
            baseline_requests_per_ticket=round(baseline.requests_per_ticket, 3),
            baseline_failures_429=baseline.failures_429,
            baseline_duplicates=baseline.delivery.twice,
        )
        print(f"\nfleet / baseline: {ratio:.2f}x tickets/min")
    if "cpu" in args.phases:
        cpu = run_cpu_bound(args, workdir)
        print(
            f"\nCPU-bound ({cpu['tickets']} tickets, no latency, no limits), median of {len(cpu['rounds'])} rounds: "
            f"fleet {cpu['fleet_tickets_per_s']:.1f} tickets/s, raw 3-task chain + chord "
            f"{cpu['raw_chain_tickets_per_s']:.1f} tickets/s, ratio {cpu['ratio']:.2f} (rounds: "
            + ", ".join(f"{r:.2f}" for r in cpu["rounds"])
            + ")"
        )
        print(
            "  CPU seconds by process: "
            + ", ".join(f"{k} {v:.1f}" for k, v in cpu["cpu_seconds"].items())
            + f" (raw chain worker {cpu['raw_cpu_seconds']['worker']:.1f})"
        )
        print("  task run time by task:  " + ", ".join(f"{k} {v:.1f}s" for k, v in sorted(cpu["task_seconds"].items())))
        if cpu["profile_shares"]:
            print("  worker profile (py-spy samples of the worker and its pool children, idle stacks left out):")
            for name, share in cpu["profile_shares"].items():
                print(f"    {share:6.1%}  {name}")
            print(
                "  top frames by own samples: "
                + "; ".join(f"{frame} {share:.1%}" for frame, share in cpu["profile_top"][:8])
            )
        headline.update(
            cpu_bound_ratio=round(cpu["ratio"], 3),
            cpu_bound_rounds=cpu["rounds"],
            cpu_fleet_tickets_per_s=round(cpu["fleet_tickets_per_s"], 1),
            cpu_raw_chain_tickets_per_s=round(cpu["raw_chain_tickets_per_s"], 1),
        )
    if "memory" in args.phases:
        memory = run_memory(args)
        for children, figures in memory.items():
            print(
                f"\nworker at {children} children: {figures['pss_total_mb']:.0f} MB resident in total (PSS summed: "
                f"each page once), {figures['rss_total_mb']:.0f} MB if each process's RSS is added up"
            )
            headline[f"rss_mb_{children}_children"] = figures["pss_total_mb"]
            headline[f"rss_mb_{children}_children_summed_per_process"] = figures["rss_total_mb"]
    if "plan" in args.phases:
        from plan_ceiling import run_plan

        print("\nLLM plan ceiling, real time (5,000 requests and 2M tokens a minute, latency 3.5 s):")
        headline.update(run_plan(args.plan_tickets, ["io", "prefork"], args.redis_url, workdir))
    headline["bench_seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
