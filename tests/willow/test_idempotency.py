"""A message delivered twice is handled once (willow/idempotency.py), failing stores raise
(willow/store_failures.py), outages are told apart (willow/outages.py), and push channels send
a turn's replies only after it was handled (willow/channels/after_save.py). No model, no server:
the processor's own handle_message is replaced by a recorder."""
from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Dict, List

import pytest
import redis
import sqlalchemy.exc
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.lock_store import LockError
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from willow import idempotency, outages, store_failures
from willow.channels import after_save

import willow.channels  # noqa: F401  applies both patches, as Rasa loading the channels does


def run(coroutine):
    return asyncio.run(coroutine)


def conversation(*turns) -> DialogueStateTracker:
    """A tracker of (message id, user text, [bot texts]) turns."""
    events: List[Any] = []
    for message_id, text, replies in turns:
        events.append(UserUttered(text, {"name": "greet"}, message_id=message_id))
        events.append(ActionExecuted("utter_x"))
        events += [BotUttered(reply, data={"buttons": [{"title": "Yes", "payload": "/affirm"}]}) for reply in replies]
        events.append(ActionExecuted("action_listen"))
    return DialogueStateTracker.from_events("rest:me", events)


# --- answers_to and ids ------------------------------------------------------------------------


def test_the_answer_to_a_message_is_the_bot_messages_until_the_next_one():
    tracker = conversation(("a", "hi", ["Hello", "How are you?"]), ("b", "fine", ["Good"]), ("c", "hm", []))
    assert [e.text for e in idempotency.answers_to(tracker, "a")] == ["Hello", "How are you?"]
    assert [e.text for e in idempotency.answers_to(tracker, "b")] == ["Good"]
    assert idempotency.answers_to(tracker, "c") == []  # handled, answered with nothing
    assert idempotency.answers_to(tracker, "never-sent") is None


@pytest.mark.parametrize("value, ok", [
    ("0f3c9a1e2b7d4c58a6e1f2b3c4d5e6f7", True), ("telegram-update:42", True), ("slack-event:Ev01ABC", True),
    ("a" * 100, True), ("a" * 101, False), ("", False), ("has space", False), ("ünïcode", False),
    ("new\nline", False), (42, False), (None, False), (["a"], False),
])
def test_message_ids_are_short_plain_strings(value, ok):
    assert idempotency.valid_id(value) is ok


class Recorder:
    """Stands in for Rasa's MessageProcessor: counts what it really handles."""

    def __init__(self, stored: DialogueStateTracker = None) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        if stored is not None:
            run(self.tracker_store.save(stored))
        self.handled: List[str] = []


@pytest.fixture
def recorder(monkeypatch):
    async def original(self, message):
        self.handled.append(message.text)
        await message.output_channel.send_response(message.sender_id, {"text": "fresh answer"})
        return getattr(message.output_channel, "messages", None)

    monkeypatch.setattr(idempotency, "_original_handle_message", original)
    return Recorder(conversation(("m-1", "hi", ["Hello", "How are you?"])))


def handle(processor, message):
    return run(idempotency.handle_message(processor, message))


def test_a_replayed_message_gets_its_first_answer_and_is_not_handled_again(recorder):
    output = CollectingOutputChannel()
    message = idempotency.mark(UserMessage("hi", output, "rest:me", message_id="m-1"), idempotency.REPLAY)
    replies = handle(recorder, message)
    assert recorder.handled == []
    assert [r["text"] for r in replies] == ["Hello", "How are you?"]
    assert replies[0]["buttons"] == [{"title": "Yes", "payload": "/affirm"}]


def test_a_skipped_duplicate_sends_nothing(recorder):
    output = CollectingOutputChannel()
    message = idempotency.mark(UserMessage("hi", output, "rest:me", message_id="m-1"), idempotency.SKIP)
    assert handle(recorder, message) == []
    assert recorder.handled == [] and output.messages == []


