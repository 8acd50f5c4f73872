""""Delete my data" through the real servers, with a real SQLite tracker store.

Willow explains and asks first; "yes" deletes every stored event of that conversation
(willow/tracker_store.py), "no" keeps them, and a crisis message in between still gets
crisis resources. The store is checked directly with sqlite3, not only through the API.
"""
from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path
from typing import Iterator, List

import pytest
import yaml

from tests import domain_files
from tests.conftest import ARTIFACTS
from willow import conversation_ids, local_servers

pytestmark = pytest.mark.slow
LOGS = ARTIFACTS / "privacy"
STORE = "willow.tracker_store.ForgetfulSQLTrackerStore"


@pytest.fixture(scope="module")
def db() -> Path:
    path = LOGS / "willow.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


@pytest.fixture(scope="module")
def servers(model_path, db) -> Iterator[local_servers.Servers]:
    """The real servers, with the tracker_store block Willow needs, on a SQLite file."""
    source = LOGS / "source-endpoints.yml"
    source.write_text(yaml.safe_dump({"tracker_store": {"type": STORE, "dialect": "sqlite", "db": str(db)}}))
    with local_servers.running(model_path, LOGS, endpoints=source) as running:
        yield running


def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def said(replies) -> str:
    return "\n\n".join(r["text"] for r in replies if r.get("text"))


def stored(db: Path, user: str, column: str = "type_name") -> List[str]:
    """What the tracker store holds for the REST client ``user``, read with sqlite3."""
    conversation = conversation_ids.conversation_id(conversation_ids.REST, user)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return [row[0] for row in connection.execute(
            f"SELECT {column} FROM events WHERE sender_id = ? ORDER BY id", (conversation,)
        )]


def talk_then_ask_to_forget(servers, user: str, request: str = "delete my data"):
    servers.say(user, "I cried in therapy today")
    servers.say(user, "why does that happen?")
    replies = servers.say(user, request)
    assert said(replies) == domain_files.default_text("utter_ask_forget_confirm")
    assert [(b["title"], b["payload"]) for b in replies[-1]["buttons"]] == [
        ("Yes, delete it", "/affirm"), ("No, keep it", "/deny"),
    ]
    return replies[-1]["buttons"]


def test_confirmed_forget_deletes_every_stored_event(servers, db):
    user, bystander = sender(), sender()
    servers.say(bystander, "is crying in therapy normal?")
    kept = stored(db, bystander)
    yes, _ = talk_then_ask_to_forget(servers, user)
    assert stored(db, user, "intent_name").count("cried_in_therapy") == 1

    # Pressing "Yes, delete it": the confirmation still reaches the user ...
    replies = servers.say(user, yes["payload"])
    assert said(replies) == domain_files.default_text("utter_conversation_deleted")

    # ... and nothing of the conversation is left in the store, in any session.
    assert stored(db, user) == []
    assert stored(db, bystander) == kept
    assert user not in servers.rasa_log.read_text()

    # The API finds no conversation: only the start of a new, empty one.
    events = servers.tracker(user)["events"]
    assert [e for e in events if e["event"] in ("user", "bot", "slot")] == []

    # Writing again starts afresh, with no memory of what was said.
    servers.say(user, "hi")
    assert stored(db, user, "intent_name").count("cried_in_therapy") == 0
    assert servers.tracker(user)["slots"]["topic"] is None


def test_typed_yes_also_deletes(servers, db):
    user = sender()
    talk_then_ask_to_forget(servers, user, "can you delete our conversation")
    assert said(servers.say(user, "yes")) == domain_files.default_text("utter_conversation_deleted")
    assert stored(db, user) == []


def test_declining_keeps_the_conversation(servers, db):
    user = sender()
    talk_then_ask_to_forget(servers, user, "forget everything i said")
    assert said(servers.say(user, "no, keep it")) in domain_files.texts("utter_nothing_deleted")

    intents = [i for i in stored(db, user, "intent_name") if i]
    assert intents == ["cried_in_therapy", "ask_why_cry", "forget_me", "deny"]
    tracker = servers.tracker(user)
    assert [e["parse_data"]["intent"]["name"] for e in tracker["events"] if e["event"] == "user"] == intents
    assert tracker["slots"]["topic"] == "cried"


def test_crisis_while_confirming_gets_crisis_resources_and_deletes_nothing(servers, db):
    user = sender()
    talk_then_ask_to_forget(servers, user, "erase this chat")
    replies = servers.say(user, "honestly i don't want to be alive anymore")
    assert said(replies).startswith(domain_files.default_text("utter_crisis"))
    assert replies[-1]["text"] == domain_files.default_text("utter_ask_safe")
    # "yes" now answers "are you safe?", not the deletion question.
    replies = servers.say(user, "yes")
    assert said(replies).startswith(domain_files.default_text("utter_risk_acknowledged"))
    assert "cried_in_therapy" in stored(db, user, "intent_name")
    assert "utter_conversation_deleted" not in stored(db, user, "action_name")
