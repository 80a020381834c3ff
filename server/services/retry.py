"""Units of work and the one retry policy of the server.

The service layer is the only owner of transactions: every public operation opens its
own (:func:`unit_of_work` for writes, :func:`read_unit` for reads that must see one
snapshot); entry points never open one. What is retried, and how long to wait, is
decided here and nowhere else: only *infrastructure* errors (the database locked, down,
its connection lost, the disk full, a PostgreSQL server that turned read-only in a
failover) are retried, with exponential back-off, for as long
as they last. Any other exception is a bug or a refusal: it would fail the same way again,
so it is never retried (the tap worker gives up on that one message, see
:meth:`server.services.taps.Taps.decide_batch`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import peewee as pw

from server import store

log = logging.getLogger(__name__)
T = TypeVar("T")

#: the errors that say "the database is unavailable", not "this request is wrong"
INFRASTRUCTURE = (pw.OperationalError, pw.InterfaceError)
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 10.0
#: a database that is only *busy* (another connection's write transaction: a staff
#: import, a backup) is up: each attempt costs at most the caller's busy timeout, so it
#: is tried again at least this often, and taps are answered soon after the lock goes
BUSY_MAX_DELAY_S = 1.0


#: PostgreSQL's SQLSTATEs that say "this server cannot take writes now", not "this request
#: is wrong": a read-only transaction (a primary just demoted, or a standby the
#: connection reached before a failover finished) and the shutdown/recovery states
READ_ONLY_STATES = {"25006", "57P01", "57P02", "57P03", "08000", "08003", "08006"}


def is_read_only(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection reached a server that cannot write (a failover).

    psycopg2 raises ``ReadOnlySqlTransaction`` (SQLSTATE 25006, an ``InternalError``) when a
    write reaches a standby or a demoted primary; after a reconnect with
    ``target_session_attrs=read-write`` libpq finds the new primary, so it is retried like a
    lost connection.
    """
    orig = getattr(exc, "orig", None) or exc  # peewee keeps the driver's exception as .orig
    code = getattr(orig, "pgcode", None)
    return (
        code in READ_ONLY_STATES
        or type(orig).__name__ == "ReadOnlySqlTransaction"
        or "read-only transaction" in str(orig).lower()
    )


def is_infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unavailable (worth retrying)."""
    return isinstance(exc, INFRASTRUCTURE) or (isinstance(exc, pw.DatabaseError) and is_read_only(exc))


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection holds the database's write lock (SQLite)."""
    text = str(exc).lower()
    return isinstance(exc, pw.OperationalError) and ("locked" in text or "busy" in text)


def unit_of_work():
    """One write transaction (``BEGIN IMMEDIATE`` on SQLite, so writers queue instead of failing)."""
    return store.write_transaction()


def read_unit():
    """One read transaction: several reads that must agree with each other."""
    return store.db.atomic()


def retry(
    operation: Callable[[], T], *, pause: Callable[[float], bool], what: str = "operation"
) -> tuple[bool, T | None]:
    """Run ``operation`` until it gets past infrastructure errors; ``(done, result)``.

    Between attempts it calls ``pause(delay)`` (0.2 s doubling to 10 s; to 1 s while the
    database is only busy); ``pause`` returns True to give up (the process is stopping):
    then ``(False, None)``. The database connection is closed before each pause so the
    next attempt opens a fresh one. Any other exception propagates at once.

    An outage is logged once when it starts (one line; each attempt's traceback at
    debug level) and once when it ends, not once per attempt.
    """
    delay = FIRST_DELAY_S
    attempts, started = 0, time.monotonic()
    while True:
        try:
            result = operation()
        except (pw.DatabaseError, pw.InterfaceError) as exc:
            if not is_infrastructure(exc):
                raise
            attempts += 1
            if attempts == 1:
                log.warning("database unavailable for %s (%s); retrying until it answers", what, exc)
            log.debug("attempt %d for %s failed", attempts, what, exc_info=True)
            busy = is_busy(exc)
        else:
            if attempts:
                log.warning(
                    "database available again for %s after %d attempt(s), %.1f s",
                    what,
                    attempts + 1,
                    time.monotonic() - started,
                )
            return True, result
        store.db.close()
        if pause(min(delay, BUSY_MAX_DELAY_S) if busy else delay):
            return False, None
        delay = min(delay * 2, MAX_DELAY_S)
