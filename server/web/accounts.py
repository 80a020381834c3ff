"""Staff accounts of the web console: roles, password hashing, lock-out, API tokens.

The console's own tables live here and are created by the ``web`` migration
namespace (``store.register_migration``), so the core schema stays the lead's.
Passwords are hashed with Argon2id (argon2-cffi); API tokens are stored as
SHA-256 digests and shown once. Console sessions are rows of ``web_session``
(the cookie holds only a random session id): signing out ends the row, and a password
change or a disabled account ends every row of the account, so a copied cookie stops
working at once. Every password change also bumps the account's ``password_version``;
a session belongs to the version it signed in under.

Sign-in under attack (docs/console.md, "Sign-in policy"): every password check goes
through a small pool (:data:`HASH_POOL` Argon2 verifications at once, each needs
64 MiB; extra sign-ins wait :data:`HASH_WAIT` seconds, then are refused with
:class:`SignInThrottled`); a guess is counted *before* it is hashed by one atomic
``UPDATE ... SET failures = failures + 1 ... RETURNING`` that refuses once the account
is locked, so parallel guesses cannot check more than :data:`MAX_FAILURES` passwords;
the lock is short and doubles with each lock in a row (:func:`lock_duration`); each
source address may fail :data:`SOURCE_MAX_FAILURES` times per :data:`SOURCE_WINDOW`.
API tokens expire, can be listed and revoked, and are revoked by a password change
and by disabling the account.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timedelta

import peewee as pw
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server import store
from server.domain.errors import TemplatedError
from server.store import Audit, BaseModel, Event, Setting, Upload, UTCDateTimeField, utcnow

ROLES = ("admin", "staff")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
#: wrong passwords in a row that lock an account (counted before they are checked)
MAX_FAILURES = 5
#: the first lock's length; each further lock in a row (no successful sign-in between) doubles it
LOCKOUT = timedelta(minutes=1)
#: the longest lock: an attacker who knows a username cannot keep its owner out longer per round
LOCKOUT_MAX = timedelta(minutes=15)
#: failed sign-ins one source address may make per window before it is refused (429)
SOURCE_MAX_FAILURES = 20
SOURCE_WINDOW = timedelta(minutes=15)
#: Argon2 verifications at once (64 MiB each): the memory sign-ins can take is bounded by it
HASH_POOL = 2
#: how long a sign-in waits for a free slot before it is refused with 429 (seconds)
HASH_WAIT = 3.0
#: API tokens last this long unless another lifetime is asked for; at most TOKEN_MAX_DAYS
TOKEN_DAYS = 90
TOKEN_MAX_DAYS = 366
#: ``last_used`` of a token is written at most this often
TOKEN_SEEN_EVERY = timedelta(minutes=1)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
#: a console session ends after this long without a request (the cookie's lifetime too)
SESSION_LIFETIME = timedelta(hours=12)
#: ``last_seen`` is written at most this often, so most requests only read
SEEN_EVERY = timedelta(minutes=5)

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
_pool = threading.BoundedSemaphore(HASH_POOL)
# verified when the username is unknown, so a wrong name costs as long as a wrong password:
# the hash of a random secret nobody kept, made with the hasher's parameters once and written
# here (hashing it at import cost every process — each CLI command, each server — ~0.1 s of
# Argon2); parameters other than the hasher's (another argon2-cffi default) hash one afresh,
# so the check keeps the cost of a real one
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$UK/JsnXnPjYiyk2tvPIu3Q$LIDlYcyLCOcWGmsziKPdm5Lpztiw1UbWD16ZRakyzoM"
if _hasher.check_needs_rehash(_DUMMY_HASH):
    _DUMMY_HASH = _hasher.hash("privcard-dummy-password")
#: a running estimate of one verification's time: a refusal without a check waits as long
_verify_seconds = [0.1]


class AccountError(TemplatedError, ValueError):
    """A staff-account operation refused; the message is meant for people.

    ``template`` and ``values`` keep the English source apart from its values so the
    console can show the message in the staff's language (``server.catalogue.TH`` keys).
    """


class Staff(BaseModel):
    """A person who signs in to the console."""

    username = pw.CharField(max_length=32, unique=True)
    role = pw.CharField(max_length=8)  # admin | staff
    password_hash = pw.CharField(max_length=200)
    active = pw.BooleanField(default=True)
    failures = pw.IntegerField(default=0)  # consecutive failed sign-ins
    locked_until = UTCDateTimeField(null=True)
    last_login = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    # the password was chosen by someone else (an admin): change it before anything else
    must_change_password = pw.BooleanField(default=False)
    # bumped by every password change; a session signed in under an older value is over
    password_version = pw.IntegerField(default=0)
    # locks in a row since the last successful sign-in: each doubles the next lock's length
    lockouts = pw.IntegerField(default=0)
    # the sites this account works for, comma-separated codes (issue 16, migration namespace
    # "sites"); NULL: every site (a programme administrator, or staff of a single library)
    sites = pw.CharField(max_length=200, null=True)

    class Meta:
        table_name = "web_staff"


class ApiToken(BaseModel):
    """A bearer token for the JSON API, bound to one staff account."""

    staff = pw.ForeignKeyField(Staff, backref="tokens", on_delete="CASCADE")
    digest = pw.CharField(max_length=64, unique=True)
    label = pw.CharField(max_length=64, default="")
    created_at = UTCDateTimeField(default=utcnow)
    last_used = UTCDateTimeField(null=True)
    # null only for tokens made before expiry existed (migration 5 gives them one)
    expires_at = UTCDateTimeField(null=True)
    revoked_at = UTCDateTimeField(null=True)
    revoked_why = pw.CharField(max_length=32, null=True)  # revoked | password | disabled

    class Meta:
        table_name = "web_api_token"

    @property
    def state(self) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


class SigninSource(BaseModel):
    """Failed sign-ins per source address in a fixed window (the per-source throttle)."""

    source = pw.CharField(primary_key=True, max_length=64)
    failures = pw.IntegerField(default=0)
    window_start = UTCDateTimeField()

    class Meta:
        table_name = "web_signin_source"


class WebSession(BaseModel):
    """A signed-in console session; the cookie carries the id whose SHA-256 is ``key``.

    Ended (``ended_at``) by signing out, by a password change and by disabling the
    account; a session without a request for :data:`SESSION_LIFETIME` is over too.
    Rows ended or idle that long are deleted at the next sign-in.
    """

    key = pw.CharField(primary_key=True, max_length=64)  # sha256 hex of the cookie's session id
    staff = pw.ForeignKeyField(Staff, backref="sessions", on_delete="CASCADE")  # indexed
    # the account's password_version at sign-in: a change made by any path (an older
    # replica, the database by hand) ends the session even if its row was not ended
    password_version = pw.IntegerField()
    created_at = UTCDateTimeField(default=utcnow)
    last_seen = UTCDateTimeField(default=utcnow)
    ended_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "web_session"


# the tables migration 1 creates; later tables come with their own migration
WEB_MODELS = [Staff, ApiToken, Setting, Event, Upload]


def _m1_tables(migrator) -> None:
    store.db.create_tables(WEB_MODELS, safe=True)


def _m2_search_indexes(migrator) -> None:
    # Member search: a prefix range on lower(name) uses this expression index
    # (SQLite >= 3.9 and PostgreSQL both index expressions).
    ops = "" if store.is_sqlite() else " text_pattern_ops"  # PostgreSQL: LIKE 'prefix%' needs pattern ops
    store.db.execute_sql(f"CREATE INDEX IF NOT EXISTS web_member_lower_name ON member (lower(name){ops})")


def _m3_password_change(migrator) -> None:
    # web_staff made before the console could change passwords gets the two columns.
    # _m1 creates the tables from the current models, so a new database has them already.
    # Plain ADD COLUMN ... NOT NULL DEFAULT on both databases: peewee's add_column would
    # rebuild the SQLite table, and dropping web_staff cascades to web_api_token.
    have = {c.name for c in store.db.get_columns("web_staff")}
    boolean = "INTEGER NOT NULL DEFAULT 0" if store.is_sqlite() else "BOOLEAN NOT NULL DEFAULT FALSE"
    if "must_change_password" not in have:
        store.db.execute_sql(f"ALTER TABLE web_staff ADD COLUMN must_change_password {boolean}")
    if "password_version" not in have:
        store.db.execute_sql("ALTER TABLE web_staff ADD COLUMN password_version INTEGER NOT NULL DEFAULT 0")


def _m4_sessions(migrator) -> None:
    # server-side console sessions: a new table, so an existing database only gains it
    # (cookies from before carry no session id: everyone signs in once more)
    store.db.create_tables([WebSession], safe=True)


def _m5_signin_and_tokens(migrator) -> None:
    # lock back-off, token expiry and revocation: ADD COLUMN (no table rebuilt, tokens kept),
    # and the per-source throttle's table. Tokens from before get the default lifetime from now.
    have = {c.name for c in store.db.get_columns("web_staff")}
    if "lockouts" not in have:
        store.db.execute_sql("ALTER TABLE web_staff ADD COLUMN lockouts INTEGER NOT NULL DEFAULT 0")
    have = {c.name for c in store.db.get_columns("web_api_token")}
    stamp = "DATETIME" if store.is_sqlite() else "TIMESTAMP"
    for name, kind in (("expires_at", stamp), ("revoked_at", stamp), ("revoked_why", "VARCHAR(32)")):
        if name not in have:
            store.db.execute_sql(f"ALTER TABLE web_api_token ADD COLUMN {name} {kind}")
    ApiToken.update(expires_at=utcnow() + timedelta(days=TOKEN_DAYS)).where(ApiToken.expires_at.is_null()).execute()
    store.db.create_tables([SigninSource], safe=True)


store.register_migration(
    "web", [_m1_tables, _m2_search_indexes, _m3_password_change, _m4_sessions, _m5_signin_and_tokens]
)


# --------------------------------------------------------------------------- passwords


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short to protect a staff account."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError("password must be at least %(n)s characters", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AccountError("password must be at most %(n)s characters", n=MAX_PASSWORD)


def add_staff(
    username: str,
    role: str,
    password: str,
    *,
    actor: str = "cli",
    must_change_password: bool = False,
    sites: str | None = None,
) -> Staff:
    """Create a staff account (the CLI's ``staff add``); raises AccountError.

    ``must_change_password`` makes the person choose their own password at the first
    sign-in (the console sets it: the admin chose this one).
    """
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError("username must be 2-32 characters: a-z, 0-9, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError("role must be one of %(roles)s, got %(role)r", roles=", ".join(ROLES), role=role)
    check_password_strength(password)
    digest = hash_password(password)
    with store.write_transaction():
        if Staff.get_or_none(Staff.username == username):
            raise AccountError("staff account %(name)s already exists", name=username)
        s = Staff.create(
            username=username,
            role=role,
            password_hash=digest,
            must_change_password=bool(must_change_password),
            sites=sites or None,
        )
        Audit.create(
            actor=actor,
            action="staff.add",
            target=username,
            detail={"role": role, "must_change_password": bool(must_change_password), "sites": sites or "all"},
            at=utcnow(),
        )
    return s


def set_sites(staff_id: int, sites: str | None, *, actor: str = "cli") -> Staff:
    """Change the sites a staff account works for (``"A,B"``, checked by the caller; None: every site)."""
    with store.write_transaction():
        s = Staff.get_or_none(Staff.id == staff_id)
        if s is None:
            raise AccountError("no staff account %(id)s", id=staff_id)
        Staff.update(sites=sites or None).where(Staff.id == staff_id).execute()
        Audit.create(
            actor=actor, action="staff.sites", target=s.username, detail={"sites": sites or "all"}, at=utcnow()
        )
    return Staff.get_by_id(staff_id)


def _store_password(
    staff_id: int, password: str, *, actor: str, must_change: bool, expect_version: int | None = None
) -> Staff:
    """Save a new (already checked) password: lifts a lock-out, bumps the version, audits.

    With ``expect_version`` nothing is saved if the password changed since it was checked.
    """
    digest = hash_password(password)  # outside the transaction: Argon2 takes a while
    with store.write_transaction():
        s = Staff.get_or_none(Staff.id == staff_id)
        if s is None:
            raise AccountError("no staff account %(name)s", name=str(staff_id))
        if expect_version is not None and s.password_version != expect_version:
            raise AccountError("the password was changed meanwhile; sign in again")
        Staff.update(
            password_hash=digest,
            failures=0,
            locked_until=None,
            lockouts=0,
            must_change_password=bool(must_change),
            password_version=Staff.password_version + 1,
        ).where(Staff.id == s.id).execute()
        _end_sessions(s.id)
        _revoke_tokens(s.id, "password")
        # never the password, not even its hash
        Audit.create(
            actor=actor,
            action="staff.password",
            target=s.username,
            detail={"must_change_password": bool(must_change)},
            at=utcnow(),
        )
        # read inside the transaction: the version this change made, not a later one
        return Staff.get_by_id(s.id)


def set_password(username: str, password: str, *, actor: str = "cli", must_change: bool = False) -> Staff:
    """Set a staff member's password (CLI ``staff passwd``, an admin's reset) and lift any lock-out.

    ``must_change`` marks it temporary: the account must choose its own at the next
    sign-in. Existing sessions of the account end.
    """
    check_password_strength(password)
    s = Staff.get_or_none(Staff.username == (username or "").strip().lower())
    if s is None:
        raise AccountError("no staff account %(name)s", name=username)
    return _store_password(s.id, password, actor=actor, must_change=must_change)


def change_own_password(
    staff_id: int, current: str, new: str, again: str, *, now: datetime | None = None, source: str | None = None
) -> Staff:
    """A signed-in staff member replaces their own password (the console's Account page).

    Refuses a source that failed too often (SignInThrottled), a locked account
    (SignInRefused ``locked``), two different new passwords, a
    weak one (AccountError), a wrong current password (SignInRefused ``bad``, counted
    toward the lock-out exactly like a failed sign-in) and the current password again.
    Clears ``must_change_password``. Every session of the account ends, the caller's
    too: it starts a new one with :func:`start_session`.
    """
    now = now or utcnow()
    wait = _source_blocked(source, now)
    if wait is not None:
        raise SignInThrottled("source", wait)
    s = Staff.get_or_none(Staff.id == staff_id)
    if s is None or not s.active:
        raise AccountError("this account is disabled")
    if s.locked_until and s.locked_until > now:
        raise SignInRefused("locked", s.locked_until)
    if (new or "") != (again or ""):
        raise AccountError("the two new passwords differ")
    check_password_strength(new)
    _check_attempt(s, current, now, "staff.password_failed", source)
    if new == current:
        # the right password after all: the attempt counted before the check is forgiven
        Staff.update(failures=0, locked_until=None, lockouts=0).where(Staff.id == s.id).execute()
        raise AccountError("the new password must differ from the current one")
    return _store_password(s.id, new, actor=f"web:{s.username}", must_change=False, expect_version=s.password_version)


def set_staff(
    username: str, *, role: str | None = None, active: bool | None = None, unlock: bool = False, actor: str = "cli"
) -> Staff:
    """Change a staff member's role, enable/disable the account, or lift a lock-out.

    Disabling an account ends its console sessions and revokes its API tokens.
    """
    changes: dict = {}
    if role is not None:
        if role not in ROLES:
            raise AccountError("role must be one of %(roles)s, got %(role)r", roles=", ".join(ROLES), role=role)
        changes["role"] = role
    if active is not None:
        changes["active"] = bool(active)
    if unlock:
        changes.update(failures=0, locked_until=None, lockouts=0)
    with store.write_transaction():
        s = Staff.get_or_none(Staff.username == username)
        if s is None:
            raise AccountError("no staff account %(name)s", name=username)
        if changes:
            Staff.update(**changes).where(Staff.id == s.id).execute()
        if active is False:
            _end_sessions(s.id)
            _revoke_tokens(s.id, "disabled")
        Audit.create(
            actor=actor,
            action="staff.set",
            target=username,
            detail={k: str(v) for k, v in changes.items()},
            at=utcnow(),
        )
    return Staff.get_by_id(s.id)


class SignInRefused(Exception):
    """Sign-in refused; ``reason`` is ``bad`` or ``locked`` (with ``until``).

    The sign-in page says the same for both (it must not tell which usernames exist);
    ``locked`` is for the Account page, where the person is already signed in.
    """

    def __init__(self, reason: str, until: datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.until = until


class SignInThrottled(Exception):
    """Refused before any check (429): ``reason`` ``busy`` (the hashing pool is full) or
    ``source`` (too many failures from this address); retry after ``retry_after`` seconds."""

    def __init__(self, reason: str, retry_after: int):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = max(1, int(retry_after))


def _pooled(fn, *args, wait: float | None = None):
    """Run an Argon2 call in the bounded pool, or raise SignInThrottled("busy")."""
    if not _pool.acquire(timeout=HASH_WAIT if wait is None else wait):
        raise SignInThrottled("busy", 2)
    try:
        return fn(*args)
    finally:
        _pool.release()


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (in the pool; AccountError if it stays full for 30 s)."""
    try:
        return _pooled(_hasher.hash, password, wait=30.0)
    except SignInThrottled:
        raise AccountError("the server is busy; try again in a moment") from None


def _check(hash_: str, password: str) -> bool:
    """Argon2 verification of one password (call inside the pool); updates the time estimate."""
    t0 = time.monotonic()
    try:
        return _hasher.verify(hash_, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    finally:
        _verify_seconds[0] = 0.8 * _verify_seconds[0] + 0.2 * (time.monotonic() - t0)


def _verify(s: Staff, password: str) -> bool:
    """True when ``password`` is the account's password (checked in the pool)."""
    return _pooled(_check, s.password_hash, password)


def lock_duration(lockouts: int) -> timedelta:
    """How long the next lock lasts after ``lockouts`` locks in a row: 1, 2, 4, 8, 15, 15 ... minutes."""
    return min(LOCKOUT * (2 ** min(max(lockouts, 0), 10)), LOCKOUT_MAX)


def _stamp(when: datetime):
    """A time for a CASE branch, stored as a UTCDateTimeField stores it (the column does not convert it there).

    PostgreSQL needs the text cast to a timestamp; on SQLite the column holds the text itself.
    """
    text = UTCDateTimeField().db_value(when)
    return text if store.is_sqlite() else pw.Cast(text, "timestamp")


def _reserve_attempt(s: Staff, now: datetime) -> tuple[int, datetime | None] | None:
    """Count one attempt at ``s``'s password *before* it is checked; None when it may not be checked.

    One atomic ``UPDATE ... RETURNING``: parallel requests each get their own count, and
    once :data:`MAX_FAILURES` are counted the account is locked in the same statement, so
    at most that many guesses are ever hashed per lock (the last one counted locks the
    account even before its check; if it was the right password, the sign-in lifts the
    lock again). After a lock ends the count starts again at 1. Returns (the count,
    the lock's end when this attempt locked the account).
    """
    expired = Staff.locked_until.is_null(False) & (Staff.locked_until <= now)
    new_failures = pw.Case(None, [(expired, 1)], Staff.failures + 1)
    locks = new_failures >= MAX_FAILURES
    until = now + lock_duration(s.lockouts)
    q = (
        Staff.update(
            failures=new_failures,
            # a value inside CASE is not converted by the column: store it as the column does
            locked_until=pw.Case(None, [(locks, _stamp(until))], None),
            lockouts=pw.Case(None, [(locks, Staff.lockouts + 1)], Staff.lockouts),
        )
        .where(
            (Staff.id == s.id)
            & (Staff.active == True)  # noqa: E712
            & ((Staff.locked_until.is_null() & (Staff.failures < MAX_FAILURES)) | expired)
        )
        .returning(Staff.failures, Staff.locked_until)
    )
    with store.write_transaction():
        rows = list(q.execute())
    if not rows:
        return None
    return rows[0].failures, rows[0].locked_until


def _source_blocked(source: str | None, now: datetime) -> int | None:
    """Seconds until ``source`` may try again, or None when it may now."""
    if not source:
        return None
    row = SigninSource.get_or_none(SigninSource.source == source[:64])
    if row is None or row.failures < SOURCE_MAX_FAILURES or row.window_start <= now - SOURCE_WINDOW:
        return None
    return int((row.window_start + SOURCE_WINDOW - now).total_seconds()) + 1


def _count_source_failure(source: str | None, now: datetime) -> None:
    """One more failure from ``source`` in its window (a new window when the last one ended)."""
    if not source:
        return
    key = source[:64]
    stale = SigninSource.window_start <= now - SOURCE_WINDOW
    with store.write_transaction():
        SigninSource.insert(source=key, failures=0, window_start=now).on_conflict_ignore().execute()
        SigninSource.update(
            failures=pw.Case(None, [(stale, 1)], SigninSource.failures + 1),
            window_start=pw.Case(None, [(stale, _stamp(now))], SigninSource.window_start),
        ).where(SigninSource.source == key).execute()


def _refuse_unchecked() -> None:
    """A refusal without a check takes as long as a check would (no timing tells a locked account)."""
    time.sleep(min(_verify_seconds[0], 1.0))


def _failed(s: Staff, count: int, until: datetime | None, now: datetime, action: str) -> None:
    """Audit a checked wrong password (sign-in or password change)."""
    Audit.create(
        actor=f"web:{s.username}",
        action=action,
        target=s.username,
        detail={"failures": count, "locked": until is not None},
        at=now,
    )


def _check_attempt(s: Staff, password: str, now: datetime, action: str, source: str | None) -> None:
    """Count, then check ``password`` for ``s``; raises SignInRefused/SignInThrottled unless right.

    The pool slot is taken before the attempt is counted, so a sign-in refused as busy
    costs the account nothing.
    """
    if not _pool.acquire(timeout=HASH_WAIT):
        raise SignInThrottled("busy", 2)
    ok = False
    try:
        reserved = _reserve_attempt(s, now)
        if reserved is not None:
            ok = _check(s.password_hash, password)
    finally:
        _pool.release()
    if ok:
        return
    _count_source_failure(source, now)
    if reserved is None:  # locked (or disabled meanwhile): not checked, but as slow as a check
        _refuse_unchecked()
        row = Staff.get_or_none(Staff.id == s.id)
        if row is not None and row.locked_until is not None:
            raise SignInRefused("locked", row.locked_until)
        raise SignInRefused("bad")
    count, until = reserved
    with store.write_transaction():
        _failed(s, count, until, now, action)
    raise SignInRefused("locked", until) if until else SignInRefused("bad")


def authenticate(username: str, password: str, *, now: datetime | None = None, source: str | None = None) -> Staff:
    """Check a sign-in from ``source`` (the client's address); the policy is the module's docstring.

    Raises SignInThrottled (429: the pool is full, or ``source`` failed too often),
    SignInRefused (unknown user, wrong password, locked or disabled account: the caller
    shows one message for all).
    """
    now = now or utcnow()
    wait = _source_blocked(source, now)
    if wait is not None:
        raise SignInThrottled("source", wait)
    username = (username or "").strip().lower()
    s = Staff.get_or_none(Staff.username == username) if USERNAME_RE.match(username) else None
    if s is None or not s.active:
        _pooled(_check, _DUMMY_HASH, password)  # as long as a real check, and in the same pool
        _count_source_failure(source, now)
        raise SignInRefused("bad")
    _check_attempt(s, password, now, "staff.login_failed", source)
    changes = {"failures": 0, "locked_until": None, "lockouts": 0, "last_login": now}
    if _hasher.check_needs_rehash(s.password_hash):
        changes["password_hash"] = hash_password(password)
    with store.write_transaction():
        # only if the password checked above is still the account's (no change meanwhile)
        if (
            not Staff.update(**changes)
            .where(
                (Staff.id == s.id)
                & (Staff.active == True)  # noqa: E712
                & (Staff.password_version == s.password_version)
            )
            .execute()
        ):
            raise SignInRefused("bad")
        Audit.create(actor=f"web:{s.username}", action="staff.login", target=s.username, at=now)
        return Staff.get_by_id(s.id)


# --------------------------------------------------------------------------- console sessions


def _end_sessions(staff_id: int, *, now: datetime | None = None) -> int:
    """End every open session of an account (call inside the change's transaction)."""
    return (
        WebSession.update(ended_at=now or utcnow())
        .where((WebSession.staff == staff_id) & WebSession.ended_at.is_null())
        .execute()
    )


def start_session(s: Staff, *, now: datetime | None = None) -> str:
    """A new console session for ``s``; returns the id for the cookie (only its digest is stored).

    ``s`` is the account as the sign-in (or password change) left it: if its password
    changed since, or the account was disabled, nothing starts (AccountError). Deletes
    sessions that ended or sat idle past :data:`SESSION_LIFETIME`, so the table holds
    about one row per open browser.
    """
    now = now or utcnow()
    sid = secrets.token_urlsafe(32)
    with store.write_transaction():
        WebSession.delete().where(
            WebSession.ended_at.is_null(False) | (WebSession.last_seen < now - SESSION_LIFETIME)
        ).execute()
        SigninSource.delete().where(SigninSource.window_start <= now - SOURCE_WINDOW).execute()
        current = Staff.get_or_none(Staff.id == s.id)
        if current is None or not current.active:
            raise AccountError("this account is disabled")
        if current.password_version != s.password_version:
            raise AccountError("the password was changed meanwhile; sign in again")
        WebSession.create(
            key=_digest(sid), staff=s.id, password_version=s.password_version, created_at=now, last_seen=now
        )
    return sid


def session_staff(sid, *, now: datetime | None = None) -> Staff | None:
    """The active account a session id belongs to, or None when the session is over.

    One indexed read (the session's primary key joined to its account); ``last_seen``
    is written only when it is older than :data:`SEEN_EVERY`.
    """
    if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
        return None
    now = now or utcnow()
    key = _digest(sid)
    row = WebSession.select(WebSession, Staff).join(Staff).where(WebSession.key == key).first()
    if (
        row is None
        or row.ended_at is not None
        or row.last_seen <= now - SESSION_LIFETIME
        or not row.staff.active
        or row.staff.password_version != row.password_version
    ):
        return None
    if row.last_seen <= now - SEEN_EVERY:
        try:
            WebSession.update(last_seen=now).where(WebSession.key == key).execute()
        except pw.OperationalError as exc:  # e.g. SQLite busy past its timeout: the next request retries
            log.warning("could not record session activity: %s", exc)
    return row.staff


def end_session(sid) -> None:
    """Sign-out: the session ends for every copy of its cookie."""
    if isinstance(sid, str) and sid:
        (
            WebSession.update(ended_at=utcnow())
            .where((WebSession.key == _digest(sid)) & WebSession.ended_at.is_null())
            .execute()
        )


# --------------------------------------------------------------------------- API tokens


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _revoke_tokens(staff_id: int, why: str, *, now: datetime | None = None) -> int:
    """Revoke every live token of an account (call inside the change's transaction)."""
    return (
        ApiToken.update(revoked_at=now or utcnow(), revoked_why=why)
        .where((ApiToken.staff == staff_id) & ApiToken.revoked_at.is_null())
        .execute()
    )


def token_days(value) -> int:
    """A token lifetime in days from staff input (1..TOKEN_MAX_DAYS; empty: TOKEN_DAYS); AccountError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return TOKEN_DAYS
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if isinstance(value, bool) or not 1 <= days <= TOKEN_MAX_DAYS:
        raise AccountError("a token lasts 1 to %(max)s days", max=TOKEN_MAX_DAYS)
    return days


def issue_token(username: str, label: str = "", *, actor: str = "cli", days=None) -> tuple[str, ApiToken]:
    """A new API token for ``username`` lasting ``days`` (default TOKEN_DAYS); (the token, its row).

    Only the token's digest is stored, so show it now.
    """
    days = token_days(days)
    label = (label or "")[:64]
    token = "pct_" + secrets.token_urlsafe(32)
    with store.write_transaction():
        s = Staff.get_or_none(Staff.username == username)
        if s is None:
            raise AccountError("no staff account %(name)s", name=username)
        if not s.active:
            raise AccountError("this account is disabled")
        now = utcnow()
        row = ApiToken.create(
            staff=s, digest=_digest(token), label=label, created_at=now, expires_at=now + timedelta(days=days)
        )
        Audit.create(
            actor=actor,
            action="staff.token",
            target=username,
            detail={"label": label, "token": row.id, "days": days},
            at=now,
        )
    return token, row


def create_token(username: str, label: str = "", *, actor: str = "cli", days=None) -> str:
    """A new API token for ``username`` (see :func:`issue_token`); show it now, it is not stored."""
    return issue_token(username, label, actor=actor, days=days)[0]


def list_tokens(username: str | None = None, limit: int | None = None) -> list[ApiToken]:
    """API tokens (one account's, or everyone's; the newest ``limit``), newest first, with their accounts."""
    q = ApiToken.select(ApiToken, Staff).join(Staff).order_by(ApiToken.id.desc())
    if username is not None:
        q = q.where(Staff.username == username)
    return list(q.limit(limit) if limit else q)


def revoke_token(token_id, *, actor: str = "cli", owner: int | None = None) -> ApiToken:
    """Revoke one token by id (``owner``: only if it belongs to that account); AccountError if none."""
    try:
        tid = int(str(token_id).strip())
    except ValueError:
        tid = 0
    if not 1 <= tid < 2**63:
        raise AccountError("no API token %(id)s", id=str(token_id)[:40])
    with store.write_transaction():
        row = ApiToken.select(ApiToken, Staff).join(Staff).where(ApiToken.id == tid).first()
        if row is None or (owner is not None and row.staff_id != owner):
            raise AccountError("no API token %(id)s", id=tid)
        if row.revoked_at is None:
            ApiToken.update(revoked_at=utcnow(), revoked_why="revoked").where(ApiToken.id == tid).execute()
            Audit.create(
                actor=actor, action="staff.token_revoked", target=row.staff.username, detail={"token": tid}, at=utcnow()
            )
        return ApiToken.select(ApiToken, Staff).join(Staff).where(ApiToken.id == tid).first()


def staff_for_token(token: str, *, now: datetime | None = None) -> Staff | None:
    """The active staff account a live (not revoked, not expired) bearer token belongs to, or None.

    Records ``last_used`` (at most every :data:`TOKEN_SEEN_EVERY`).
    """
    if not token or not token.startswith("pct_") or len(token) > 100:
        return None
    now = now or utcnow()
    row = ApiToken.select(ApiToken, Staff).join(Staff).where(ApiToken.digest == _digest(token)).first()
    if row is None or not hmac.compare_digest(row.digest, _digest(token)):
        return None
    if row.revoked_at is not None or row.expires_at is None or row.expires_at <= now or not row.staff.active:
        return None
    if row.last_used is None or row.last_used <= now - TOKEN_SEEN_EVERY:
        try:
            ApiToken.update(last_used=now).where(ApiToken.id == row.id).execute()
        except pw.OperationalError as exc:  # SQLite busy past its timeout: the next call records it
            log.warning("could not record token use: %s", exc)
    return row.staff


def secret_key() -> str:
    """The session signing key, made once per database so every replica shares it."""
    row = Setting.get_or_none(Setting.key == "secret_key")
    if row is not None:
        return row.value
    value = secrets.token_hex(32)
    with store.write_transaction():
        Setting.insert(key="secret_key", value=value).on_conflict_ignore().execute()
    return Setting.get(Setting.key == "secret_key").value
