"""The gate's outbox: taps a gate has read but the server has not yet answered.

A gate writes every tap here (SQLite, WAL, ``synchronous=FULL``) *before* it gives
the patron any feedback, and deletes it only when the server's ``result`` for that
``tap_id`` arrives (docs/architecture.md, "Reliability principles"). The tap ids come from a
persistent per-device sequence that survives restarts and ``kill -9`` and is never
reused, even for taps already removed.

    >>> box = Outbox(":memory:")
    >>> tap = box.create("gate-1", "04A1B2C3", now_utc(), clock_ok=True)
    >>> tap.tap_id, box.depth()
    ('gate-1:1', 1)
    >>> box.remove(tap.tap_id); box.depth()
    True
    0

The SIP2 proxy keeps its checkouts in the same file (the ``checkouts`` table), with
the same life: stored before anything else, deleted when their result arrives.

Thread-safe: one connection guarded by a lock (the gate's reader thread adds, the
sender thread reads, paho's thread removes).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broker.contract import TAP_ID_RE, Checkout, Tap, check_device_id, format_time, now_utc, parse_time
from gate.errors import GateError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sequence (
    device_id TEXT PRIMARY KEY,
    last      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS taps (
    n        INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order: oldest first
    tap_id   TEXT NOT NULL UNIQUE,
    uid      TEXT NOT NULL,
    at       TEXT NOT NULL,                      -- ISO-8601 with offset, as read
    clock_ok INTEGER NOT NULL,
    added    REAL NOT NULL,                      -- epoch seconds when stored
    sent_at  REAL,                               -- epoch seconds of the last send
    attempts INTEGER NOT NULL DEFAULT 0,
    ndef     TEXT                                -- the card's NDEF URI (a SUN URL), if read
);
-- a self-check proxy's checkouts (gate/sip2proxy.py): the same life as a tap, keyed on
-- the checkout's own idempotent id (broker.contract.checkout_id)
CREATE TABLE IF NOT EXISTS checkouts (
    n        INTEGER PRIMARY KEY AUTOINCREMENT,
    tap_id   TEXT NOT NULL UNIQUE,
    payload  TEXT NOT NULL,                      -- the Checkout's wire form
    added    REAL NOT NULL,
    sent_at  REAL,
    attempts INTEGER NOT NULL DEFAULT 0
);
"""


class OutboxError(GateError):
    """The outbox database cannot be opened or written."""


@dataclass(frozen=True)
class OutboxItem:
    """A stored tap with its send bookkeeping."""

    tap: Tap
    added: float
    sent_at: float | None
    attempts: int

    @property
    def tap_id(self) -> str:
        """The tap's id."""
        return self.tap.tap_id


def make_tap_id(device_id: str, seq: int) -> str:
    """``{device_id}:{seq}``; shortened with a hash if that would exceed 64 characters."""
    tap_id = f"{device_id}:{seq}"
    if len(tap_id) > 64:
        digest = hashlib.sha1(device_id.encode()).hexdigest()[:8]
        tap_id = f"{device_id[:32]}.{digest}:{seq}"
    if not TAP_ID_RE.match(tap_id):
        raise OutboxError(f"cannot make a valid tap_id from device id {device_id!r}")
    return tap_id


