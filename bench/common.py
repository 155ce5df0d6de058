"""What the benchmarks share: their command line's common part, a process tree's memory and CPU time,
what a run delivered, and the one flat mapping of a record's figures their JSON line carries.

Its own module so that the benchmark scripts, which run as scripts with bench/ on sys.path, share it
without importing one another.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import psutil

MB = 1024 * 1024


def parse_args(
    parser: argparse.ArgumentParser, argv: list[str] | None, workdir_prefix: str
) -> tuple[argparse.Namespace, Path]:
    """The option every benchmark takes last (`--redis-url`), the parsed arguments, and a new
    folder for the run's logs."""
    parser.add_argument("--redis-url", default=None, help="default: REDIS_URL if reachable, else embedded")
    return parser.parse_args(argv), Path(tempfile.mkdtemp(prefix=workdir_prefix))


def tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


class TreeSampler:
    """Peak resident memory of processes and their children, sampled every `interval` seconds:
    RSS summed over processes (shared pages once per process) and PSS summed (each page once),
    for all the trees together and each tree's own PSS peak (`peak_pss_by_pid`)."""

    def __init__(self, pid: int | list[int], interval: float = 1.0) -> None:
        self.pids = [pid] if isinstance(pid, int) else list(pid)
        self.interval = interval
        self.peak_rss = self.peak_pss = 0
        self.peak_children = self.peak_processes = 0
        self.peak_pss_by_pid = dict.fromkeys(self.pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                trees = {pid: tree(pid) for pid in self.pids}
                rss = sum(p.memory_info().rss for tree in trees.values() for p in tree)
                pss_by_pid = {pid: sum(p.memory_full_info().pss for p in tree) for pid, tree in trees.items()}
            except psutil.Error:
                continue
            for pid, pss in pss_by_pid.items():
                self.peak_pss_by_pid[pid] = max(self.peak_pss_by_pid[pid], pss)
            processes = sum(len(tree) for tree in trees.values())
            if sum(pss_by_pid.values()) > self.peak_pss:
                self.peak_processes = processes
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, sum(pss_by_pid.values()))
            self.peak_children = max(self.peak_children, processes - len(trees))


def cpu_seconds(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        return total
    except psutil.Error:
        return 0.0


@dataclass
class Delivery:
    """What every benchmark proves before its speed counts: of `tickets`, how many were written,
    how many twice (a second note on one ticket) and how many never (lost)."""

    tickets: int
    written: int = 0
    twice: int = 0
    lost: int = 0

    def per_min(self, seconds: float) -> float:
        """Tickets written per minute over `seconds` (0 for no time)."""
        return self.written / seconds * 60 if seconds else 0.0


def flat(record: Any) -> dict[str, Any]:
    """A record's fields by name, with each field that is itself a record replaced by its own
    fields (flattened in turn): one level of keys in a benchmark's JSON line, however its figures
    are grouped. Two fields of one name would hide one another, so that is refused."""
    figures: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        inner = flat(value) if is_dataclass(value) and not isinstance(value, type) else {f.name: value}
        if clash := sorted(inner.keys() & figures.keys()):
            raise ValueError(f"{type(record).__name__}: two figures named {', '.join(clash)}")
        figures.update(inner)
    return figures


class RoundTrips:
    """A Redis client that counts its round trips to the server: each command sent alone is one,
    each pipeline executed is one (whatever it holds). `commands` counts every command either way;
    `last_pipeline` holds the commands of the last pipeline executed. How the benchmarks and the
    tests hold a metrics scrape or a report's reads to a fixed cost."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.round_trips = 0
        self.commands = 0
        self.last_pipeline: list[tuple[Any, ...]] = []

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self.client.pipeline(*args, **kwargs)
        original = pipe.execute

        def execute(*a: Any, **k: Any) -> Any:
            self.round_trips += 1
            self.commands += len(pipe.command_stack)
            self.last_pipeline = [tuple(command[0]) for command in pipe.command_stack]
            return original(*a, **k)

        pipe.execute = execute
        return pipe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.round_trips += 1
            self.commands += 1
            return attribute(*args, **kwargs)

        return call
