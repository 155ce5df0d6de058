"""The fleet under a tight LLM quota it was told about: does it keep to it, and does any ticket
fall back to the rules because of it?

    .venv/bin/python bench/llm_quota.py [--tickets 150] [--tpm 13000] [--rpm 1000] [--window 6]

One run against the strict simulators: the LLM simulator counts quota tokens as OpenAI's limiter
does (characters of the messages and of the response schema over four, plus max_completion_tokens)
and answers 429 past its limits; the fleet (two workers, 8 processes each) is told the same
limits. 13,000 tokens per 6 s is about ten requests' worth. Ends with one JSON line: tickets,
requests, responses_429, share_429, fallbacks, failed, tickets_per_min.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import parse_args  # noqa: E402

from sim.launcher.stack import LocalStack  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=150)
    parser.add_argument("--tpm", type=int, default=13_000, help="LLM tokens per window")
    parser.add_argument("--rpm", type=int, default=1_000, help="LLM requests per window")
    parser.add_argument("--window", type=float, default=6.0, help="seconds the LLM limits count over")
    args, workdir = parse_args(parser, argv, "bench-llm-quota-")
    stack = LocalStack(
        workdir=workdir,
        tickets=args.tickets,
        redis_prefix=f"bench-{secrets.token_hex(4)}:",
        sim_options=["--rate-limit", "100000", "--update-rate-limit", "100000"],
    )
    with stack:
        stack.start_redis(args.redis_url)
        stack.start_simulator()
        stack.start_llm_simulator(
            [
                "--latency-mean",
                "0.5",
                "--rpm",
                str(args.rpm),
                "--tpm",
                str(args.tpm),
                "--rate-window",
                f"{args.window:g}",
            ]
        )
        stack.start_worker("alpha", autoscale="8,8")
        stack.start_worker("bravo", autoscale="8,8")
        stack.wait_for_workers(2, timeout=180)
        started = time.monotonic()
        run = stack.run_app("run", "--wait", "--timeout", "1200", timeout=1300)
        elapsed = time.monotonic() - started
        llm = stack.llm_sim("/_sim/stats")
        summaries = stack.summaries(5)
    if not summaries:
        raise SystemExit(f"no run finished:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    summary = summaries[0]
    share = llm["responses_429"] / llm["requests_total"] if llm["requests_total"] else 0.0
    print(f"LLM limits: {args.tpm} tokens and {args.rpm} requests per {args.window:g} s; logs: {workdir}")
    print(
        f"  {summary['total']} tickets: {summary['processed']} written, {summary['fallbacks']} fell back to the "
        f"rules, {summary['failed']} failed, in {elapsed:.0f} s"
    )
    print(
        f"  LLM requests {llm['requests_total']}, answered 429: {llm['responses_429']} ({share:.1%}), "
        f"quota tokens charged {llm['quota_tokens_total']}"
    )
    print(
        json.dumps(
            {
                "tickets": summary["total"],
                "requests": llm["requests_total"],
                "responses_429": llm["responses_429"],
                "share_429": round(share, 4),
                "fallbacks": summary["fallbacks"],
                "failed": summary["failed"],
                "tickets_per_min": round(summary["processed"] / elapsed * 60, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
