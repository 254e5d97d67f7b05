"""Routing jobs (placeholder until on-call routing lands)."""

from __future__ import annotations


def route_case(ref: str) -> str:
    return ref
