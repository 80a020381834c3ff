"""Staff accounts of the web console: roles, password hashing, lock-out, API tokens.

The console's own tables live here and are created by the ``web`` migration
namespace (``store.register_migration``), so the core schema stays the lead's.
Passwords are hashed with Argon2id (argon2-cffi); API tokens are stored as
SHA-256 digests and shown once. Console sessions are rows of ``web_session``
(the cookie holds only a random session id): signing out ends the row, and a password
change or a disabled account ends every row of the account, so a copied cookie stops
working at once. Every password change also bumps the account's ``password_version``;
a session belongs to the version it signed in under.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from datetime import datetime, timedelta

import peewee as pw
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server import store
from server.store import Audit, BaseModel, Event, Setting, Upload, UTCDateTimeField, utcnow

ROLES = ("admin", "staff")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
#: a console session ends after this long without a request (the cookie's lifetime too)
SESSION_LIFETIME = timedelta(hours=12)
#: ``last_seen`` is written at most this often, so most requests only read
SEEN_EVERY = timedelta(minutes=5)

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
# verified when the username is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("privcard-dummy-password")


class AccountError(ValueError):
    """A staff-account operation refused; the message is meant for people.

    ``template`` and ``values`` keep the English source apart from its values so the
    console can show the message in the staff's language (``server.catalogue.TH`` keys).
    """

    def __init__(self, template: str, **values):
        super().__init__(template % values if values else template)
        self.template, self.values = template, values


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

    class Meta:
        table_name = "web_staff"


class ApiToken(BaseModel):
    """A bearer token for the JSON API, bound to one staff account."""

    staff = pw.ForeignKeyField(Staff, backref="tokens", on_delete="CASCADE")
    digest = pw.CharField(max_length=64, unique=True)
    label = pw.CharField(max_length=64, default="")
    created_at = UTCDateTimeField(default=utcnow)
    last_used = UTCDateTimeField(null=True)

    class Meta:
        table_name = "web_api_token"


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


store.register_migration("web", [_m1_tables, _m2_search_indexes, _m3_password_change, _m4_sessions])


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short to protect a staff account."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError("password must be at least %(n)s characters", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AccountError("password must be at most %(n)s characters", n=MAX_PASSWORD)


def add_staff(
    username: str, role: str, password: str, *, actor: str = "cli", must_change_password: bool = False
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
            username=username, role=role, password_hash=digest, must_change_password=bool(must_change_password)
        )
        Audit.create(
            actor=actor,
            action="staff.add",
            target=username,
            detail={"role": role, "must_change_password": bool(must_change_password)},
            at=utcnow(),
        )
    return s


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
            must_change_password=bool(must_change),
            password_version=Staff.password_version + 1,
        ).where(Staff.id == s.id).execute()
        _end_sessions(s.id)
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


def change_own_password(staff_id: int, current: str, new: str, again: str, *, now: datetime | None = None) -> Staff:
    """A signed-in staff member replaces their own password (the console's Account page).

    Refuses a locked account (SignInRefused ``locked``), two different new passwords, a
    weak one (AccountError), a wrong current password (SignInRefused ``bad``, counted
    toward the lock-out exactly like a failed sign-in) and the current password again.
    Clears ``must_change_password``. Every session of the account ends, the caller's
    too: it starts a new one with :func:`start_session`.
    """
    now = now or utcnow()
    s = Staff.get_or_none(Staff.id == staff_id)
    if s is None or not s.active:
        raise AccountError("this account is disabled")
    if s.locked_until and s.locked_until > now:
        raise SignInRefused("locked", s.locked_until)
    if (new or "") != (again or ""):
        raise AccountError("the two new passwords differ")
    check_password_strength(new)
    if not _verify(s, current):
        until = _count_failure(s, now, "staff.password_failed")
        raise SignInRefused("locked", until) if until else SignInRefused("bad")
    if new == current:
        raise AccountError("the new password must differ from the current one")
    return _store_password(s.id, new, actor=f"web:{s.username}", must_change=False, expect_version=s.password_version)


def set_staff(
    username: str, *, role: str | None = None, active: bool | None = None, unlock: bool = False, actor: str = "cli"
) -> Staff:
    """Change a staff member's role, enable/disable the account, or lift a lock-out.

    Disabling an account ends its console sessions.
    """
    changes: dict = {}
    if role is not None:
        if role not in ROLES:
            raise AccountError("role must be one of %(roles)s, got %(role)r", roles=", ".join(ROLES), role=role)
        changes["role"] = role
    if active is not None:
        changes["active"] = bool(active)
    if unlock:
        changes.update(failures=0, locked_until=None)
    with store.write_transaction():
        s = Staff.get_or_none(Staff.username == username)
        if s is None:
            raise AccountError("no staff account %(name)s", name=username)
        if changes:
            Staff.update(**changes).where(Staff.id == s.id).execute()
        if active is False:
            _end_sessions(s.id)
        Audit.create(
            actor=actor,
            action="staff.set",
            target=username,
            detail={k: str(v) for k, v in changes.items()},
            at=utcnow(),
        )
    return Staff.get_by_id(s.id)


class SignInRefused(Exception):
    """Sign-in refused; ``reason`` is ``bad`` or ``locked`` (with ``until``)."""

    def __init__(self, reason: str, until: datetime | None = None):
        super().__init__(reason)
        self.reason = reason
        self.until = until


def _verify(s: Staff, password: str) -> bool:
    """True when ``password`` is the account's password."""
    try:
        return _hasher.verify(s.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _count_failure(s: Staff, now: datetime, action: str) -> datetime | None:
    """Count a wrong password toward the lock-out (sign-in and password change alike).

    Five in a row lock the account for 15 minutes; returns the lock's end when this
    failure locked it. Committed before the caller refuses, and audited as ``action``.
    """
    with store.write_transaction():
        failures = (0 if s.locked_until else s.failures) + 1
        until = now + LOCKOUT if failures >= MAX_FAILURES else None
        Staff.update(failures=0 if until else failures, locked_until=until).where(Staff.id == s.id).execute()
        Audit.create(
            actor=f"web:{s.username}",
            action=action,
            target=s.username,
            detail={"failures": failures, "locked": until is not None},
            at=now,
        )
    return until


def authenticate(username: str, password: str, *, now: datetime | None = None) -> Staff:
    """Check a sign-in; counts failures and locks the account for 15 min after 5 in a row."""
    now = now or utcnow()
    username = (username or "").strip().lower()
    s = Staff.get_or_none(Staff.username == username) if USERNAME_RE.match(username) else None
    if s is None or not s.active:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except VerificationError:
            pass
        raise SignInRefused("bad")
    if s.locked_until and s.locked_until > now:
        raise SignInRefused("locked", s.locked_until)
    if not _verify(s, password):
        until = _count_failure(s, now, "staff.login_failed")
        raise SignInRefused("locked", until) if until else SignInRefused("bad")
    changes = {"failures": 0, "locked_until": None, "last_login": now}
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


def create_token(username: str, label: str = "", *, actor: str = "cli") -> str:
    """A new API token for ``username``; only its digest is stored, so show it now."""
    token = "pct_" + secrets.token_urlsafe(32)
    with store.write_transaction():
        s = Staff.get_or_none(Staff.username == username)
        if s is None:
            raise AccountError("no staff account %(name)s", name=username)
        ApiToken.create(staff=s, digest=_digest(token), label=label[:64])
        Audit.create(actor=actor, action="staff.token", target=username, detail={"label": label[:64]}, at=utcnow())
    return token


def staff_for_token(token: str) -> Staff | None:
    """The active staff account a bearer token belongs to, or None."""
    if not token or not token.startswith("pct_") or len(token) > 100:
        return None
    row = ApiToken.get_or_none(ApiToken.digest == _digest(token))
    if row is None or not hmac.compare_digest(row.digest, _digest(token)):
        return None
    s = Staff.get_or_none(Staff.id == row.staff_id)
    return s if s is not None and s.active else None


def secret_key() -> str:
    """The session signing key, made once per database so every replica shares it."""
    row = Setting.get_or_none(Setting.key == "secret_key")
    if row is not None:
        return row.value
    value = secrets.token_hex(32)
    with store.write_transaction():
        Setting.insert(key="secret_key", value=value).on_conflict_ignore().execute()
    return Setting.get(Setting.key == "secret_key").value
