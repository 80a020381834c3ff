"""Patrons on their own page (issue 14): the three sign-ins, lock-out, sessions, and what the page shows.

What :class:`Patrons` owns (``svc.patrons``):

- **Sign-in with a PIN** (:meth:`Patrons.sign_in`): the patron types their library card
  number (the patron id the ILS knows, or the card's UID) and a PIN. When a library
  system is configured and the member has a ``patron_id``, the ILS checks the PIN
  (SIP2 63 with the patron password ``AD``; only ``CQ = Y`` signs in,
  :meth:`server.services.ils.Ils.check_pin`); otherwise the PIN staff set at the counter
  (:meth:`Patrons.set_pin`, an Argon2id hash in ``patron_pin``) is checked.
- **A one-time link by e-mail** (:meth:`Patrons.request_link`, :meth:`Patrons.redeem_link`):
  a random token (only its SHA-256 stored), single use, valid :data:`LINK_MINUTES`,
  queued through the outbox (template ``signin_link``) to the member's own address.
- **Lock-out**: each attempt at a member's PIN is counted *before* it is checked (one
  conditional ``UPDATE``), so parallel guesses cannot check more than
  :data:`MAX_FAILURES`; the member is then locked for :data:`LOCKOUT`, doubling with each
  lock in a row up to :data:`LOCKOUT_MAX`. A client address may fail
  :data:`SOURCE_MAX_FAILURES` times per :data:`SOURCE_WINDOW` (sign-ins, unknown cards,
  bad links), then it is refused (429). Every failure and lock is audited — never a PIN.
- **Sessions** (:meth:`Patrons.start_session`, :meth:`Patrons.session`): rows of
  ``patron_session``; the cookie holds a random id whose SHA-256 is the key. Sign-out
  ends the row; so does a new counter PIN; a session idle :data:`IDLE` or older than
  :data:`LIFETIME` is over. Each session has its own CSRF token.
- **What the page shows** (:meth:`Patrons.overview`, :meth:`Patrons.history`,
  :meth:`Patrons.ils_status`): always for the member id of the caller's session; no
  method here takes a member id from a request.

Never a PIN, a token or a hash in a log line or an audit row.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from broker import contract
from broker.contract import ContractError
from server import store
from server.domain import rules
from server.services import members as members_mod
from server.services import tiers
from server.services.errors import ServiceError
from server.services.ils import IlsUnavailable
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope
from server.store import BaseModel, Card, Member, UTCDateTimeField, utcnow

log = logging.getLogger("privcard.patrons")

#: wrong PINs in a row that lock a member's sign-in (counted before they are checked)
MAX_FAILURES = 5
#: the first lock's length; each further lock in a row doubles it
LOCKOUT = timedelta(minutes=15)
LOCKOUT_MAX = timedelta(hours=24)
#: failures one client address may make per window before it is refused (429). Higher than
#: MAX_FAILURES on purpose: a library's Wi-Fi puts many patrons behind one address.
SOURCE_MAX_FAILURES = 10
SOURCE_WINDOW = timedelta(minutes=15)
#: a one-time link lasts this long; at most LINKS_PER_WINDOW are sent per member per window
LINK_MINUTES = 15
LINKS_PER_WINDOW = 3
#: a patron session ends after this long without a request, and this long after sign-in at most
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
SEEN_EVERY = timedelta(minutes=1)
#: a counter PIN: digits only, this many
PIN_RE = re.compile(r"\d{4,12}")
#: Argon2 checks at once (each takes 64 MiB); extra sign-ins wait HASH_WAIT s, then 429
HASH_POOL = 2
HASH_WAIT = 3.0
METHODS = ("ils", "pin", "link")
HISTORY_LIMIT = 100

_hasher = PasswordHasher()
_pool = threading.BoundedSemaphore(HASH_POOL)
# checked when a card has no PIN, so it costs as long as a wrong PIN: a random secret's hash
# with the hasher's parameters, written here (hashing at import cost every process ~0.1 s);
# other parameters (another argon2-cffi default) hash one afresh
_DUMMY = "$argon2id$v=19$m=65536,t=3,p=4$FdjvbSNlmDnPU89O417eRg$L2uuyDby7HIauWG7rJRgwgRbA1Ojlc33E49F6B56+Vc"
if _hasher.check_needs_rehash(_DUMMY):
    _DUMMY = _hasher.hash("privcard-patron-dummy-pin")


class PatronPin(BaseModel):
    """A PIN staff set at the counter for a member's own page (Argon2id hash)."""

    member = pw.ForeignKeyField(Member, primary_key=True, on_delete="CASCADE")
    pin_hash = pw.CharField(max_length=200)
    set_at = UTCDateTimeField(default=utcnow)
    set_by = pw.CharField(max_length=64)

    class Meta:
        table_name = "patron_pin"


