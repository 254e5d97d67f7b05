"""Gettext catalogs in ``locales/`` (Babel), one domain per audience.

Domains: ``sms`` (reporters by SMS/WhatsApp), ``telegram`` (reporters on Telegram),
``alerts`` (responders). ``make locales`` extracts, updates and compiles them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAINS = ("sms", "telegram", "alerts")
DEFAULT_LOCALE = "en"


def locale_dir_name(lang: str) -> str:
    """``hi-Latn`` → ``hi_Latn``: catalog folders use underscores."""
    return lang.replace("-", "_")


@cache
def translations(domain: str, lang: str) -> NullTranslations:
    """The catalog for ``lang`` (falling back to its base language, then English)."""
    candidates = [locale_dir_name(lang)]
    base = lang.split("-")[0].split("_")[0]
    if base not in candidates:
        candidates.append(base)
    for name in candidates:
        mo = LOCALES_DIR / name / "LC_MESSAGES" / f"{domain}.mo"
        if mo.exists():
            return Translations.load(str(LOCALES_DIR), [name], domain)
    return NullTranslations()


def available_locales(domain: str) -> list[str]:
    if not LOCALES_DIR.exists():
        return []
    return sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{domain}.po"))


def missing_compiled(domain: str | None = None) -> list[Path]:
    """``.po`` files with no ``.mo`` or an older one: run ``make locales``."""
    stale = []
    pattern = f"*/LC_MESSAGES/{domain or '*'}.po"
    for po in LOCALES_DIR.glob(pattern):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            stale.append(po)
    return sorted(stale)
