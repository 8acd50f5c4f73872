"""Tracker stores that really delete a conversation when the user asks Willow to forget it.

Rasa 3.6 has no API to delete a tracker, and the action server never sees the tracker
store, so the deletion happens where the data lives: in the tracker store itself.

The flow (data/rules/privacy.yml): ``forget_me`` -> ``utter_ask_forget_confirm`` ->
``affirm`` -> ``utter_conversation_deleted``. Rasa sends that confirmation to the channel
while it runs the action and saves the tracker only at the end of the turn. When a tracker
is saved whose latest turn (the events after the newest user message) executed
``utter_conversation_deleted``, these stores delete every stored event of that sender,
from every session, instead of saving. The confirmation has reached the user by then; the
next message from the same sender starts a new, empty conversation.

The trigger is a domain response, not a custom action, so forgetting works even when the
action server is down.

Configure in endpoints.yml (Rasa loads a tracker store by module path; the class gets
``host`` from ``url`` and every other key as a keyword argument, like ``type: sql``)::

    tracker_store:
      type: willow.tracker_store.ForgetfulSQLTrackerStore
      dialect: sqlite          # or postgresql, with url/port/username/password
      db: data/willow.db

or ``type: willow.tracker_store.ForgetfulInMemoryTrackerStore`` for a memory-only store.
A plain ``type: sql`` (or no tracker store at all) keeps forgotten conversations.

Faults (README, Persistence; tests/test_sqlite_faults.py). ``ForgetfulSQLTrackerStore`` also:

- On SQLite, refuses to start (``TrackerStoreUnusable``: Rasa prints it as one line and exits 1)
  when the data directory or the database file cannot be written, or the file is not an SQLite
  database. Rasa itself would start and then lose every conversation it cannot save.
- On SQLite, takes an exclusive ``flock`` on ``<db>.lock`` for as long as the process uses the
  store, so a second Rasa process on the same file exits at start-up. Each process has its own
  in-memory lock store, so two servers would handle one conversation at once and interleave or
  drop its events. Stores in one process share the lock (Rasa re-creates the store when it loads
  a new model; tests make several). ``make purge`` (willow/retention.py) builds a bare engine,
  not a store, so it never takes the lock and runs beside the server.
- Re-creates Rasa's engine with ``hide_parameters`` (database errors never quote what a person
  wrote), an explicit SQLite busy timeout, and ``pool_pre_ping`` on server databases.

Failures while running (disk full, file or directory made read-only, PostgreSQL restarting) are
raised as SQLAlchemy's ``OperationalError``; ``willow.store_failures`` stops Rasa's wrapper from
hiding them and the channels answer 503 (``willow.outages``). SQLite rolls the failed
transaction back, so the file stays intact and the next request after the fault is served.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Text, Union

import sqlalchemy as sa
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore, create_engine_kwargs, validate_port
from rasa.shared.exceptions import RasaException
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# The response that tells the user their conversation is deleted (domain/privacy.yml).
# Executing it is what makes the store delete the conversation.
FORGET_ACTION = "utter_conversation_deleted"


def asked_to_forget(tracker: DialogueStateTracker) -> bool:
    """Whether the latest turn confirmed the deletion (ran ``FORGET_ACTION``)."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name == FORGET_ACTION:
            return True
    return False


