"""SMS fixtures: the app under test over real HTTP, and a reporter who signs like Twilio."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from xml.etree import ElementTree

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from bot.app import create_app
from bot.runtime import Runtime

_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def reply_text(body: str) -> str:
    root = ElementTree.fromstring(body)  # noqa: S314 - our own server's TwiML
    return " ".join(m.text or "" for m in root.iter("Message"))


@dataclass
class Phone:
    """A reporter's phone: posts webhooks to /sms/twilio signed with the real algorithm."""

    client: TestClient
    runtime: Runtime
    number: str = "+919800000001"
    token: str | None = None
    url: str | None = None
    sent: list[str] = field(default_factory=list)

    def sign(self, params: dict[str, str], path: str = "/sms/twilio") -> str:
        token = self.token or self.runtime.settings.twilio_signing_token
        url = self.url or self.runtime.settings.base_url + path
        return str(RequestValidator(token).compute_signature(url, params))

    async def post(
        self, params: dict[str, str], *, signature: str | None = None, path: str = "/sms/twilio"
    ) -> ClientResponse:
        headers = (
            {} if signature == "" else {"X-Twilio-Signature": signature or self.sign(params, path)}
        )
        return await self.client.post(path, data=params, headers=headers)

    async def text(self, body: str, sid: str | None = None, **extra: str) -> tuple[int, str]:
        params = {
            "MessageSid": sid or new_sid(),
            "AccountSid": "AC" + "0" * 32,
            "From": self.number,
            "To": "+15005550006",
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        resp = await self.post(params)
        text = await resp.text()
        return resp.status, reply_text(text) if resp.status in (200, 503) else text


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(runtime))) as test_client:
        yield test_client


@pytest.fixture
def phone(client: TestClient, runtime: Runtime) -> Phone:
    return Phone(client, runtime)
