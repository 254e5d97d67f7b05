"""`sajag sandbox sms` signs a webhook like Twilio and prints the reply."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer
from click.testing import CliRunner

from bot.app import create_app
from bot.cli import main
from bot.runtime import Runtime


async def test_sandbox_sms_posts_a_signed_webhook_and_prints_the_reply(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = TestServer(create_app(runtime))
    await server.start_server()
    try:
        url = str(server.make_url("/sms/twilio"))
        monkeypatch.setenv("SAJAG_PUBLIC_URL", url.removesuffix("/sms/twilio"))
        runtime.settings.public_url = url.removesuffix("/sms/twilio")
        report = "a girl is locked in the lodge right now"
        args = ["sandbox", "sms", "--from", "+919800000001", report]
        result = await asyncio.to_thread(CliRunner().invoke, main, args)
        assert result.exit_code == 0, result.output
        (case,) = runtime.store.list_cases()
        assert case.ref in result.output
        monkeypatch.setenv("SAJAG_TWILIO_AUTH_TOKEN", "not-the-servers-token")
        forged = await asyncio.to_thread(CliRunner().invoke, main, [*args[:4], "hi"])
        assert forged.exit_code != 0
        assert "403" in forged.output
    finally:
        await server.close()


def test_sandbox_sms_says_what_to_do_when_nothing_listens() -> None:
    result = CliRunner().invoke(
        main,
        [
            "sandbox",
            "sms",
            "--from",
            "+91980000001",
            "--url",
            "http://127.0.0.1:9/sms/twilio",
            "hi",
        ],
    )
    assert result.exit_code != 0
    assert "sajag run" in result.output


async def test_sandbox_signs_the_public_url_when_posting_to_a_local_port(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy: the server checks https://public/sms/twilio, the CLI posts to a port."""
    server = TestServer(create_app(runtime))
    await server.start_server()
    try:
        monkeypatch.setenv("SAJAG_PUBLIC_URL", runtime.settings.base_url)
        local = str(server.make_url("/")).rstrip("/")
        assert not local.startswith(runtime.settings.base_url)
        args = ["sandbox", "sms", "--from", "+919800000002", "--url", local, "STATUS K7Q-4TD"]
        result = await asyncio.to_thread(CliRunner().invoke, main, args)
        assert result.exit_code == 0, result.output
        assert "K7Q-4TD" in result.output
    finally:
        await server.close()