@pytest.mark.parametrize("sender, message_id, marked", [
    ("rest:me", "m-2", True),  # a new id
    ("rest:someone-else", "m-1", True),  # the same id in another conversation: not theirs to replay
    ("rest:me", "m-1", False),  # not marked by a Willow channel: Rasa's own ids are never checked
])
def test_new_ids_other_conversations_and_unmarked_messages_are_handled(recorder, sender, message_id, marked):
    message = UserMessage("hi again", CollectingOutputChannel(), sender, message_id=message_id)
    if marked:
        idempotency.mark(message, idempotency.REPLAY)
    assert [r["text"] for r in handle(recorder, message)] == ["fresh answer"]
    assert recorder.handled == ["hi again"]


def test_the_patch_is_installed_once():
    idempotency.apply()
    idempotency.apply()
    assert MessageProcessor.handle_message is idempotency.handle_message


# --- outages ---------------------------------------------------------------------------------


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as error:
            raise outer from error
    except BaseException as error:
        return error


@pytest.mark.parametrize("error, outage", [
    (sqlalchemy.exc.OperationalError("SELECT", {}, Exception("connection refused")), True),
    (sqlalchemy.exc.InterfaceError("SELECT", {}, Exception("closed")), True),
    (redis.exceptions.ConnectionError("Error 111"), True),
    (redis.exceptions.TimeoutError("timed out"), True),
    (LockError("Could not acquire lock"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (chained(RuntimeError("wrapped"), redis.exceptions.ConnectionError("gone")), True),
    (sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate")), False),
    (ValueError("a bug"), False),
    (KeyError("slot"), False),
    (None, False),
])
def test_store_outages_are_told_apart_from_bugs(error, outage):
    assert outages.is_outage(error) is outage


# --- store failures --------------------------------------------------------------------------


class BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id):
        raise sqlalchemy.exc.OperationalError("SELECT ... 'i cried today'", {}, Exception("refused"))

    retrieve_full_tracker = retrieve

    async def save(self, tracker):
        raise sqlalchemy.exc.OperationalError("INSERT ... 'i cried today'", {}, Exception("refused"))


def test_a_failing_store_raises_instead_of_forking_the_conversation_in_memory(caplog):
    store = FailSafeTrackerStore(BrokenStore(Domain.empty()))
    tracker = DialogueStateTracker.from_events("rest:me", [UserUttered("i cried today")])
    for call in (store.retrieve("rest:me"), store.save(tracker), store.retrieve_full_tracker("rest:me")):
        with pytest.raises(sqlalchemy.exc.OperationalError):
            run(call)
    # Nothing went to Rasa's in-memory fallback, and the log names only the error's type.
    assert store._fallback_tracker_store is None
    assert "OperationalError" in caplog.text and "cried" not in caplog.text
    store_failures.apply()  # idempotent
    assert getattr(FailSafeTrackerStore.save, "_willow_raises", False)


def test_a_working_store_behind_the_wrapper_works_as_before():
    store = FailSafeTrackerStore(InMemoryTrackerStore(Domain.empty()))
    tracker = DialogueStateTracker.from_events("rest:me", [UserUttered("hello")])
    run(store.save(tracker))
    assert run(store.retrieve("rest:me")).latest_message.text == "hello"
    assert list(run(store.keys())) == ["rest:me"]


# --- replies after the turn ------------------------------------------------------------------


class Recording(OutputChannel):
    def __init__(self) -> None:
        self.sent: List[Dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "socketio"

    async def send_response(self, recipient_id, message):
        self.sent.append({"to": recipient_id, **message})


def test_held_replies_leave_only_when_sent_and_only_once():
    real = Recording()
    held = after_save.HeldReplies(real)
    assert held.name() == "socketio"  # responses are still chosen for the real channel
    run(held.send_response("web:1", {"text": "one"}))
    run(held.send_response("web:1", {"text": "two"}))
    assert real.sent == []
    run(held.send_held())
    run(held.send_held())
    assert real.sent == [{"to": "web:1", "text": "one"}, {"to": "web:1", "text": "two"}]
