"""Redis keys of the Telegram channel. Chat and user ids never appear: only pseudonyms.

``update_id`` is Telegram's delivery counter, not a person, so it may appear in clear.
"""

from __future__ import annotations

PREFIX = "sajag:tg"

FSM_PREFIX = PREFIX + ":fsm"  # aiogram RedisStorage records, ids HMACed by PseudonymKeyBuilder
UPDATE = PREFIX + ":update:{update_id}"  # string: Fernet-encrypted raw update JSON
UPDATE_CLAIM = PREFIX + ":update:{update_id}:claim"  # string: a process is handling it
UPDATE_DONE = PREFIX + ":update:{update_id}:done"  # string: handled; duplicates are skipped
UPDATE_ATTEMPTS = PREFIX + ":update:{update_id}:attempts"  # int: failed handling attempts
UPDATES_PENDING = PREFIX + ":updates:pending"  # zset update_id -> first seen (unix seconds)
UPDATES_DEAD = PREFIX + ":updates:dead"  # zset update_id -> given up at (unix seconds)
CHAT_MESSAGES = PREFIX + ":chat:{reporter}:messages"  # list of message ids in the chat, TTL 47 h
FLOOD = PREFIX + ":flood:{reporter}"  # int: messages in the current minute


def update(update_id: int) -> str:
    return UPDATE.format(update_id=update_id)


def update_claim(update_id: int) -> str:
    return UPDATE_CLAIM.format(update_id=update_id)


def update_done(update_id: int) -> str:
    return UPDATE_DONE.format(update_id=update_id)


def update_attempts(update_id: int) -> str:
    return UPDATE_ATTEMPTS.format(update_id=update_id)


def chat_messages(reporter: str) -> str:
    return CHAT_MESSAGES.format(reporter=reporter)


def flood(reporter: str) -> str:
    return FLOOD.format(reporter=reporter)
