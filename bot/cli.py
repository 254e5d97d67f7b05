"""The ``sajag`` command line."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import redis
from pydantic import ValidationError

from bot.privacy import configure_logging
from bot.redis import EmbeddedRedis, RedisSetupError, check_eviction_policy, connect
from bot.settings import Settings

log = logging.getLogger("sajag")

MAINTENANCE_INTERVAL = 15


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid setting: {exc}") from exc


def _runtime(settings: Settings) -> Any:
    from bot.runtime import build_runtime

    try:
        return build_runtime(settings)
    except (RedisSetupError, redis.RedisError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sajag")
def main() -> None:
    """Sajag: an anonymous, multilingual helpline for reporting suspected child trafficking."""


# ------------------------------------------------------------------ run / web / worker
@main.command()
def run() -> None:
    """Run everything on one machine: Redis (embedded unless SAJAG_REDIS_URL), web, worker."""
    from bot.outbound import channel_modes
    from bot.runtime import clear_run_state, load_secret, write_run_state

    settings = load_settings()
    configure_logging(settings.log_level)
    load_secret(settings)
    embedded: EmbeddedRedis | None = None
    env = dict(os.environ)
    try:
        if settings.redis_url is None:
            embedded = EmbeddedRedis(
                settings.data_dir / "redis",
                persistent=True,
                appendfsync=settings.redis_appendfsync,
                own_session=True,
            )
            try:
                embedded.start()
            except RedisSetupError as exc:
                raise click.ClickException(str(exc)) from exc
            env["SAJAG_REDIS_URL"] = embedded.url
            write_run_state(settings.data_dir, embedded.url)
        url = env.get("SAJAG_REDIS_URL") or settings.redis_url or ""
        client = connect(url)
        try:
            check_eviction_policy(client)
        except RedisSetupError as exc:
            raise click.ClickException(str(exc)) from exc
        if embedded is not None:
            from bot.jobs import recover_abandoned_jobs

            recovered = recover_abandoned_jobs(client)
            if recovered:
                log.warning("retrying %d job(s) the previous run left unfinished", recovered)
        modes = channel_modes(settings)
        click.echo(
            f"Sajag on http://{settings.host}:{settings.port}  "
            f"redis: {'embedded ' + url if embedded else 'external'}  "
            f"sms: {modes['sms']}  telegram: {modes['telegram']}"
        )
        for channel, mode in modes.items():
            if mode == "sandbox":
                click.echo(
                    f"  {channel} is sandboxed: outbound messages go to the outbox ('sajag outbox')"
                )
        _supervise(env)
    finally:
        if embedded is not None:
            embedded.stop()
            clear_run_state(settings.data_dir)


def _supervise(env: dict[str, str]) -> None:
    """Start web and worker as children; restart one that dies; stop all on Ctrl-C/SIGTERM."""
    commands = {
        "web": [sys.executable, "-m", "bot.cli", "web"],
        "worker": [sys.executable, "-m", "bot.cli", "worker"],
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for name, argv in commands.items():
        children[name] = subprocess.Popen(argv, env=env)  # noqa: S603 - our own interpreter
    try:
        while not stopping.wait(0.5):
            for name, proc in list(children.items()):
                if proc.poll() is not None:
                    log.warning("%s exited with code %s; restarting it", name, proc.returncode)
                    time.sleep(1)
                    children[name] = subprocess.Popen(commands[name], env=env)  # noqa: S603
    finally:
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        click.echo("Sajag stopped.")


@main.command()
def web() -> None:
    """Run the web server only (webhooks, /healthz, /metrics; Telegram polling if configured)."""
    from aiohttp import web as aioweb

    from bot.app import create_app

    settings = load_settings()
    configure_logging(settings.log_level)
    runtime = _runtime(settings)
    aioweb.run_app(
        create_app(runtime),
        host=settings.host,
        port=settings.port,
        print=None,
        access_log=None,
        handle_signals=True,
    )


@main.command()
@click.option("--burst", is_flag=True, help="Process what is queued, then exit.")
@click.option("--name", default=None, help="Worker name (default: host and pid).")
@click.option(
    "--fork/--no-fork",
    default=False,
    show_default=True,
    help="Run each job in a forked child (isolation) instead of in the worker process (speed).",
)
def worker(burst: bool, name: str | None, fork: bool) -> None:
    """Run an RQ worker with the scheduler (start several, on several machines, to scale out)."""
    from rq import SimpleWorker, Worker
    from rq.serializers import JSONSerializer

    from bot.jobs import get_queue, offer_periodic

    settings = load_settings()
    configure_logging(settings.log_level)
    runtime = _runtime(settings)
    if settings.responders_file is not None:
        from bot.cli_responders import import_on_start

        import_on_start(runtime, settings.responders_file)
    queue = get_queue(runtime.redis)
    stop_ticker = threading.Event()

    def tick() -> None:
        while not stop_ticker.wait(5):
            try:
                offer_periodic(runtime.redis, time.time())
            except redis.RedisError as exc:
                log.warning("periodic jobs not offered: %s", exc)

    if not burst:
        threading.Thread(target=tick, name="sajag-periodic", daemon=True).start()
    try:
        while True:
            # Jobs take milliseconds; a fork per job caps a worker at a few dozen jobs/s
            # on a small machine (bench/routing.py), so jobs run in-process by default.
            # A worker killed mid-job is covered by the reconciler and job retries.
            worker_class = Worker if fork else SimpleWorker
            rq_worker = worker_class(
                [queue],
                connection=runtime.redis,
                serializer=JSONSerializer,
                name=name,
                # RQ restarts a dead scheduler and requeues abandoned jobs only during
                # maintenance (default every 600 s); a helpline cannot wait that long.
                maintenance_interval=MAINTENANCE_INTERVAL,
                # Maintenance only runs between blocking pops of worker_ttl - 15 s.
                worker_ttl=MAINTENANCE_INTERVAL + 15,
            )
            try:
                rq_worker.work(with_scheduler=True, burst=burst, logging_level=settings.log_level)
                return
            except redis.ConnectionError as exc:
                # RQ gives up when Redis goes away; a helpline worker waits for it to return.
                log.warning("lost Redis (%s); reconnecting", exc.__class__.__name__)
                _wait_for_redis(runtime.redis)
                _free_scheduler_lock(rq_worker)
    finally:
        stop_ticker.set()


def _free_scheduler_lock(rq_worker: Any) -> None:
    """Stop the lost worker's scheduler and release the lock it still holds.

    A restarted Redis reloads the lock from its append-only file; the next worker
    starts a scheduler under a new name and would wait out the lock's TTL (61 s)
    before scheduled jobs (escalations) fire again. RQ releases only the locks
    that are still this scheduler's.
    """
    if getattr(rq_worker, "scheduler", None) is None:
        return
    rq_worker.stop_scheduler()
    try:
        rq_worker.scheduler.release_locks()
    except redis.RedisError as exc:
        log.warning("scheduler lock not released: %s", exc)


def _wait_for_redis(client: redis.Redis, max_delay: float = 5.0) -> None:
    delay = 0.2
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            time.sleep(delay)
            delay = min(max_delay, delay * 2)


# ------------------------------------------------------------------ triage
@main.command()
@click.option(
    "--eval",
    "eval_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Score the rules against a labelled JSON-lines file and print the metrics.",
)
@click.option("--json", "as_json", is_flag=True, help="With --eval: print the metrics as JSON.")
@click.argument(
    "input_file", required=False, type=click.File("r", encoding="utf-8", errors="replace")
)
def triage(eval_file: Path | None, as_json: bool, input_file: Any) -> None:
    """Triage JSON lines ({"id","text"[,"lang"]}) from stdin or INPUT_FILE to stdout."""
    from triage.jsonl import assess_record

    if eval_file is not None:
        from triage.evaluate import evaluate, format_table, report_to_json

        records = []
        for number, line in enumerate(eval_file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{eval_file}:{number}: not JSON ({exc.msg})") from exc
        report = evaluate(records)
        click.echo(
            json.dumps(report_to_json(report), indent=2) if as_json else format_table(report)
        )
        return
    stream = input_file or click.open_file("-", "r", encoding="utf-8", errors="replace")
    for line in stream:
        if line.strip():
            click.echo(json.dumps(assess_record(line), ensure_ascii=False))


# ------------------------------------------------------------------ cases / outbox
@main.group()
def cases() -> None:
    """Inspect cases (reporters' addresses are never shown)."""


@cases.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--open", "open_only", is_flag=True, help="Only open cases, most urgent first.")
@click.option("--limit", default=50, show_default=True)
def cases_list(as_json: bool, open_only: bool, limit: int) -> None:
    """List cases, newest first (or the open queue with --open)."""
    runtime = _runtime(load_settings())
    rows = runtime.store.list_cases(limit=limit, open_only=open_only)
    if as_json:
        click.echo(json.dumps([_case_row(c) for c in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No cases yet.")
        return
    click.echo(
        f"{'REF':8} {'URGENCY':9} {'STATUS':16} {'CHANNEL':9} {'LANG':8} {'CREATED':20} CATEGORIES"
    )
    for c in rows:
        click.echo(
            f"{c.ref:8} {c.urgency:9} {c.status.value:16} {c.channel.value:9} "
            f"{c.language or '-':8} "
            f"{c.created_at.strftime('%Y-%m-%d %H:%M:%S'):20} {', '.join(c.categories) or '-'}"
        )


def _case_row(case: Any) -> dict[str, Any]:
    return {
        "ref": case.ref,
        "status": case.status.value,
        "urgency": case.urgency,
        "score": case.score,
        "categories": list(case.categories),
        "channel": case.channel.value,
        "language": case.language,
        "created_at": case.created_at.isoformat(),
        "assignee": case.assignee,
    }


@cases.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
def cases_show(ref: str, as_json: bool) -> None:
    """Show one case: triage, messages, assignments and audit trail."""
    from bot.models import parse_ref

    canonical = parse_ref(ref)
    if canonical is None:
        raise click.ClickException(f"{ref!r} is not a case reference; they look like K7Q-4TD")
    runtime = _runtime(load_settings())
    view = runtime.store.view(canonical)
    if view is None:
        raise click.ClickException(f"no case {canonical}; 'sajag cases list' shows the references")
    data = view.to_public_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"Case {data['ref']}  {data['urgency']} (score {data['score']})  {data['status']}")
    click.echo(
        f"  channel {data['channel']}, language {data['language'] or '-'}, "
        f"created {data['created_at']}"
    )
    click.echo(f"  categories: {', '.join(data['categories']) or '-'}")
    click.echo(f"  assignee: {data['assignee'] or '-'}")
    click.echo("  signals:")
    for s in data["signals"]:
        click.echo(f"    {s['rule']} (+{s['weight']}): {', '.join(s['matched'])}")
    if data["facts"]:
        click.echo(f"  facts: {json.dumps(data['facts'], ensure_ascii=False)}")
    click.echo("  messages:")
    for m in data["messages"]:
        text = "[erased]" if m["erased"] else m["text"]
        media = f" [+{m['media_count']} media, not downloaded]" if m["media_count"] else ""
        click.echo(f"    {m['received_at']}: {text}{media}")
    click.echo("  assignments:")
    for a in data["assignments"]:
        click.echo(
            f"    {a['at']}: {a['responder']} step {a['step']} ({a['outcome']}) {a['reason']}"
        )
    click.echo("  audit:")
    for e in data["audit"]:
        click.echo(f"    {e['at']} {e['actor']}: {e['action']} {e['detail']}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
def outbox(as_json: bool, limit: int) -> None:
    """Messages sandboxed channels would have sent (newest last)."""
    from bot.outbound import read_outbox

    runtime = _runtime(load_settings())
    entries = read_outbox(runtime.redis, limit)
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    if not entries:
        click.echo("The outbox is empty.")
        return
    for e in entries:
        click.echo(f"{e['at']} {e['channel']} -> {e['to']} [{e['kind']}] {e.get('case_ref') or ''}")
        for line in str(e["text"]).splitlines():
            click.echo(f"    {line}")


# ------------------------------------------------------------------ doctor
@main.command()
def doctor() -> None:
    """Check Redis, settings, catalogs and workers; exit 0 only when all is green."""
    from bot.doctor import run_checks

    settings = load_settings()
    results = run_checks(settings)
    for check in results:
        mark = "ok  " if check.ok else "FAIL"
        click.echo(f"[{mark}] {check.name}: {check.detail}")
    failed = [c for c in results if not c.ok]
    if failed:
        click.echo(f"\n{len(failed)} check(s) failed.")
        sys.exit(1)
    click.echo("\nAll green.")


def _register_extensions() -> None:
    from bot.cli_responders import oncall, responders
    from bot.cli_sandbox import sandbox

    main.add_command(sandbox)
    main.add_command(responders)
    main.add_command(oncall)


_register_extensions()

if __name__ == "__main__":
    main()
