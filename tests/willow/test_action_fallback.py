"""willow/action_fallback.py: a failed custom action sends a graceful message, not silence.

Fast: Rasa's real RemoteAction against local stand-ins for the action server (closed port,
too slow, failing, rejecting). The same through the real Rasa server is in
tests/test_reliability.py.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest
import yaml
from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

import willow.components  # noqa: F401 - installs the fallback, as loading the model does
from tests.domain_files import INTENTS
from willow import action_fallback

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain"))
CONTENT = yaml.safe_load((ROOT / "content" / "actions_unavailable.yml").read_text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def action_server(handler: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """A stand-in action server on 127.0.0.1; yields its webhook URL."""
    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        await runner.cleanup()


async def run_action(url: str, topic: str = "cried", name: str = "action_reassure"):
    tracker = DialogueStateTracker("someone", DOMAIN.slots)
    tracker.update(SlotSet("topic", topic))
    return await RemoteAction(name, EndpointConfig(url)).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(DOMAIN.responses), tracker, DOMAIN
    )


def assert_graceful(events, topic_buttons: str = "default") -> None:
    (event,) = events
    assert isinstance(event, BotUttered)
    assert event.text in CONTENT["text"]
    assert event.data["buttons"] == CONTENT["buttons"][topic_buttons]


def test_the_wrapper_is_installed_once():
    assert RemoteAction.run.willow_graceful
    action_fallback.install()
    assert RemoteAction.run.__wrapped__.__qualname__ == "RemoteAction.run"


def test_action_server_down_gives_the_graceful_message(caplog):
    events = asyncio.run(run_action(f"http://127.0.0.1:{free_port()}/webhook"))
    assert_graceful(events)
    warning = [r for r in caplog.records if r.name == "willow.action_fallback"]
    assert warning and "action_reassure" in warning[0].getMessage()


def test_the_buttons_follow_the_topic():
    events = asyncio.run(run_action(f"http://127.0.0.1:{free_port()}/webhook", topic="not_crying"))
    assert_graceful(events, "not_crying")


def test_slow_action_server_times_out_into_the_graceful_message(monkeypatch):
    monkeypatch.setenv(action_fallback.TIMEOUT_VARIABLE, "0.5")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({"events": [], "responses": []})

    async def scenario():
        async with action_server(slow) as url:
            started = asyncio.get_running_loop().time()
            events = await run_action(url)
            return events, asyncio.get_running_loop().time() - started

    events, elapsed = asyncio.run(scenario())
    assert_graceful(events)
    assert 0.4 < elapsed < 5


def test_failing_action_server_gives_the_graceful_message():
    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=500, text="Internal Server Error")

    async def scenario():
        async with action_server(failing) as url:
            return await run_action(url)

    assert_graceful(asyncio.run(scenario()))


def test_a_working_action_server_is_untouched():
    async def working(request: web.Request) -> web.Response:
        return web.json_response({"events": [], "responses": [{"text": "from the action server"}]})

    async def scenario():
        async with action_server(working) as url:
            return await run_action(url)

    (event,) = asyncio.run(scenario())
    assert event.text == "from the action server"


def test_a_deliberate_rejection_still_reaches_rasa():
    async def rejecting(request: web.Request) -> web.Response:
        return web.json_response({"action_name": "action_reassure", "error": "no"}, status=400)

    async def scenario():
        async with action_server(rejecting) as url:
            return await run_action(url)

    with pytest.raises(ActionExecutionRejection):
        asyncio.run(scenario())


@pytest.mark.parametrize("value, expected", [(None, 10.0), ("3", 3.0), ("0", 10.0), ("soon", 10.0)])
def test_timeout_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(action_fallback.TIMEOUT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(action_fallback.TIMEOUT_VARIABLE, value)
    assert action_fallback.action_timeout() == expected


def test_the_message_points_to_help_and_its_buttons_are_known_intents():
    for text in CONTENT["text"]:
        assert "harming yourself" in text
    for buttons in CONTENT["buttons"].values():
        for button in buttons:
            assert button["payload"].lstrip("/") in INTENTS
