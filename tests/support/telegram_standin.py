"""A local Bot API server for tests: records every call, checks it against the schema.

It listens on 127.0.0.1, accepts the four encodings the Bot API does (query string,
urlencoded, JSON, multipart), answers like Telegram (``{"ok": true, "result": ...}`` or an
error body with ``parameters.retry_after``), serves ``getUpdates`` from a queue, and can be
told to fail the next calls of a method with 429 or 5xx. Method and parameter names are
validated against ``../shared/telegram/bot-api.json``: a wrong name is answered 400/404 as
Telegram would, and kept in ``violations`` so a test can assert there are none.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

BOT_ID = 123456
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Sajag", "username": "sajag_test_bot"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived
    result: Any = None  # what the stand-in answered (None for refused calls)

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def message_id(self) -> int:
        return int(self.result["message_id"])

    def buttons(self) -> dict[str, str]:
        """Button text → callback_data of the inline keyboard sent with this call."""
        markup = self.params.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", [])
        return {b["text"]: b["callback_data"] for row in rows for b in row}


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


def load_schema(path: Path) -> dict[str, set[str]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {name: {f["name"] for f in spec["fields"]} for name, spec in raw["methods"].items()}


def required_fields(path: Path) -> dict[str, set[str]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: {f["name"] for f in spec["fields"] if f["required"]}
        for name, spec in raw["methods"].items()
    }


def _decode_value(value: str) -> Any:
    """aiogram sends nested objects and lists as JSON strings inside the form."""
    if value[:1] in "{[" or value in ("true", "false"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value.lstrip("-").isdigit():
        return int(value)
    return value


@dataclass
class BotAPIStandIn:
    schema_path: Path
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    deleted: set[tuple[int, int]] = field(default_factory=set)
    webhook_url: str = ""
    long_poll_cap: float = 0.3

    def __post_init__(self) -> None:
        self.methods = load_schema(self.schema_path)
        self.required = required_fields(self.schema_path)
        self._by_lower = {name.lower(): name for name in self.methods}
        self._failures: dict[str, deque[Failure]] = {}
        self._delays: dict[str, float] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_arrived = asyncio.Event()
        self._message_ids = itertools.count(5000)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------ test controls
    def fail_next(
        self, method: str, status: int, *, retry_after: int | None = None, times: int = 1
    ) -> None:
        description = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: chat not found",
        }.get(status, "Internal Server Error")
        queue = self._failures.setdefault(method, deque())
        for _ in range(times):
            queue.append(Failure(status, description, retry_after))

    def slow_down(self, method: str, seconds: float) -> None:
        """Answer every later call of ``method`` only after ``seconds`` (a slow network)."""
        self._delays[method] = seconds

    def push_update(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._update_arrived.set()

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def texts(self) -> list[str]:
        """Every text the bot showed: sent, edited, and callback toasts."""
        out = []
        for call in self.calls:
            if call.method in ("sendMessage", "editMessageText", "answerCallbackQuery"):
                text = call.params.get("text")
                if isinstance(text, str):
                    out.append(text)
        return out

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(self.of(method)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} {method} call(s), got {len(self.of(method))}: "
                    f"{[c.method for c in self.calls]}"
                )
            await asyncio.sleep(0.02)
        return self.of(method)

    # ------------------------------------------------------------ HTTP
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: _decode_value(v) for k, v in request.query.items()}
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            params.update(await request.json())
            return params
        form = await request.post()
        for key, value in form.items():
            params[key] = _decode_value(value) if isinstance(value, str) else value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        name = self._by_lower.get(request.match_info["method"].lower())
        params = await self._params(request)
        if name is None:
            self.violations.append(f"unknown method {request.match_info['method']}")
            return _error(404, "Not Found: method not found")
        call = Call(name, params, arrived)
        self.calls.append(call)
        unknown = set(params) - self.methods[name]
        missing = self.required[name] - set(params)
        if unknown or missing:
            self.violations.append(f"{name}: unknown {sorted(unknown)}, missing {sorted(missing)}")
            return _error(400, f"Bad Request: parameters {sorted(unknown | missing)}")
        if name in self._delays:
            await asyncio.sleep(self._delays[name])
        failures = self._failures.get(name)
        if failures:
            failure = failures.popleft()
            return _error(failure.status, failure.description, failure.retry_after)
        call.result = await self._result(name, params)
        return web.json_response({"ok": True, "result": call.result})

    async def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name == "getUpdates":
            return await self._get_updates(params)
        if name == "setWebhook":
            self.webhook_url = str(params.get("url", ""))
            return True
        if name == "deleteWebhook":
            self.webhook_url = ""
            return True
        if name in ("sendMessage", "editMessageText"):
            return self._message(params)
        if name == "copyMessage":
            return {"message_id": next(self._message_ids)}
        if name == "deleteMessage":
            self.deleted.add((int(params["chat_id"]), int(params["message_id"])))
            return True
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        # A higher offset confirms (and forgets) everything before it, as Telegram does.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._update_arrived.clear()
            wait = min(float(params.get("timeout") or 0), self.long_poll_cap)
            try:
                await asyncio.wait_for(self._update_arrived.wait(), wait)
            except TimeoutError:
                return []
        return list(self._updates)

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message_id = int(params.get("message_id") or next(self._message_ids))
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
            "text": params.get("text", ""),
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
