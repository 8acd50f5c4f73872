"""Which failures mean "a store Willow depends on is unavailable right now".

When PostgreSQL restarts, Redis goes away, or the SQLite disk fills up, a message cannot be
handled, but a retry in a moment can be. The channels answer those with **503** (a JSON error
and ``Retry-After``), so the client (the web page, the load test, Telegram's redelivery, Slack's
retry) sends the same message again with the same message id (``willow.idempotency``). Any
other failure stays a 500: retrying it would fail the same way.

Only exception *types* are looked at: their messages can quote SQL parameters, which include
what the person wrote.
"""
from __future__ import annotations

from typing import Optional

RETRY_AFTER_SECONDS = 5
MESSAGE = "Willow cannot reach its conversation store right now; please try again in a moment"


def _outage_types() -> tuple:
    types = []
    try:
        import sqlalchemy.exc as sa

        # OperationalError: connection refused or lost, disk full, database locked or read-only.
        # InterfaceError: a connection that was closed under the driver. TimeoutError: the pool.
        types += [sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, sa.TimeoutError]
    except ImportError:  # pragma: no cover - Rasa always brings SQLAlchemy
        pass
    try:
        import redis.exceptions as r

        types += [r.ConnectionError, r.TimeoutError]
    except ImportError:  # pragma: no cover
        pass
    try:
        from rasa.core.lock_store import LockError

        # Rasa wraps the lock store's connection errors in LockError, and raises it when a
        # conversation's lock vanished while waiting (Redis restarted without its data).
        types.append(LockError)
    except ImportError:  # pragma: no cover
        pass
    import sqlite3

    types.append(sqlite3.OperationalError)
    return tuple(types)


OUTAGE_TYPES = _outage_types()


def is_outage(error: Optional[BaseException]) -> bool:
    """Whether ``error`` (or an exception it was raised from or while handling) is a store outage."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OUTAGE_TYPES):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
