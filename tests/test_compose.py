"""docker-compose.yml is valid YAML with the services production needs."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_describes_redis_web_and_scalable_workers() -> None:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"redis", "web", "worker"}
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "noeviction" in redis_cmd
    assert services["redis"]["volumes"]
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["SAJAG_REDIS_URL"] == "redis://redis:6379/0"
        assert "container_name" not in services[name], "a fixed name would block --scale"
    assert services["worker"]["command"] == ["sajag", "worker"]