class ForgetsOnRequest:
    """Mixin for a tracker store: a confirmed "delete my data" deletes instead of saving."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        if asked_to_forget(tracker):
            await self.delete(tracker.sender_id)
        else:
            await super().save(tracker)  # type: ignore[misc]

    async def delete(self, sender_id: Text) -> int:
        raise NotImplementedError


class TrackerStoreUnusable(RasaException):
    """The store cannot keep conversations. A RasaException: `rasa run` prints ``Name: message``
    as one line and exits 1, and Rasa never swaps in an in-memory store for it (it does so only
    for AttributeError and ImportError from a custom store's constructor)."""


class _OneLineRefusal(logging.Filter):
    """Sanic logs whatever stops start-up with a full traceback, before Rasa prints it again as one
    line. For a refusal the line says everything, so the traceback is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], TrackerStoreUnusable))


logging.getLogger("sanic.error").addFilter(_OneLineRefusal())

# SQLite's busy timeout: how long a write waits while another connection (``make purge``) holds
# the write lock, before failing with "database is locked" (a 503, retried by the client).
# Rasa's store is synchronous on the event loop, so every request waits with it: long enough for
# a purge transaction (batches of 500 conversations), short enough not to stall the server.
#
# Journal: SQLite's default rollback journal, not WAL. One process serves the file (the lock
# below) and purge is short, so WAL's gain (readers never wait for a writer) matters little,
# while its -wal and -shm files would have to be writable even to read the database and be
# copied with it for a backup. Either way a write that fails (disk full, read-only) is rolled
# back and the database stays intact. A file already in WAL mode is left in it.
SQLITE_BUSY_TIMEOUT_SECONDS = 5.0


def engine_options(url: Union[Text, "sa.engine.URL"]) -> Dict[Text, Any]:
    """``create_engine`` options for the store: Rasa's own, plus Willow's."""
    options: Dict[Text, Any] = dict(create_engine_kwargs(url))  # PostgreSQL pool size, schema
    # Database errors would otherwise quote the SQL parameters (sender ids, message text) in every
    # log line and traceback that shows them.
    options["hide_parameters"] = True
    if sa.engine.make_url(url).get_backend_name() == "sqlite":
        options["connect_args"] = {**options.get("connect_args", {}), "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    else:
        # Pooled connections die when PostgreSQL restarts; without a ping the first request on
        # each dead one fails. With it a dead connection is replaced before use, so the same
        # server serves again as soon as the database is back. (SQLite: a new connection per
        # session, nothing to ping.)
        options["pool_pre_ping"] = True
    return options


def sqlite_file(url: Union[Text, "sa.engine.URL"]) -> Optional[Path]:
    """The database file of an SQLite URL (absolute), or None for other databases and memory."""
    url = sa.engine.make_url(url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    return Path(os.path.abspath(url.database))  # SQLite resolves a relative path from the cwd


def _cannot_write(what: Text, path: Path, error: OSError) -> TrackerStoreUnusable:
    reason = error.strerror or type(error).__name__
    if error.errno == errno.EROFS:
        fix = "its file system is mounted read-only; remount it read-write"
    elif error.errno in (errno.EACCES, errno.EPERM):
        fix = f"make it writable for the user running Rasa (uid {os.geteuid()})"
    else:
        fix = "fix that"
    return TrackerStoreUnusable(
        f"cannot write to the {what} {path} ({reason}): {fix}, or set WILLOW_DB_PATH to a file in a "
        f"writable directory. Willow does not start without a place to keep conversations."
    )


def check_writable(db: Path) -> None:
    """Refuses a database SQLite could open but not write: it would fail every save later."""
    directory = db.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Every write transaction creates a journal next to the file: the directory must be
        # writable too, not only the file. Checked by doing it.
        handle, probe = tempfile.mkstemp(prefix=".willow-write-check-", dir=directory)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise _cannot_write("data directory", directory, error) from error
    if not db.exists():
        return
    try:
        with open(db, "r+b") as handle:  # opened for writing, nothing written
            header = handle.read(16)
    except OSError as error:
        raise _cannot_write("database file", db, error) from error
    if header and header != b"SQLite format 3\x00":
        raise TrackerStoreUnusable(
            f"{db} is not an SQLite database: move it away (Willow then starts a new one) or set "
            f"WILLOW_DB_PATH to the right file."
        )


# lock file -> [descriptor, stores using it]. An flock belongs to one open file description, so
# a second descriptor in the same process would conflict with the first: stores share one.
_process_locks: Dict[Text, List[int]] = {}
_process_locks_guard = threading.Lock()


def hold_process_lock(db: Path) -> Callable[[], None]:
    """Takes (or shares) this process's exclusive lock on ``<db>.lock``; returns its release."""
    path = f"{os.path.realpath(db)}.lock"  # one lock whatever path or symlink names the file
    with _process_locks_guard:
        if path in _process_locks:
            _process_locks[path][1] += 1
        else:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise _cannot_write("lock file", Path(path), error) from error
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                os.close(fd)
                raise TrackerStoreUnusable(
                    f"another process (pid {holder or 'unknown'}) is already serving {db}: it holds {path}. "
                    f"Two Rasa servers on one SQLite file would mix up each other's conversations. Stop "
                    f"the other one, or give this one its own WILLOW_DB_PATH (several instances need "
                    f"PostgreSQL and Redis: README, Scale-out)."
                ) from None
            try:  # the pid is only for that message; a full disk must not stop the server
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            except OSError:
                pass
            _process_locks[path] = [fd, 1]
    return lambda: _release_process_lock(path)


def _release_process_lock(path: Text) -> None:
    with _process_locks_guard:
        entry = _process_locks.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _process_locks[path]
            os.close(entry[0])  # closing the last descriptor releases the flock
    # The file stays: removing it would let a newcomer lock a new file while another process
    # still holds the old one.


class ForgetfulSQLTrackerStore(ForgetsOnRequest, SQLTrackerStore):
    """Rasa's SQL tracker store (SQLite, PostgreSQL...) that deletes forgotten conversations,
    refuses an SQLite file it cannot write or another process serves, and has Willow's engine
    options (see the module docstring)."""

    def __init__(
        self,
        domain: Any = None,
        dialect: Text = "sqlite",
        host: Optional[Text] = None,
        port: Optional[int] = None,
        db: Text = "rasa.db",
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        event_broker: Optional[Any] = None,
        login_db: Optional[Text] = None,
        query: Optional[Dict] = None,
        **kwargs: Any,
    ) -> None:
        url = self.get_db_url(dialect, host, validate_port(port), db, username, password, login_db, query)
        path = sqlite_file(url)
        self._release_lock: Optional[weakref.finalize] = None
        if path is not None:
            check_writable(path)
            # Released when the store is closed or garbage-collected, at the latest at exit.
            self._release_lock = weakref.finalize(self, hold_process_lock(path))
        try:
            super().__init__(domain=domain, dialect=dialect, host=host, port=port, db=db, username=username,
                             password=password, event_broker=event_broker, login_db=login_db, query=query,
                             **kwargs)
            self._use_willow_engine()
            if path is not None:
                self._ensure_tables(path)
        except (AttributeError, ImportError) as error:
            self.close()
            # Rasa would answer these with an in-memory store: conversations lost on restart.
            raise RuntimeError(f"could not set up {type(self).__name__}: {error!r}") from error
        except BaseException:
            self.close()
            raise

    def _use_willow_engine(self) -> None:
        """Replaces the engine Rasa 3.6 creates in ``__init__`` (with no way to pass options) by
        one with ``engine_options``; the tables exist by now, so nothing is lost."""
        rasa_engine = getattr(self, "engine", None)
        if not isinstance(rasa_engine, sa.engine.Engine) or not hasattr(self, "sessionmaker"):
            # Loud on purpose (tests/test_sqlite_faults.py): a Rasa that builds its engine
            # differently needs this override rewritten, not silently skipped.
            raise RuntimeError("Rasa's SQLTrackerStore no longer sets .engine and .sessionmaker in "
                               "__init__: willow/tracker_store.py needs updating")
        self.engine = sa.create_engine(rasa_engine.url, **engine_options(rasa_engine.url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        rasa_engine.dispose()

    def _ensure_tables(self, path: Path) -> None:
        """Rasa logs a failure to create its tables and starts anyway (meant for several instances
        racing on PostgreSQL); on SQLite such a server could never save anything."""
        try:
            self.Base.metadata.create_all(self.engine)
        except sa.exc.DBAPIError as error:
            raise TrackerStoreUnusable(
                f"cannot create the conversation tables in {path} ({error.orig}): free space on its "
                f"disk or check the file, then start again."
            ) from error

    def close(self) -> None:
        """Releases the process lock (if this is the last store using it) and the connections."""
        if self._release_lock is not None:
            self._release_lock()
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.dispose()

    async def delete(self, sender_id: Text) -> int:
        """Deletes every stored event of ``sender_id``; returns how many there were."""
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        # Neither the sender id nor any text: only that it happened.
        logger.info("Deleted a conversation at the user's request (%d events).", deleted)
        return deleted


class ForgetfulInMemoryTrackerStore(ForgetsOnRequest, InMemoryTrackerStore):
    """Rasa's in-memory tracker store that deletes forgotten conversations."""

    def __init__(self, domain: Any = None, event_broker: Optional[Any] = None, **kwargs: Any) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url, which memory has no use for
        super().__init__(domain, event_broker, **kwargs)

    async def delete(self, sender_id: Text) -> int:
        """Forgets ``sender_id``'s conversation; returns 1 if there was one, else 0."""
        deleted = 1 if self.store.pop(sender_id, None) is not None else 0
        logger.info("Deleted a conversation at the user's request.")
        return deleted
