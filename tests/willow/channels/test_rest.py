"""Willow's REST channel (willow/channels/rest.py) and the per-sender queue, without model or servers.

The webhook handler is called directly with a stand-in request and a stand-in for Rasa's
message handler; tests/test_bad_input.py sends the same kinds of input to the real server.
"""
from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import List

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
        (body(sender="x" * 256, message="hi"), 400, "longer than 255"),
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
        (body(sender="a", message="hi"), {"sender": "a", "message": "hi", "metadata": None, "input_channel": None}),
        (body(sender="a", message=""), {"sender": "a", "message": "", "metadata": None, "input_channel": None}),
        (body(sender="a", message="x" * 100, metadata={"k": 1}, input_channel="web"),
         {"sender": "a", "message": "x" * 100, "metadata": {"k": 1}, "input_channel": "web"}),
        ('{"sender": "ü", "message": "weinte 😭"}'.encode(), {"sender": "ü", "message": "weinte 😭",
                                                             "metadata": None, "input_channel": None}),
    ],
)
def test_valid_bodies_pass(raw, expected):
    assert rest.parse_body(raw, max_message_chars=100) == expected


def webhook_handler(channel: rest.RestInput, on_new_message):
    blueprint = channel.blueprint(on_new_message)
    (route,) = [r for r in blueprint._future_routes if r.uri == "/webhook"]
    return route.handler


def request(raw: bytes) -> SimpleNamespace:
    return SimpleNamespace(body=raw, args={})


def replies(response) -> list:
    return json.loads(response.body)


def test_a_valid_message_is_handled_and_answered():
    async def on_new_message(message):
        assert (message.sender_id, message.text, message.input_channel) == ("me", "hi", "rest")
        await message.output_channel.send_text_message(message.sender_id, "hello")

    handler = webhook_handler(rest.RestInput(), on_new_message)
    response = asyncio.run(handler(request(body(sender="me", message="hi"))))
    assert response.status == 200
    assert replies(response) == [{"recipient_id": "me", "text": "hello"}]


def test_a_refused_request_gets_a_json_error_and_never_reaches_rasa():
    async def on_new_message(message):
        raise AssertionError("must not be called")

    handler = webhook_handler(rest.RestInput(), on_new_message)
    response = asyncio.run(handler(request(b"[1, 2]")))
    assert (response.status, response.content_type) == (400, "application/json")
    assert replies(response)["status"] == 400
    assert replies(response)["error"].startswith("the body must be a JSON object")


def test_a_failure_inside_rasa_is_a_500_and_the_text_is_not_logged(caplog):
    async def on_new_message(message):
        raise ValueError(f"something about {message.text}")

    caplog.set_level(logging.DEBUG, logger="willow.channels.rest")
    handler = webhook_handler(rest.RestInput(), on_new_message)
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

    handler = webhook_handler(rest.RestInput(), on_new_message)

    async def main():
        return await asyncio.gather(
            *(handler(request(body(sender="a", message=str(i)))) for i in range(5)),
            handler(request(body(sender="b", message="0"))),
        )

    responses = asyncio.run(main())
    assert [r.status for r in responses] == [200] * 6
    of_a = [entry for entry in log if " a " in entry]
    assert of_a == [f"{what} a {i}" for i in range(5) for what in ("start", "end")]
    # b did not wait for a's queue: it started while a's first message was running.
    assert log.index("start b 0") < log.index("end a 0")


def test_a_sender_with_a_full_queue_gets_429():
    release = None

    async def on_new_message(message):
        await release.wait()
        await message.output_channel.send_text_message(message.sender_id, "ok")

    channel = rest.RestInput.from_credentials({"max_pending_per_sender": 2})
    handler = webhook_handler(channel, on_new_message)

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
    assert len(channel.queues) == 0  # nothing left behind


def test_max_message_chars_comes_from_the_credentials():
    channel = rest.RestInput.from_credentials({"max_message_chars": 5})
    handler = webhook_handler(channel, lambda message: None)
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
