"""Shared fixtures for the triage tests: the labelled development set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DEV_SET = Path(__file__).resolve().parents[2].parent / "shared" / "triage" / "dev.jsonl"


def load_dev_set() -> list[dict[str, Any]]:
    """Every labelled record of dev.jsonl."""
    with DEV_SET.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def dev_records() -> list[dict[str, Any]]:
    """The labelled development set, loaded once."""
    return load_dev_set()
