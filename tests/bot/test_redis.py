"""The embedded server is a real redis-server, durable and never evicting."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from bot.redis import EmbeddedRedis, RedisSetupError, check_eviction_policy


def test_embedded_server_is_durable_and_refuses_to_evict(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "r", persistent=True) as server:
        client = redis.Redis.from_url(server.url)
        config = client.config_get("*")
        assert config["appendonly"] == "yes"
        assert config["appendfsync"] == "always"
        assert config["maxmemory-policy"] == "noeviction"
        assert config["bind"].startswith("127.0.0.1")
        client.set("k", "v")
        client.close()
    assert list((tmp_path / "r").rglob("*.aof")), "the append-only file must be on disk"


def test_data_survives_a_kill_and_restart(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r", persistent=True).start()
    redis.Redis.from_url(server.url).set("report", "kept")
    assert server.process is not None
    server.process.kill()  # no clean shutdown: only the fsynced AOF can save us
    server.process.wait()
    server.process = None
    again = EmbeddedRedis(tmp_path / "r", persistent=True).start()
    try:
        assert redis.Redis.from_url(again.url).get("report") == b"kept"
    finally:
        again.stop()


def test_start_up_refuses_an_evicting_policy(redis_client: redis.Redis) -> None:
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with pytest.raises(RedisSetupError, match="noeviction"):
            check_eviction_policy(redis_client)
    finally:
        redis_client.config_set("maxmemory-policy", "noeviction")
    check_eviction_policy(redis_client)
