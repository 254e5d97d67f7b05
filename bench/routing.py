"""Benchmark routing: report in, first alert in the outbox.

Real Redis (embedded, AOF ``always``), real ``sajag worker`` processes (RQ workers with
the scheduler; ``--compare-fork`` adds forking ones), the example roster. Cases are fed
through the intake service at a fixed rate; latency is from the report's receipt to its
first alert in the outbox. A bare RQ no-op job's throughput on the same workers is
measured alongside.

Run ``python -m bench.routing [--cases 1000] [--rate 50] [--workers 2]``; prints markdown.
Loopback only; every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis
from rq.job import JobStatus

from bot.jobs import enqueue, get_queue
from bot.models import Channel, utcnow
from bot.outbound import read_outbox
from bot.redis import EmbeddedRedis
from bot.responders import parse_roster, store_roster
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = REPO_ROOT / "examples" / "responders.toml"
SECRET = "bench-secret-key-not-for-production"  # noqa: S105 - a throwaway bench key
TEXTS = (
    "a 14 year old girl is being taken to Delhi by bus tonight, help",
    "ek 12 saal ki ladki ko aaj raat train se le ja rahe hain, madad karo",
    "two girls aged 13 and 15 were put on a train to Mumbai by an agent right now, help",
    "meri 15 saal ki behen ko ek aadmi aaj raat bus se le ja raha hai, madad karo",
)
NOOP_JOBS = 1000
TIMEOUT_SECONDS = 120


def noop() -> None:
    """The bare RQ job the routing throughput is compared with."""


def emit(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def start_workers(
    count: int, redis_url: str, data_dir: Path, simple: bool
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "SAJAG_REDIS_URL": redis_url,
        "SAJAG_SECRET_KEY": SECRET,
        "SAJAG_DATA_DIR": str(data_dir),
        "SAJAG_LOG_LEVEL": "WARNING",
    }
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "worker",
                *(() if simple else ("--fork",)),
                "--name",
                f"bench-{n}-{os.getpid()}",
            ],
            cwd=REPO_ROOT,
            env=env,
            start_new_session=True,
        )
        for n in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for proc in workers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"bench: timed out waiting for {what}")


def bare_rq_throughput(client: redis.Redis) -> float:
    """No-op jobs per second through the same workers (FIFO: the last one done, all done)."""
    queue = get_queue(client)
    started = time.perf_counter()
    for n in range(NOOP_JOBS):
        last = enqueue(client, "bench.routing.noop", job_id=f"noop_{n}")

    def drained() -> bool:
        return (
            queue.count == 0
            and queue.started_job_registry.count == 0
            and last.get_status(refresh=True) == JobStatus.FINISHED
        )

    wait_until(drained, "the no-op jobs")
    return NOOP_JOBS / (time.perf_counter() - started)


def feed(runtime: Runtime, cases: int, rate: float) -> dict[str, datetime]:
    """Submit ``cases`` reports at ``rate`` per second; returns ref -> receipt time."""
    received: dict[str, datetime] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    for n in range(cases):
        pause = start + n * interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        at = utcnow()
        intake = runtime.intake.submit(
            channel=Channel.SMS,
            address=f"+9198{n:08d}",
            text=TEXTS[n % len(TEXTS)],
            message_id=f"bench-{n}",
            received_at=at,
            country="IN",
        )
        received[intake.case.ref] = at
    return received


def first_alerts(client: redis.Redis) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for entry in read_outbox(client, 100_000):
        ref = entry.get("case_ref")
        if entry["kind"] != "alert" or not isinstance(ref, str):
            continue
        at = datetime.fromisoformat(str(entry["at"]))
        if ref not in first or at < first[ref]:
            first[ref] = at
    return first


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(cases: int, rate: float, worker_count: int, simple: bool) -> Result:
    with tempfile.TemporaryDirectory(prefix="sajag-bench-") as tmp:
        data_dir = Path(tmp)
        server = EmbeddedRedis(data_dir / "redis", persistent=True, appendfsync="always")
        server.start()
        workers: list[subprocess.Popen[bytes]] = []
        try:
            settings = Settings(
                _env_file=None,
                data_dir=data_dir,
                redis_url=server.url,
                secret_key=SECRET,
            )
            client = redis.Redis.from_url(server.url)
            runtime = build_runtime(settings, client)
            roster = parse_roster(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
            store_roster(client, runtime.privacy, roster, utcnow())
            workers = start_workers(worker_count, server.url, data_dir, simple)
            noop_rate = bare_rq_throughput(client)
            received = feed(runtime, cases, rate)
            wait_until(lambda: len(first_alerts(client)) >= cases, "every first alert")
            alerts = first_alerts(client)
            latencies = [(alerts[ref] - at).total_seconds() for ref, at in received.items()]
            span = (max(alerts.values()) - min(received.values())).total_seconds()
            kind = "sajag worker (in-process jobs)" if simple else "sajag worker --fork"
            return Result(f"{worker_count} × {kind}", latencies, cases / span, noop_rate)
        finally:
            stop_workers(workers)
            server.stop()


@dataclass(frozen=True)
class Result:
    workers: str
    latencies: list[float]
    routed_per_second: float
    noop_per_second: float


def report(cases: int, rate: float, results: list[Result]) -> None:
    emit(f"## Routing: {cases} critical cases fed at {rate:g}/s (report → first alert in outbox)")
    emit()
    emit("| workers | p50 | p99 | max | cases routed/s | bare RQ no-op jobs/s | p99 < 1 s |")
    emit("|---|---|---|---|---|---|---|")
    for r in results:
        p99 = percentile(r.latencies, 0.99)
        emit(
            f"| {r.workers} | {statistics.median(r.latencies) * 1000:.0f} ms "
            f"| {p99 * 1000:.0f} ms | {max(r.latencies) * 1000:.0f} ms "
            f"| {r.routed_per_second:.1f} | {r.noop_per_second:.1f} "
            f"| {'yes' if p99 < 1.0 else 'no'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--compare-fork",
        action="store_true",
        help="Also run the same load on forking workers (sajag worker --fork).",
    )
    args = parser.parse_args()
    results = [run(args.cases, args.rate, args.workers, simple=True)]
    if args.compare_fork:
        results.append(run(args.cases, args.rate, args.workers, simple=False))
    report(args.cases, args.rate, results)


if __name__ == "__main__":
    main()
