"""The forgetful tracker stores: a confirmed "delete my data" removes every stored event.

Fast: real SQLite files and Rasa's own tracker-store factory, no model and no servers.
The same flow through the real server is in tests/test_privacy.py.
"""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import yaml
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from willow import tracker_store
from willow.tracker_store import (
    FORGET_ACTION,
    ForgetfulInMemoryTrackerStore,
    ForgetfulSQLTrackerStore,
    asked_to_forget,
)

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain"))


def turn(tracker: DialogueStateTracker, text: str, intent: str, *actions: str) -> DialogueStateTracker:
    """Appends one user message and the actions that answered it, then listens."""
    tracker.update(UserUttered(text, {"name": intent, "confidence": 1.0}))
    for action in actions:
        tracker.update(ActionExecuted(action))
        tracker.update(BotUttered(f"({action})"))
    tracker.update(ActionExecuted("action_listen"))
    return tracker


def conversation(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    turn(tracker, "i cried in therapy today", "cried_in_therapy", "action_reassure", "utter_followups")
    return turn(tracker, "delete my data", "forget_me", "utter_ask_forget_confirm")


def rows(db: Path, sender: str) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "willow.db"


@pytest.fixture
def sql_store(db: Path) -> ForgetfulSQLTrackerStore:
    return ForgetfulSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db))


def test_only_the_latest_turn_counts_as_asking_to_forget():
    tracker = conversation("someone")
    assert not asked_to_forget(tracker)
    turn(tracker, "yes", "affirm", FORGET_ACTION)
    assert asked_to_forget(tracker)
    # A turn after the deletion (if the store had failed) must not delete again and again.
    turn(tracker, "hi", "greet", "utter_intro")
    assert not asked_to_forget(tracker)


def test_sql_store_deletes_every_event_of_that_sender_only(sql_store, db):
    asyncio.run(_test_sql_store_deletes_every_event_of_that_sender_only(sql_store, db))


async def _test_sql_store_deletes_every_event_of_that_sender_only(sql_store, db):
    await sql_store.save(conversation("forgets"))
    await sql_store.save(conversation("keeps"))
    assert rows(db, "forgets") > 0

    tracker = await sql_store.retrieve("forgets")
    await sql_store.save(turn(tracker, "yes", "affirm", FORGET_ACTION))

    assert rows(db, "forgets") == 0
    assert await sql_store.retrieve("forgets") is None
    assert await sql_store.retrieve_full_tracker("forgets") is None
    assert rows(db, "keeps") == len(conversation("keeps").events)


def test_sql_store_deletes_earlier_sessions_too(sql_store, db):
    asyncio.run(_test_sql_store_deletes_earlier_sessions_too(sql_store, db))


async def _test_sql_store_deletes_earlier_sessions_too(sql_store, db):
    tracker = conversation("two-sessions")
    await sql_store.save(tracker)
    for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")):
        tracker.update(event)
    turn(tracker, "erase this chat", "forget_me", "utter_ask_forget_confirm")
    await sql_store.save(tracker)

    latest = await sql_store.retrieve("two-sessions")
    await sql_store.save(turn(latest, "yes", "affirm", FORGET_ACTION))
    assert rows(db, "two-sessions") == 0


def test_sql_store_keeps_the_conversation_when_the_user_declines(sql_store, db):
    asyncio.run(_test_sql_store_keeps_the_conversation_when_the_user_declines(sql_store, db))


async def _test_sql_store_keeps_the_conversation_when_the_user_declines(sql_store, db):
    await sql_store.save(conversation("declines"))
    tracker = await sql_store.retrieve("declines")
    await sql_store.save(turn(tracker, "no, keep it", "deny", "utter_nothing_deleted"))
    stored = await sql_store.retrieve("declines")
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == [
        "i cried in therapy today", "delete my data", "no, keep it",
    ]


def test_after_forgetting_the_same_sender_starts_afresh(sql_store, db):
    asyncio.run(_test_after_forgetting_the_same_sender_starts_afresh(sql_store, db))


async def _test_after_forgetting_the_same_sender_starts_afresh(sql_store, db):
    await sql_store.save(conversation("returns"))
    tracker = await sql_store.retrieve("returns")
    await sql_store.save(turn(tracker, "yes", "affirm", FORGET_ACTION))

    fresh = await sql_store.get_or_create_tracker("returns")
    await sql_store.save(turn(fresh, "hi", "greet", "utter_intro"))
    stored = await sql_store.retrieve("returns")
    assert [e.text for e in stored.events if isinstance(e, UserUttered)] == ["hi"]


def test_in_memory_store_forgets_too():
    asyncio.run(_test_in_memory_store_forgets_too())


async def _test_in_memory_store_forgets_too():
    store = ForgetfulInMemoryTrackerStore(DOMAIN)
    await store.save(conversation("forgets"))
    await store.save(conversation("keeps"))
    tracker = await store.retrieve("forgets")
    await store.save(turn(tracker, "yes", "affirm", FORGET_ACTION))
    assert await store.retrieve("forgets") is None
    assert set(await store.keys()) == {"keeps"}


def test_rasa_loads_the_store_by_module_path_as_endpoints_yml_names_it(tmp_path, db):
    asyncio.run(_test_rasa_loads_the_store_by_module_path_as_endpoints_yml_names_it(tmp_path, db))


async def _test_rasa_loads_the_store_by_module_path_as_endpoints_yml_names_it(tmp_path, db):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"tracker_store": {
        "type": "willow.tracker_store.ForgetfulSQLTrackerStore", "dialect": "sqlite", "db": str(db),
    }}))
    store = TrackerStore.create(read_endpoint_config(str(endpoints), "tracker_store"), DOMAIN)
    assert type(store) is ForgetfulSQLTrackerStore
    await store.save(conversation("configured"))
    assert rows(db, "configured") > 0

    in_memory = TrackerStore.create(
        EndpointConfig(type="willow.tracker_store.ForgetfulInMemoryTrackerStore"), DOMAIN
    )
    assert type(in_memory) is ForgetfulInMemoryTrackerStore


def configured_stores():
    """Every tracker_store Willow can run with: endpoints.yml and, if present, what
    ``willow.endpoints`` generates for SQLite and PostgreSQL."""
    stores = {"endpoints.yml": (yaml.safe_load((ROOT / "endpoints.yml").read_text()) or {}).get("tracker_store")}
    try:
        from willow import endpoints as generated
    except ImportError:
        return stores
    for kind in ("sqlite", "postgres"):
        stores[f"willow.endpoints ({kind})"] = generated.tracker_store({"WILLOW_TRACKER_STORE": kind})
    return stores


@pytest.mark.parametrize("where", list(configured_stores()))
def test_the_configured_tracker_store_can_forget(where):
    """Willow tells users their conversation is deleted, so the store it runs with must do it.

    Rasa's own ``type: SQL`` would keep every event: use
    ``type: willow.tracker_store.ForgetfulSQLTrackerStore`` (same settings otherwise).
    With no tracker_store at all, Rasa keeps conversations in memory until a restart.
    """
    store = configured_stores()[where]
    if store:
        kind = str(store.get("type", ""))
        assert kind.startswith("willow.tracker_store.Forgetful") and hasattr(
            tracker_store, kind.rsplit(".", 1)[-1]
        ), f"{where}: tracker_store type {kind!r} cannot forget a conversation"
