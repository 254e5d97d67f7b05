"""Emergency numbers per country, read from ``bot/data/emergency.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class EmergencyNumbers:
    country: str
    emergency: str
    child: str | None = None

    def as_text(self) -> str:
        """``1098 / 112``: child helpline first, as reporters are told to call it first."""
        return " / ".join(n for n in (self.child, self.emergency) if n)


@cache
def _table() -> dict[str, EmergencyNumbers]:
    raw = tomllib.loads(files("bot").joinpath("data/emergency.toml").read_text("utf-8"))
    return {
        code: EmergencyNumbers(country=code, emergency=entry["emergency"], child=entry.get("child"))
        for code, entry in raw.items()
    }


def emergency_numbers(country: str | None, default_country: str) -> EmergencyNumbers:
    """Numbers for ``country``, else for ``default_country``, else India's."""
    table = _table()
    for code in (country, default_country, "IN"):
        if code and code.upper() in table:
            return table[code.upper()]
    raise LookupError("bot/data/emergency.toml has no entry for IN; restore it from git")


def known_countries() -> tuple[str, ...]:
    return tuple(sorted(_table()))
