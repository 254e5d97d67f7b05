"""Sajag application: settings, Redis, case store, CLI and web wiring."""