class PatronGuard(BaseModel):
    """Failed attempts per member (``member:<id>``) and per client address (``source:<addr>``)."""

    key = pw.CharField(primary_key=True, max_length=80)
    failures = pw.IntegerField(default=0)
    window_start = UTCDateTimeField(default=utcnow)
    locked_until = UTCDateTimeField(null=True)
    lockouts = pw.IntegerField(default=0)  # locks in a row since the last sign-in

    class Meta:
        table_name = "patron_guard"


class PatronSession(BaseModel):
    """A signed-in patron page session; the cookie carries the id whose SHA-256 is ``key``."""

    key = pw.CharField(primary_key=True, max_length=64)
    member = pw.ForeignKeyField(Member, on_delete="CASCADE")  # indexed
    csrf = pw.CharField(max_length=64)
    method = pw.CharField(max_length=8)  # ils | pin | link
    created_at = UTCDateTimeField(default=utcnow)
    last_seen = UTCDateTimeField(default=utcnow)
    ended_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "patron_session"


class PatronLink(BaseModel):
    """A one-time sign-in link sent by e-mail (only the token's SHA-256 is kept)."""

    digest = pw.CharField(primary_key=True, max_length=64)
    member = pw.ForeignKeyField(Member, on_delete="CASCADE")  # indexed
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "patron_link"


def _m1_tables(migrator) -> None:
    store.db.create_tables([PatronPin, PatronGuard, PatronSession, PatronLink], safe=True)


store.register_migration("patron_web", [_m1_tables])


class SignInRefused(ServiceError):
    """A sign-in refused; ``reason``: ``bad`` (card or PIN wrong, no PIN), ``locked``, ``link``.

    The page shows one message for ``bad``, so it never tells which cards exist.
    """

    def __init__(self, reason: str, until: datetime | None = None):
        super().__init__("the card number or PIN is wrong, or sign-in is locked for a while")
        self.reason, self.until = reason, until


class SignInThrottled(ServiceError):
    """Too many failures from one address (``reason`` ``source``), or the PIN checks are busy (``busy``)."""

    def __init__(self, reason: str, retry_after: int):
        super().__init__("too many failed sign-ins; try again in %(seconds)s seconds", seconds=retry_after)
        self.reason, self.retry_after = reason, retry_after


@dataclass(frozen=True)
class Session:
    """A live patron session: whose, its CSRF token and how it was signed in."""

    member_id: int
    csrf: str
    method: str


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(when: datetime):
    """A datetime as a value inside CASE (PostgreSQL needs the cast; SQLite keeps the text)."""
    text = UTCDateTimeField().db_value(when)
    return text if store.is_sqlite() else pw.Cast(text, "timestamp")


def clean_ref(value) -> str:
    """What a patron typed as their card number, trimmed (at most 64 characters, no control characters)."""
    text = unicodedata.normalize("NFC", str(value or "")).strip()
    if len(text) > 64 or any(unicodedata.category(c)[0] == "C" for c in text):
        return ""
    return text


def lock_duration(lockouts: int) -> timedelta:
    """The length of the next lock after ``lockouts`` locks in a row."""
    return min(LOCKOUT * (2 ** min(lockouts, 16)), LOCKOUT_MAX)


