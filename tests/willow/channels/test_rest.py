"""Willow's REST channel (willow/channels/rest.py) and the per-sender queue, without model or servers.

The webhook handler is called directly with a stand-in request and a stand-in for Rasa's
message handler; tests/test_bad_input.py sends the same kinds of input to the real server.
"""
from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import List, Optional

import pytest

from willow.channels import rest, sender_queue


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    "raw, status, error",
    [
        (b"", 400, "not valid JSON"),
        (b'{"sender": "a", "message": ', 400, "not valid JSON"),
        (b'{"sender": "a", "message": "\xff\xfe"}', 400, "not valid UTF-8"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'"hi"', 400, "must be a JSON object"),
        (b"42", 400, "must be a JSON object"),
        (b"null", 400, "must be a JSON object"),
        (b"[" * 100_000, 400, "nested too deeply"),
        (body(message="hi"), 400, "'sender'"),
        (body(sender=7, message="hi"), 400, "'sender'"),
        (body(sender=["x"], message="hi"), 400, "'sender'"),
        (body(sender=None, message="hi"), 400, "'sender'"),
        (body(sender="   ", message="hi"), 400, "'sender'"),
        (body(sender="x" * 251, message="hi"), 400, "longer than 250"),  # "rest:" + 250 = 255
        (body(sender="a"), 400, "'message' is missing"),
        (body(sender="a", message=None), 400, "'message' must be a string"),
        (body(sender="a", message=5), 400, "'message' must be a string"),
        (body(sender="a", message=["hi"]), 400, "'message' must be a string"),
        (body(sender="a", message={"text": "hi"}), 400, "'message' must be a string"),
        (b'{"sender": "a", "message": NaN}', 400, "'message' must be a string"),
        (b'{"sender": "a", "message": "hi \\ud800"}', 400, "lone surrogate"),
        (b'{"sender": "a\\u0000b", "message": "hi"}', 400, "NUL"),
        (b'{"sender": "a", "message": "hi\\u0000"}', 400, "NUL"),
        (body(sender="a", message="hi", metadata=[1]), 400, "'metadata'"),
        (body(sender="a", message="hi", metadata="x"), 400, "'metadata'"),
        (body(sender="a", message="hi", input_channel=5), 400, "'input_channel'"),
        (body(sender="a", message="hi", input_channel="telegram"), 400, "cannot speak for another channel"),
        (body(sender="a", message="hi", input_channel="socketio"), 400, "cannot speak for another channel"),
        (body(sender="a", message="x" * 101), 413, "longer than 100 characters"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(raw, status, error):
    with pytest.raises(rest.BadRequest) as refused:
        rest.parse_body(raw, max_message_chars=100)
    assert refused.value.status == status
    assert error in refused.value.error


@pytest.mark.parametrize(
    "raw, expected",
    [
        (body(sender="a", message="hi"), {"sender": "a", "message": "hi", "metadata": None}),
        (body(sender="a", message=""), {"sender": "a", "message": "", "metadata": None}),
        (body(sender="a", message="x" * 100, metadata={"k": 1}, input_channel="rest"),
         {"sender": "a", "message": "x" * 100, "metadata": {"k": 1}}),
        (body(sender="x" * 250, message="hi"), {"sender": "x" * 250, "message": "hi", "metadata": None}),
        ('{"sender": "ü", "message": "weinte 😭"}'.encode(), {"sender": "ü", "message": "weinte 😭",
                                                             "metadata": None}),
        (body(sender="a", message="hi", message_id="3f2a-b:1.x_y"),
         {"sender": "a", "message": "hi", "metadata": None, "message_id": "3f2a-b:1.x_y"}),
    ],
)
def test_valid_bodies_pass(raw, expected):
    assert rest.parse_body(raw, max_message_chars=100) == {"message_id": None, **expected}


TOKEN = "test-rest-token-0123456789"


def channel(**settings) -> rest.RestInput:
    return rest.RestInput(token=TOKEN, **settings)


def route_handler(channel: rest.RestInput, on_new_message, uri: str = "/webhook"):
    blueprint = channel.blueprint(on_new_message)
    (route,) = [r for r in blueprint._future_routes if r.uri == uri]
    return route.handler



def request(raw: bytes, authorization: Optional[str] = f"Bearer {TOKEN}") -> SimpleNamespace:
    headers = {} if authorization is None else {"authorization": authorization}
    return SimpleNamespace(body=raw, args={}, headers=headers)


def replies(response) -> list:
    return json.loads(response.body)


def test_a_valid_message_is_handled_in_the_rest_namespace_and_answered_to_the_client():
    async def on_new_message(message):
        assert (message.sender_id, message.text, message.input_channel) == ("rest:me", "hi", "rest")
        await message.output_channel.send_text_message(message.sender_id, "hello")

    handler = route_handler(channel(), on_new_message)
    response = asyncio.run(handler(request(body(sender="me", message="hi"))))
    assert response.status == 200
    assert replies(response) == [{"recipient_id": "me", "text": "hello"}]


def test_another_channels_id_as_sender_stays_in_the_rest_namespace():
    seen = []

    async def on_new_message(message):
        seen.append(message.sender_id)

    handler = route_handler(channel(), on_new_message)
    for sender in ("telegram:777001", "777001", "web:" + "a" * 32, "slack:T1:U1"):
        assert asyncio.run(handler(request(body(sender=sender, message="hi")))).status == 200
    assert seen == ["rest:telegram:777001", "rest:777001", "rest:web:" + "a" * 32, "rest:slack:T1:U1"]


@pytest.mark.parametrize("token", [None, "", "too-short-123"])
def test_without_a_usable_token_the_channel_is_off_and_answers_404(token):
    async def on_new_message(message):
        raise AssertionError("must not be called")

    off = rest.RestInput(token=token)
    response = asyncio.run(route_handler(off, on_new_message)(request(body(sender="me", message="hi"))))
    assert response.status == 404
    assert "WILLOW_REST_TOKEN" in replies(response)["error"]
    health = asyncio.run(route_handler(off, on_new_message, "/")(request(b"")))
    assert health.status == 404


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer wrong-token-0123456789",
                                           f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN}x"])
def test_a_missing_or_wrong_token_gets_401_and_never_reaches_rasa(authorization):
    async def on_new_message(message):
        raise AssertionError("must not be called")

    handler = route_handler(channel(), on_new_message)
    response = asyncio.run(handler(request(body(sender="me", message="hi"), authorization)))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in replies(response)["error"]


def test_the_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WILLOW_REST_TOKEN", TOKEN)
    assert rest.RestInput.from_credentials(None).problem is None
    monkeypatch.delenv("WILLOW_REST_TOKEN")
    assert rest.RestInput.from_credentials({}).problem == "WILLOW_REST_TOKEN is not set"


def test_streamed_replies_name_the_client_not_the_conversation():
    async def on_new_message(message):
        await message.output_channel.send_text_message(message.sender_id, "one")
        await message.output_channel.send_text_message(message.sender_id, "two")

    class Stream:
        def __init__(self):
            self.lines = []

        async def write(self, data):
            self.lines.append(json.loads(data))

    handler = channel().stream_reply(on_new_message, {"sender": "me", "message": "hi", "metadata": None},
                                     "rest:me")
    out = Stream()
    asyncio.run(handler(out))
    assert out.lines == [{"recipient_id": "me", "text": "one"}, {"recipient_id": "me", "text": "two"}]


def test_a_refused_request_gets_a_json_error_and_never_reaches_rasa():
    async def on_new_message(message):
        raise AssertionError("must not be called")

    handler = route_handler(channel(), on_new_message)
    response = asyncio.run(handler(request(b"[1, 2]")))
    assert (response.status, response.content_type) == (400, "application/json")
    assert replies(response)["status"] == 400
    assert replies(response)["error"].startswith("the body must be a JSON object")


def test_a_failure_inside_rasa_is_a_500_and_the_text_is_not_logged(caplog):
    async def on_new_message(message):
        raise ValueError(f"something about {message.text}")

    caplog.set_level(logging.DEBUG, logger="willow.channels.rest")
    handler = route_handler(channel(), on_new_message)
    response = asyncio.run(handler(request(body(sender="me", message="secret-marker-123"))))
    assert response.status == 500
    assert replies(response)["error"] == "the message could not be handled"
    assert "ValueError" in caplog.text
    assert "secret-marker-123" not in caplog.text


def test_one_senders_messages_run_one_at_a_time_in_arrival_order_others_in_parallel():
    log: List[str] = []

    async def on_new_message(message):
        log.append(f"start {message.sender_id} {message.text}")
        await asyncio.sleep(0.01)
        log.append(f"end {message.sender_id} {message.text}")
        await message.output_channel.send_text_message(message.sender_id, "ok")

    handler = route_handler(channel(), on_new_message)

    async def main():
        return await asyncio.gather(
            *(handler(request(body(sender="a", message=str(i)))) for i in range(5)),
            handler(request(body(sender="b", message="0"))),
        )

    responses = asyncio.run(main())
    assert [r.status for r in responses] == [200] * 6
    of_a = [entry for entry in log if " rest:a " in entry]
    assert of_a == [f"{what} rest:a {i}" for i in range(5) for what in ("start", "end")]
    # b did not wait for a's queue: it started while a's first message was running.
    assert log.index("start rest:b 0") < log.index("end rest:a 0")


def test_a_sender_with_a_full_queue_gets_429():
    release = None

    async def on_new_message(message):
        await release.wait()
        await message.output_channel.send_text_message(message.sender_id, "ok")

    limited = channel(max_pending_per_sender=2)
    handler = route_handler(limited, on_new_message)

    async def main():
        nonlocal release
        release = asyncio.Event()
        first = [asyncio.ensure_future(handler(request(body(sender="a", message=str(i))))) for i in range(2)]
        await asyncio.sleep(0.01)
        refused = await handler(request(body(sender="a", message="2")))
        other = asyncio.ensure_future(handler(request(body(sender="b", message="0"))))
        release.set()
        return refused, await asyncio.gather(*first, other)

    refused, accepted = asyncio.run(main())
    assert refused.status == 429 and refused.headers["Retry-After"] == "1"
    assert [r.status for r in accepted] == [200, 200, 200]
    assert len(limited.queues) == 0  # nothing left behind


def test_max_message_chars_comes_from_the_credentials(monkeypatch):
    monkeypatch.setenv("WILLOW_REST_TOKEN", TOKEN)
    configured = rest.RestInput.from_credentials({"max_message_chars": 5, "max_pending_per_sender": 2})
    assert configured.queues.max_pending == 2
    handler = route_handler(configured, lambda message: None)
    response = asyncio.run(handler(request(body(sender="a", message="123456"))))
    assert response.status == 413
    assert rest.RestInput.from_credentials(None).max_message_chars == rest.DEFAULT_MAX_MESSAGE_CHARS


def test_sender_queue_cleans_up_after_cancelled_waiters():
    queues = sender_queue.SenderQueues(max_pending=3)

    async def main():
        hold = asyncio.Event()

        async def use():
            async with queues.turn("a"):
                await hold.wait()

        tasks = [asyncio.ensure_future(use()) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert queues.pending("a") == 3 and queues.full("a")
        with pytest.raises(sender_queue.Busy):
            async with queues.turn("a"):
                pass
        tasks[1].cancel()
        await asyncio.sleep(0.01)
        assert queues.pending("a") == 2
        hold.set()
        await asyncio.gather(tasks[0], tasks[2])

    asyncio.run(main())
    assert len(queues) == 0 and queues.pending("a") == 0