class Outbox:
    """SQLite-backed, crash-safe queue of taps waiting for their result."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before add() returns, so feedback never
            # precedes durability (the gate may lose power right after the beep).
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(SCHEMA)
            # an outbox made before SUN (issue 15) has no ndef column: its taps are UID-only
            if "ndef" not in {row[1] for row in self._db.execute("PRAGMA table_info(taps)")}:
                self._db.execute("ALTER TABLE taps ADD COLUMN ndef TEXT")
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def _next_seq(self, device_id: str) -> int:
        """Advance the device's sequence inside the caller's transaction."""
        row = self._db.execute(
            "INSERT INTO sequence(device_id, last) VALUES (?, 1) "
            "ON CONFLICT(device_id) DO UPDATE SET last = last + 1 RETURNING last",
            (device_id,),
        ).fetchone()
        return int(row[0])

    def next_tap_id(self, device_id: str) -> str:
        """Take the next id from the persistent sequence (committed; never handed out twice)."""
        check_device_id(device_id)
        with self._lock, self._tx():
            return make_tap_id(device_id, self._next_seq(device_id))

    def add(self, tap: Tap) -> None:
        """Store a tap durably (committed with synchronous=FULL before returning)."""
        with self._lock, self._tx():
            self._insert(tap)

    def create(self, device_id: str, uid: str, at: datetime, clock_ok: bool, ndef: str | None = None) -> Tap:
        """Allocate a tap id and store the tap in one transaction (one fsync, not two)."""
        check_device_id(device_id)
        with self._lock, self._tx():
            tap = Tap(
                tap_id=make_tap_id(device_id, self._next_seq(device_id)), uid=uid, at=at, clock_ok=clock_ok, ndef=ndef
            )
            self._insert(tap)
        return tap

    def _insert(self, tap: Tap) -> None:
        try:
            self._db.execute(
                "INSERT INTO taps(tap_id, uid, at, clock_ok, added, ndef) VALUES (?, ?, ?, ?, ?, ?)",
                (tap.tap_id, tap.uid, format_time(tap.at), int(tap.clock_ok), time.time(), tap.ndef),
            )
        except sqlite3.IntegrityError:
            raise OutboxError(f"tap {tap.tap_id} is already in the outbox") from None

    def mark_sent(self, tap_id: str | Iterable[str], when: float | None = None) -> None:
        """Record that a tap (or several) was published at ``when`` (epoch seconds)."""
        ids = [tap_id] if isinstance(tap_id, str) else list(tap_id)
        if not ids:
            return
        when = time.time() if when is None else when
        with self._lock, self._tx():
            self._db.executemany(
                "UPDATE taps SET sent_at = ?, attempts = attempts + 1 WHERE tap_id = ?", [(when, t) for t in ids]
            )

    def remove(self, tap_id: str | Iterable[str]) -> bool | int:
        """Delete a tap whose result arrived; True if it was there (count for several)."""
        single = isinstance(tap_id, str)
        ids = [tap_id] if single else list(tap_id)
        if not ids:
            return 0
        with self._lock, self._tx():
            removed = 0
            for t in ids:
                removed += self._db.execute("DELETE FROM taps WHERE tap_id = ?", (t,)).rowcount
        return bool(removed) if single else removed

    # ------------------------------------------------------------------ reads

    def pending(self, limit: int = 100, *, after: int | None = None) -> list[OutboxItem]:
        """Up to ``limit`` stored taps, oldest first (optionally only those stored after row ``after``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tap_id, uid, at, clock_ok, added, sent_at, attempts, ndef FROM taps WHERE n > ? ORDER BY n LIMIT ?",
                (after or 0, int(limit)),
            ).fetchall()
        return [self._item(r) for r in rows]

    def get(self, tap_id: str) -> OutboxItem | None:
        """One stored tap, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT tap_id, uid, at, clock_ok, added, sent_at, attempts, ndef FROM taps WHERE tap_id = ?", (tap_id,)
            ).fetchone()
        return self._item(row) if row else None

    def __contains__(self, tap_id: str) -> bool:
        return self.get(tap_id) is not None

    def depth(self) -> int:
        """How many taps wait for their result."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM taps").fetchone()[0])

    def oldest(self) -> Tap | None:
        """The oldest waiting tap, or None when the outbox is empty."""
        items = self.pending(1)
        return items[0].tap if items else None

    def last_seq(self, device_id: str) -> int:
        """The last sequence number handed out for a device (0 if none)."""
        with self._lock:
            row = self._db.execute("SELECT last FROM sequence WHERE device_id = ?", (device_id,)).fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ checkouts (the SIP2 proxy)

    def add_checkout(self, checkout: Checkout) -> bool:
        """Store a checkout durably; False if its id is already stored (the same checkout seen twice)."""
        with self._lock, self._tx():
            cur = self._db.execute(
                "INSERT INTO checkouts(tap_id, payload, added) VALUES (?, ?, ?) ON CONFLICT(tap_id) DO NOTHING",
                (checkout.tap_id, checkout.encode().decode("utf-8"), time.time()),
            )
            return cur.rowcount == 1

    def pending_checkouts(self, limit: int = 100) -> list[tuple[Checkout, float | None]]:
        """Up to ``limit`` stored checkouts, oldest first, each with when it was last sent (or None)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload, sent_at FROM checkouts ORDER BY n LIMIT ?", (int(limit),)
            ).fetchall()
        return [(Checkout.parse(payload), sent_at) for payload, sent_at in rows]

    def mark_checkouts_sent(self, ids: Iterable[str], when: float | None = None) -> None:
        """Record that these checkouts were published at ``when`` (epoch seconds)."""
        ids = list(ids)
        if ids:
            when = time.time() if when is None else when
            with self._lock, self._tx():
                self._db.executemany(
                    "UPDATE checkouts SET sent_at = ?, attempts = attempts + 1 WHERE tap_id = ?",
                    [(when, t) for t in ids],
                )

    def remove_checkout(self, tap_id: str) -> bool:
        """Delete a checkout whose result arrived; True if it was there."""
        with self._lock, self._tx():
            return self._db.execute("DELETE FROM checkouts WHERE tap_id = ?", (tap_id,)).rowcount == 1

    def checkout_depth(self) -> int:
        """How many checkouts wait for their result."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM checkouts").fetchone()[0])

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _item(row) -> OutboxItem:
        tap_id, uid, at, clock_ok, added, sent_at, attempts, ndef = row
        return OutboxItem(
            tap=Tap(tap_id=tap_id, uid=uid, at=parse_time(at), clock_ok=bool(clock_ok), ndef=ndef),
            added=added,
            sent_at=sent_at,
            attempts=attempts,
        )

    def _tx(self):
        return _Transaction(self._db, self.path)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, translating sqlite errors into OutboxError."""

    def __init__(self, db: sqlite3.Connection, path: str):
        self.db = db
        self.path = path

    def __enter__(self):
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OutboxError(f"outbox {self.path}: {exc}") from exc
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as err:
                self.db.execute("ROLLBACK")
                raise OutboxError(f"outbox {self.path}: commit failed: {err}") from err
            return False
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if isinstance(exc, sqlite3.Error):
            raise OutboxError(f"outbox {self.path}: {exc}") from exc
        return False


__all__ = ["Outbox", "OutboxError", "OutboxItem", "make_tap_id", "now_utc"]