class Patrons:
    """Patron sign-in, sessions and the patron page's reads (``svc.patrons``)."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, members, ils, messages=None, campaigns=None, draws=None):
        self.ledger = ledger
        self.members = members
        self.clock = ledger.clock
        self.ils = ils
        self.messages = messages
        self.campaigns = campaigns
        self.draws = draws

    # ------------------------------------------------------------------ finding the patron

    @staticmethod
    def find(ref) -> Member | None:
        """The member a typed card number names: their patron id, else an active card's UID (never a member id)."""
        text = clean_ref(ref)
        if not text:
            return None
        m = Member.get_or_none(Member.patron_id == text)
        if m is not None:
            return m
        try:
            uid = contract.normalise_uid(text)
        except ContractError:
            return None
        card = Card.get_or_none((Card.uid == uid) & (Card.status == "active"))
        return Member.get_by_id(card.member_id) if card is not None else None

    def method_for(self, m: Member) -> str:
        """How this member's PIN is checked: ``ils`` (the library system) or ``pin`` (the counter PIN)."""
        return "ils" if self.ils is not None and self.ils.configured and m.patron_id else "pin"

    # ------------------------------------------------------------------ the counter PIN

    def set_pin(self, ref, pin, *, actor: str, scope: Scope = EVERYTHING) -> Member:
        """Set a member's counter PIN (4-12 digits), or with ``None`` remove it; their open sessions end.

        Audited without the PIN. A new PIN also lifts a lock-out. Only within ``scope``: a
        member whose home site is outside it is NotFound (``docs/sites.md``).
        """
        if pin is not None and not PIN_RE.fullmatch(str(pin).strip()):
            raise ServiceError("a patron PIN must be 4-12 digits")
        return self.set_member(ref, actor=actor, scope=scope, patron_pin=pin)

    def set_member(self, ref, *, actor: str, scope: Scope = EVERYTHING, **fields) -> Member:
        """``member set`` with ``patron_pin=`` among the fields (empty or ``none`` removes the PIN), in one unit of work
        (home site within ``scope``, else NotFound)."""
        pin = fields.pop("patron_pin", None)
        text = "" if pin is None else str(pin).strip()
        if text.lower() == "none":
            text = ""
        if text and not PIN_RE.fullmatch(text):
            raise ServiceError("a patron PIN must be 4-12 digits")
        digest = _hasher.hash(text) if text else None  # outside the transaction: Argon2 takes a while
        now = self.clock()
        with unit_of_work():
            m = members_mod.for_change(ref, scope, self.prog)
            if fields:
                m = self.members.set(m.id, actor=actor, scope=scope, **fields)
            if digest is None:
                PatronPin.delete().where(PatronPin.member == m.id).execute()
            else:
                PatronPin.insert(member=m.id, pin_hash=digest, set_at=now, set_by=actor[:64]).on_conflict(
                    conflict_target=[PatronPin.member],
                    update={PatronPin.pin_hash: digest, PatronPin.set_at: now, PatronPin.set_by: actor[:64]},
                ).execute()
            PatronGuard.delete().where(PatronGuard.key == f"member:{m.id}").execute()  # a new PIN lifts a lock
            self._end_sessions(m.id, now)
            self.ledger.audit(actor, "patron.pin", m.id, set=digest is not None)
        return Member.get_by_id(m.id)

    @staticmethod
    def has_pin(member_id: int) -> bool:
        """Whether staff set a counter PIN for the member."""
        return PatronPin.select().where(PatronPin.member == member_id).exists()

    # ------------------------------------------------------------------ lock-out

    def _source_wait(self, source: str | None, now: datetime) -> int | None:
        if not source:
            return None
        row = PatronGuard.get_or_none(PatronGuard.key == f"source:{source[:64]}")
        if row is None or row.failures < SOURCE_MAX_FAILURES or row.window_start <= now - SOURCE_WINDOW:
            return None
        return int((row.window_start + SOURCE_WINDOW - now).total_seconds()) + 1

    def _count_source(self, source: str | None, now: datetime) -> None:
        if not source:
            return
        key = f"source:{source[:64]}"
        stale = PatronGuard.window_start <= now - SOURCE_WINDOW
        with unit_of_work():
            PatronGuard.insert(key=key, failures=0, window_start=now).on_conflict_ignore().execute()
            PatronGuard.update(
                failures=pw.Case(None, [(stale, 1)], PatronGuard.failures + 1),
                window_start=pw.Case(None, [(stale, _stamp(now))], PatronGuard.window_start),
            ).where(PatronGuard.key == key).execute()

    def _reserve(self, member_id: int, now: datetime) -> tuple[int, datetime | None] | None:
        """Count one attempt at the member's PIN before it is checked; None when locked.

        One atomic UPDATE: the attempt that reaches MAX_FAILURES locks the member in the
        same statement. Returns (the count, the lock's end when this attempt locked).
        """
        key = f"member:{member_id}"
        with unit_of_work():
            PatronGuard.insert(key=key, failures=0, window_start=now).on_conflict_ignore().execute()
            row = PatronGuard.get_by_id(key)
            expired = PatronGuard.locked_until.is_null(False) & (PatronGuard.locked_until <= now)
            new_failures = pw.Case(None, [(expired, 1)], PatronGuard.failures + 1)
            locks = new_failures >= MAX_FAILURES
            until = now + lock_duration(row.lockouts)
            rows = list(
                PatronGuard.update(
                    failures=new_failures,
                    locked_until=pw.Case(None, [(locks, _stamp(until))], None),
                    lockouts=pw.Case(None, [(locks, PatronGuard.lockouts + 1)], PatronGuard.lockouts),
                )
                .where(
                    (PatronGuard.key == key)
                    & ((PatronGuard.locked_until.is_null() & (PatronGuard.failures < MAX_FAILURES)) | expired)
                )
                .returning(PatronGuard.failures, PatronGuard.locked_until)
                .execute()
            )
        if not rows:
            return None
        return rows[0].failures, rows[0].locked_until

    def _unreserve(self, member_id: int) -> None:
        """Give back an attempt that was never checked (the ILS did not answer)."""
        with unit_of_work():
            PatronGuard.update(
                failures=pw.Case(None, [(PatronGuard.failures > 0, PatronGuard.failures - 1)], 0),
                locked_until=None,
            ).where((PatronGuard.key == f"member:{member_id}") & (PatronGuard.failures < MAX_FAILURES)).execute()

    def locked_until(self, ref) -> datetime | None:
        """When the member a card number names may try again (None: not locked)."""
        m = self.find(ref)
        if m is None:
            return None
        row = PatronGuard.get_or_none(PatronGuard.key == f"member:{m.id}")
        now = self.clock()
        return row.locked_until if row is not None and row.locked_until and row.locked_until > now else None

    def _check_local(self, member_id: int, pin: str) -> bool:
        row = PatronPin.get_or_none(PatronPin.member == member_id)
        stored = row.pin_hash if row is not None else _DUMMY
        try:
            ok = _hasher.verify(stored, pin)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return ok and row is not None

    def _pooled(self, fn, *args):
        if not _pool.acquire(timeout=HASH_WAIT):
            raise SignInThrottled("busy", 2)
        try:
            return fn(*args)
        finally:
            _pool.release()

    # ------------------------------------------------------------------ sign-in

    def sign_in(self, ref, pin, *, source: str | None = None) -> tuple[Member, str]:
        """Check a card number and PIN from ``source`` (the client's address): ``(member, method)``.

        Raises :class:`SignInThrottled` (429), :class:`SignInRefused` (``bad``/``locked``),
        :class:`IlsUnavailable` when the ILS should check the PIN and does not answer (the
        attempt is not counted).
        """
        now = self.clock()
        wait = self._source_wait(source, now)
        if wait is not None:
            raise SignInThrottled("source", wait)
        pin = str(pin or "")
        with read_unit():
            m = self.find(ref)
        if m is None or not pin or len(pin) > 64:
            self._pooled(self._check_local, 0, pin[:64] or "0")  # as slow as a real check
            self._count_source(source, now)
            with unit_of_work():
                self.ledger.audit(
                    f"patron:{source or '-'}", "patron.signin_failed", None, method="unknown", card=clean_ref(ref)[:64]
                )
            raise SignInRefused("bad")
        method = self.method_for(m)
        reserved = self._reserve(m.id, now)
        if reserved is None:  # locked: not checked
            self._count_source(source, now)
            row = PatronGuard.get_or_none(PatronGuard.key == f"member:{m.id}")
            with unit_of_work():
                self.ledger.audit(f"patron:{m.id}", "patron.signin_refused", m.id, method=method, locked=True)
            raise SignInRefused("locked", row.locked_until if row else None)
        if method == "ils":
            try:
                ok = self.ils.check_pin(m, pin, actor=f"patron:{m.id}")
            except IlsUnavailable:
                self._unreserve(m.id)
                raise
        else:
            ok = self._pooled(self._check_local, m.id, pin)
        if not ok:
            count, until = reserved
            self._count_source(source, now)
            with unit_of_work():
                self.ledger.audit(
                    f"patron:{m.id}",
                    "patron.signin_failed",
                    m.id,
                    method=method,
                    failures=count,
                    locked=until is not None,
                    source=(source or "")[:64],
                )
            if until is not None:
                log.warning("patron sign-in for member %s locked until %s after %s failures", m.id, until, count)
                raise SignInRefused("locked", until)
            raise SignInRefused("bad")
        self._signed_in(m, method, source, now)
        return m, method

    def _signed_in(self, m: Member, method: str, source: str | None, now: datetime) -> None:
        with unit_of_work():
            PatronGuard.update(failures=0, locked_until=None, lockouts=0).where(
                PatronGuard.key == f"member:{m.id}"
            ).execute()
            self.ledger.audit(f"patron:{m.id}", "patron.signin", m.id, method=method, source=(source or "")[:64])

    # ------------------------------------------------------------------ one-time links

    def link_url(self, token: str) -> str:
        """The address a link token is opened at: the ``[mail] public_url`` (never the request's Host)."""
        base = self.messages.config.public_url if self.messages is not None else "http://127.0.0.1:8080"
        return f"{base.rstrip('/')}/me/link/{token}"

    def request_link(self, ref, *, source: str | None = None) -> bool:
        """E-mail a one-time sign-in link to the member a card number names; True when one was queued.

        The caller shows the same answer either way (no telling which cards have an
        address). A card number that names nobody counts as a failure of ``source``;
        at most :data:`LINKS_PER_WINDOW` links per member per :data:`SOURCE_WINDOW`.
        """
        now = self.clock()
        wait = self._source_wait(source, now)
        if wait is not None:
            raise SignInThrottled("source", wait)
        with read_unit():
            m = self.find(ref)
        if m is None:
            self._count_source(source, now)
            return False
        if not m.email or self.messages is None:
            return False
        token = secrets.token_urlsafe(32)
        with unit_of_work():
            recent = (
                PatronLink.select()
                .where((PatronLink.member == m.id) & (PatronLink.created_at > now - SOURCE_WINDOW))
                .count()
            )
            if recent >= LINKS_PER_WINDOW:
                self.ledger.audit(f"patron:{source or '-'}", "patron.link_refused", m.id, reason="too many links")
                return False
            PatronLink.create(
                digest=_digest(token), member=m.id, created_at=now, expires_at=now + timedelta(minutes=LINK_MINUTES)
            )
            self.messages.queue(
                m, "signin_link", {"link": self.link_url(token), "minutes": LINK_MINUTES}, actor=f"patron:{m.id}"
            )
            self.ledger.audit(f"patron:{source or '-'}", "patron.link_sent", m.id, source=(source or "")[:64])
        return True

    def redeem_link(self, token, *, source: str | None = None) -> Member:
        """Use a one-time link (once, before it expires): the member it was sent to; SignInRefused otherwise."""
        now = self.clock()
        wait = self._source_wait(source, now)
        if wait is not None:
            raise SignInThrottled("source", wait)
        text = str(token or "")
        if not 20 <= len(text) <= 100:
            self._count_source(source, now)
            raise SignInRefused("link")
        key = _digest(text)
        with unit_of_work():
            used = (
                PatronLink.update(used_at=now)
                .where((PatronLink.digest == key) & PatronLink.used_at.is_null() & (PatronLink.expires_at > now))
                .execute()
            )
            row = PatronLink.get_or_none(PatronLink.digest == key) if used == 1 else None
        if row is None:
            self._count_source(source, now)
            raise SignInRefused("link")
        m = Member.get_by_id(row.member_id)
        self._signed_in(m, "link", source, now)
        return m

    # ------------------------------------------------------------------ sessions

    def start_session(self, member_id: int, method: str) -> tuple[str, Session]:
        """A new session for the member; (the id for the cookie, the session). Old rows are swept."""
        now = self.clock()
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with unit_of_work():
            PatronSession.delete().where(
                PatronSession.ended_at.is_null(False)
                | (PatronSession.last_seen < now - IDLE)
                | (PatronSession.created_at < now - LIFETIME)
            ).execute()
            PatronLink.delete().where(PatronLink.expires_at < now - timedelta(days=1)).execute()
            PatronSession.create(
                key=_digest(sid), member=member_id, csrf=csrf, method=method, created_at=now, last_seen=now
            )
        return sid, Session(member_id, csrf, method)

    def session(self, sid) -> Session | None:
        """The live session a cookie's id names, or None (unknown, signed out, idle or too old)."""
        if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
            return None
        now = self.clock()
        key = _digest(sid)
        row = PatronSession.get_or_none(PatronSession.key == key)
        if (
            row is None
            or not hmac.compare_digest(row.key, key)
            or row.ended_at is not None
            or row.last_seen <= now - IDLE
            or row.created_at <= now - LIFETIME
        ):
            return None
        if row.last_seen <= now - SEEN_EVERY:
            try:
                PatronSession.update(last_seen=now).where(PatronSession.key == key).execute()
            except pw.OperationalError as exc:  # SQLite busy: the next request records it
                log.warning("could not record patron session activity: %s", exc)
        return Session(row.member_id, row.csrf, row.method)

    def end_session(self, sid) -> None:
        """Sign-out: the session ends for every copy of its cookie."""
        if isinstance(sid, str) and 20 <= len(sid) <= 100:
            with unit_of_work():
                PatronSession.update(ended_at=self.clock()).where(
                    (PatronSession.key == _digest(sid)) & PatronSession.ended_at.is_null()
                ).execute()

    @staticmethod
    def _end_sessions(member_id: int, now: datetime) -> None:
        PatronSession.update(ended_at=now).where(
            (PatronSession.member == member_id) & PatronSession.ended_at.is_null()
        ).execute()

    # ------------------------------------------------------------------ what the page shows

    def overview(self, member_id: int) -> dict:
        """The signed-in member's page: balance, privilege level and the next, points this term, promotions, rank."""
        with read_unit():
            m = Member.get_by_id(member_id)
            day = self.ledger.today()
            level = tiers.privilege_level(self.prog, m, day)
            label, start, end = rules.term_period(m.group, day, self.prog)
            earned = (
                level["points"] if level["basis"] != "balance" else tiers.earned_in_term(self.prog, m.id, m.group, day)
            )
            history = self.history(member_id, limit=5)
        return {
            "member": m,
            "balance": m.balance,
            "tier": m.tier,
            "level": level,
            "privileges": level["privileges"],
            "next": level["privileges"].get("next"),
            "earned": earned,
            "term": {"label": label, "start": start, "end": end},
            "promotions": self.promotions(m),
            "rank": self.rank(m),
            "recent": history,
            "expired": bool(m.valid_until and day > m.valid_until),
        }

    def promotions(self, m: Member) -> list[dict]:
        """Campaigns running now that apply to this member's group and tier."""
        if self.campaigns is None:
            return []
        out = []
        for c in self.campaigns.list():
            if c["state"] != "running":
                continue
            if c["groups"] and m.group not in c["groups"]:
                continue
            if c["tiers"] and m.tier not in c["tiers"]:
                continue
            out.append(c)
        return out

    def rank(self, m: Member) -> dict | None:
        """The member's place by points earned this term, when they agreed to appear in rankings."""
        if self.draws is None or not getattr(m, "consent_ranking", False):
            return None
        term = self.draws.current_term()
        with read_unit():
            scores = self.draws.scores(term)
            active = {r.id for r in Member.select(Member.id).where(Member.status == "active")}
        mine = scores.get(m.id, 0)
        ranked = [s for mid, s in scores.items() if mid in active and s > 0]
        if mine <= 0:
            return {"term": term, "place": None, "of": len(ranked), "points": 0}
        return {"term": term, "place": 1 + sum(1 for s in ranked if s > mine), "of": len(ranked), "points": mine}

    def history(self, member_id: int, limit: int = HISTORY_LIMIT) -> list[dict]:
        """The member's latest entries (at most :data:`HISTORY_LIMIT`), newest first, voided ones marked."""
        rows = self.ledger.history(member_id, limit=max(1, min(int(limit), HISTORY_LIMIT)))
        for r in rows:
            r["at_dt"] = datetime.fromisoformat(r["at"]) if r.get("at") else None
        return rows

    def ils_status(self, member_id: int) -> dict | None:
        """Fines and standing in the ILS: None (no ILS or no patron id), ``{"state": "ok", ...}`` or ``{"state": "unreachable"}``."""
        m = Member.get_by_id(member_id)
        if self.ils is None or not self.ils.configured or not m.patron_id:
            return None
        started = time.monotonic()
        try:
            info = self.ils.patron(m.id, actor=f"patron:{m.id}")
        except IlsUnavailable:
            return {"state": "unreachable"}
        except ServiceError as exc:
            log.warning("patron page: ILS look-up of member %s refused: %s", m.id, exc)
            return {"state": "unreachable"}
        log.debug("patron page: ILS answered in %.0f ms", (time.monotonic() - started) * 1000)
        return {"state": "ok", **info, "points_to_clear": self.ils.points_to_clear(info["fines_baht"])}

    def preferences(self, member_id: int) -> dict:
        """The member's contact data and consent (empty without the outbox)."""
        m = Member.get_by_id(member_id)
        return self.messages.preferences(m) if self.messages is not None else {}

    def set_preferences(self, member_id: int, fields: dict) -> Member:
        """The patron changes their own contact data and consent (through the outbox's one method)."""
        if self.messages is None:
            raise ServiceError("messages are not set up on this server")
        return self.messages.set_preferences(Member.get_by_id(member_id), actor=f"patron:{member_id}", **fields)
