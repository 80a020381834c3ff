"""Messages that reach patrons: the durable outbox, consent, triggers, segments, unsubscribe.

The outbox is a table (``message_out``). Queuing a message is one INSERT in the caller's
transaction (a welcome is queued with the member it greets, or not at all); a segment
message to 50,000 members is one ``INSERT … SELECT``. The running server's sender
(:meth:`Messages.send_due`, a thread in :mod:`server.app`, never on the tap path):

1. **claims** a few due rows by one conditional UPDATE (``claimed_by``, ``lease_until``,
   ``attempts + 1``): no other sender takes them until the lease ends;
2. sends each through its channel (:mod:`server.messages.channels`), at most
   ``rate_per_second``, each with a Message-ID made from its row id (the same on every try);
3. **marks** it ``sent`` right after the SMTP server accepted it; a temporary failure
   (4xx, connection refused or dropped) puts it back with exponential back-off, and after
   ``max_attempts`` tries marks it ``failed`` (:data:`GAVE_UP_REASON`); a permanent one
   (5xx, refused address) marks it ``failed`` with the reason; so does a bug raised
   while it is made or sent (:data:`BUG_REASON`): that message fails alone,
   the rest of the round goes on. A database error is not a bug of the message
   (:func:`server.services.retry.is_infrastructure`): it ends the round, its rows go
   again when their lease ends.

The guarantee, honestly: a message is never lost (it stays ``queued`` until marked) and
is sent at most once *except* when the process dies between the SMTP server's "250
accepted" and the mark: then, after the lease, it is sent again with the **same
Message-ID** (SMTP has no idempotency; the Message-ID lets mail systems and readers see
the duplicate). That window is one message per sender, a few milliseconds wide.

Consent: *transactional* messages (a sign-in link, an answer to feedback) need only an
address; *notices* (welcome, level, term ending, forfeit, prize) stop when the member
turns notices off; *marketing* (segment messages) needs ``consent_marketing``; the
*monthly statement* needs ``consent_statement``. A member skipped by :meth:`Messages.queue`
is counted (``Messages.skipped``; ``queue`` returns None) and nothing is written; a segment
message stores a ``skipped`` row with the reason for each member left out, shown in its
delivery log; a member who unsubscribes after a message was queued is skipped when it
would be sent (the row becomes ``skipped``, ``opted_out``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from email.utils import parseaddr

import peewee as pw

from server import store
from server.domain import rules
from server.messages import templates
from server.messages.channels import Channel, ConnectionLost, EmailChannel, Outgoing, PermanentFailure, TemporaryFailure
from server.messages.config import MailConfig
from server.messages.templates import TemplateError
from server.services import members as members_mod
from server.services.errors import NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.members import CONTACT_FIELDS, clean_flag, clean_language, contact_changes
from server.services.retry import is_infrastructure, read_unit, unit_of_work
from server.services.sites import EVERYTHING, Scope
from server.store import BaseModel, JSONField, LedgerEntry, Member, Setting, UTCDateTimeField

log = logging.getLogger(__name__)

STATUSES = ("queued", "sent", "failed", "skipped")
#: which member column each kind of message needs (None: only an address)
CONSENT = {
    "transactional": None,
    "notice": "consent_notices",
    "marketing": "consent_marketing",
    "statement": "consent_statement",
}
#: a failed message's reason when building or sending it raised a bug is ``bug: <ErrorType>: <text>``: a code
#: labelled in the staff's language (:func:`reason_label`), the error's type and text left as is
BUG_REASON = "bug"
#: a failed message's reason when its temporary failures used up ``max_attempts`` is ``gave_up: <tries>: <last
#: error>``: a code labelled in the staff's language the same way ("gave up after N tries"), the error left as is
GAVE_UP_REASON = "gave_up"
SEGMENT_KEYS = ("group", "tier", "term", "active_days", "lapsed", "status")


def reason_label(reason: str | None, status: str) -> tuple[str | None, dict, str | None]:
    """A message's stored ``reason`` as people read it: a catalogue template, its values, and the detail
    shown beside it as is (the mail server's reply, the error's text); (None, {}, reason) for a reason
    that is its own text. The console shows it in the staff's language, ``privcard admin message`` in English.
    """
    if not reason:
        return None, {}, None
    if reason == "opted_out":
        return "opted out", {}, None
    if reason == "no_address":
        return "no address", {}, None
    if reason.startswith(BUG_REASON + ": "):
        return "program error: this message could not be made or sent", {}, reason[len(BUG_REASON) + 2 :]
    if reason.startswith(GAVE_UP_REASON + ": "):
        tries, _, last = reason[len(GAVE_UP_REASON) + 2 :].partition(": ")
        if tries == "1":
            return "gave up after its only try", {}, last
        return "gave up after %(n)s tries", {"n": tries}, last
    if status == "failed" and reason[:1] == "5" and reason[:3].isdigit():
        return "the mail server refused it", {}, reason
    return None, {}, reason


SECRET_KEY = "messages_secret"
#: the level job reads at most this many ledger entries a round
LEVEL_SCAN = 20000
#: a hole in the ledger ids older than this (seconds) is a rolled-back insert, not one still to commit
LEVEL_HOLE_S = 600


class MessageBatch(BaseModel):
    """A staff message to a segment: the text in both languages and the segment it went to."""

    subject_th = pw.CharField(max_length=250)
    subject_en = pw.CharField(max_length=250)
    body_th = pw.TextField()
    body_en = pw.TextField()
    segment = JSONField(default=dict)
    total = pw.IntegerField(default=0)
    actor = pw.CharField(max_length=64)
    created_at = UTCDateTimeField(default=store.utcnow)

    class Meta:
        table_name = "message_batch"


class OutMessage(BaseModel):
    """One message in the outbox (``queued`` → ``sent`` | ``failed``; or ``skipped`` with a reason)."""

    member = pw.IntegerField(null=True, index=True)
    address = pw.CharField(max_length=254, null=True)
    language = pw.CharField(max_length=2, default="th")
    channel = pw.CharField(max_length=16, default="email")
    template = pw.CharField(max_length=40)
    kind = pw.CharField(max_length=16)
    batch = pw.IntegerField(null=True, index=True)
    subject = pw.CharField(max_length=250, null=True)  # rendered at queue time; a batch's at send time
    body = pw.TextField(null=True)
    dedupe_key = pw.CharField(max_length=120, null=True, unique=True)
    status = pw.CharField(max_length=8, default="queued")
    reason = pw.CharField(max_length=300, null=True)  # why skipped or failed, the last temporary error
    attempts = pw.IntegerField(default=0)
    next_try_at = UTCDateTimeField(null=True)
    lease_until = UTCDateTimeField(null=True)
    claimed_by = pw.CharField(max_length=32, null=True)
    message_id = pw.CharField(max_length=200, null=True)
    actor = pw.CharField(max_length=64, default="system")
    created_at = UTCDateTimeField(default=store.utcnow)
    sent_at = UTCDateTimeField(null=True)
    failed_at = UTCDateTimeField(null=True)  # when marked failed (NULL: not failed, or failed before it was recorded)

    class Meta:
        table_name = "message_out"
        indexes = ((("status", "channel", "id"), False),)


def _messages_m1(migrator) -> None:
    """Members' contact and consent columns; the outbox and segment messages."""
    from playhouse.migrate import migrate

    have = {c.name for c in store.db.get_columns("member")}
    steps = [
        migrator.add_column("member", name, field)
        for name, field in (
            ("phone", pw.CharField(max_length=32, null=True)),
            ("language", pw.CharField(max_length=2, default="th")),
            ("consent_marketing", pw.BooleanField(default=False)),
            ("consent_notices", pw.BooleanField(default=True)),
            ("consent_statement", pw.BooleanField(default=False)),
            ("consent_ranking", pw.BooleanField(default=True)),
        )
        if name not in have
    ]
    if steps:
        migrate(*steps)
    store.db.create_tables([Setting, MessageBatch, OutMessage], safe=True)  # Setting: the signing key
    # the level job starts from now: members are told of levels reached from here on
    top = LedgerEntry.select(pw.fn.MAX(LedgerEntry.id)).scalar() or 0
    store.Counter.insert(key="messages:level_entry", value=top).on_conflict_ignore().execute()


store.register_migration("messages", [_messages_m1])


def _tier_mail_m1(migrator) -> None:
    """The tier job starts from now: members are told of promotions from here on (not of past ones)."""
    top = LedgerEntry.select(pw.fn.MAX(LedgerEntry.id)).scalar() or 0
    store.Counter.insert(key="messages:tier_entry", value=top).on_conflict_ignore().execute()


# the tier mail's watermark: its own namespace, so merges with other branches' migrations don't clash
store.register_migration("leftovers6", [_tier_mail_m1])
#: a tier entry this close after the member's sign-up entry (and right after it) was given at
#: enrolment, in the same transaction: the member joined at that tier, it is not a promotion
TIER_AT_ENROLMENT = timedelta(seconds=1)


def _failed_at_m1(migrator) -> None:
    """When a message was marked failed (``message_out.failed_at``, nullable); old give-up reasons become the code.

    A plain ``ADD COLUMN`` on both databases (the table is not rebuilt): a message failed before
    keeps NULL (the console shows a dash, the CLI ``-``). A reason stored in English by earlier
    versions, ``gave up after N tries: <error>``, becomes :data:`GAVE_UP_REASON`'s code, labelled in
    the staff's language like the new ones; its count is the row's own ``attempts`` (those versions
    said one try more than they made).
    """
    if "message_out" not in set(store.db.get_tables()):
        return
    if "failed_at" not in {c.name for c in store.db.get_columns("message_out")}:
        from playhouse.migrate import migrate

        migrate(migrator.add_column("message_out", "failed_at", UTCDateTimeField(null=True)))
    old = (
        OutMessage.select(OutMessage.id, OutMessage.attempts, OutMessage.reason)
        .where((OutMessage.status == "failed") & OutMessage.reason.startswith("gave up after "))
        .tuples()
    )
    for row_id, attempts, reason in list(old):
        head, sep, error = reason.partition(" tries: ")
        if sep and head[len("gave up after ") :].isdigit():
            code = f"{GAVE_UP_REASON}: {attempts}: {error}"[:300]
            OutMessage.update(reason=code).where(OutMessage.id == row_id).execute()


# when a message failed: its own namespace (branch h22msg), so merges with other branches' migrations don't clash
store.register_migration("h22msg1", [_failed_at_m1])


class Messages:
    """The outbox: queue, segments, send, unsubscribe, preferences, the trigger jobs."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, config: MailConfig | None = None):
        self.ledger = ledger
        self.clock = ledger.clock
        self.config = config or MailConfig()
        self.channels: dict[str, Channel] = {"email": EmailChannel(self.config)}
        self._secret: bytes | None = None
        self._last_send = 0.0
        self._send_lock = threading.Lock()
        self.skipped = {"opted_out": 0, "no_address": 0}

    @property
    def configured(self) -> bool:
        """Whether this process can send (an SMTP server is configured)."""
        return self.config.configured

    # ------------------------------------------------------------------ secret and links

    def secret(self) -> bytes:
        """The server's signing key for unsubscribe links (made once, kept in the database)."""
        if self._secret is None:
            row = Setting.get_or_none(Setting.key == SECRET_KEY)
            if row is None:
                with unit_of_work():
                    Setting.insert(key=SECRET_KEY, value=secrets.token_hex(32)).on_conflict_ignore().execute()
                row = Setting.get(Setting.key == SECRET_KEY)
            self._secret = bytes.fromhex(row.value)
        return self._secret

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret(), text.encode(), hashlib.sha256).hexdigest()[:32]

    def unsubscribe_token(self, member_id: int, kind: str) -> str:
        """A token that turns off ``kind`` of messages for a member (``all`` for transactional ones)."""
        payload = f"{int(member_id)}.{kind}"
        raw = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{raw}.{self._sign(payload)}"

    def unsubscribe_url(self, member_id: int, kind: str) -> str:
        return f"{self.config.public_url}/u/{self.unsubscribe_token(member_id, kind)}"

    def message_id(self, row_id: int) -> str:
        """The row's Message-ID: the same on every try (a duplicate after a crash is recognisable)."""
        domain = parseaddr(self.config.sender)[1].rpartition("@")[2] or "privcard.invalid"
        return f"<privcard.{row_id}.{self._sign(f'mid:{row_id}')[:12]}@{domain}>"

    def read_token(self, token: str) -> tuple[Member, str]:
        """The member and kind an unsubscribe token names (NotFound if forged or unknown)."""
        raw, _, sig = str(token or "").partition(".")
        try:
            payload = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            member_id, kind = payload.split(".", 1)
            ok = hmac.compare_digest(sig, self._sign(payload)) and (kind in CONSENT or kind == "all")
        except (ValueError, UnicodeDecodeError):
            ok = False
        m = Member.get_or_none(Member.id == int(member_id)) if ok and member_id.isdigit() else None
        if m is None:
            raise NotFound("this unsubscribe link is not valid")
        return m, kind

    def unsubscribe(self, token: str) -> dict:
        """Turn off the kind of messages the token names (``all``: every optional kind); idempotent."""
        m, kind = self.read_token(token)
        columns = [c for c in CONSENT.values() if c] if kind == "all" else [CONSENT[kind]]
        columns = [c for c in columns if c]
        with unit_of_work():
            if columns:
                Member.update(**dict.fromkeys(columns, False), updated_at=self.clock()).where(
                    Member.id == m.id
                ).execute()
            self.ledger.audit("patron:unsubscribe", "messages.unsubscribe", m.id, kind=kind)
        return {"member": m.id, "kind": kind, "language": m.language or "th", "off": columns}

    # ------------------------------------------------------------------ preferences

    def set_preferences(self, member, *, actor: str = "system", scope: Scope = EVERYTHING, **fields) -> Member:
        """Change a member's contact data and consent (``CONTACT_FIELDS``); for staff and the patron page.

        Staff only within ``scope``: a member whose home site is outside it is NotFound (their
        contact data is site-only, ``docs/sites.md``).
        """
        changes = contact_changes(fields)
        with unit_of_work():
            m = member if isinstance(member, Member) else members_mod.find(member)
            if not scope.covers(m.home_site, self.prog):
                raise NotFound("no member %(ref)s", ref=m.id)
            if changes:
                changes["updated_at"] = self.clock()
                Member.update(**changes).where(Member.id == m.id).execute()
            self.ledger.audit(actor, "member.contact", m.id, **{k: str(v) for k, v in fields.items()})
        return Member.get_by_id(m.id)

    @staticmethod
    def preferences(member: Member) -> dict:
        return {k: getattr(member, k) for k in CONTACT_FIELDS}

    # ------------------------------------------------------------------ queue

    def _skip_reason(self, m: Member, kind: str, channel: str) -> str | None:
        if channel == "email" and not m.email:
            return "no_address"
        column = CONSENT[kind]
        if column and not getattr(m, column):
            return "opted_out"
        return None

    def queue(
        self,
        member,
        template: str,
        values: dict | None = None,
        *,
        channel: str = "email",
        actor: str = "system",
        dedupe_key: str | None = None,
    ) -> OutMessage | None:
        """Queue one message to a member (in the caller's transaction if any); None when skipped or already queued.

        ``values`` fill the template's placeholders; ``name``, ``member_id`` and ``balance``
        come from the member when not given. An unknown or missing placeholder is refused
        (a ServiceError) and nothing is queued. ``dedupe_key`` (``welcome:<id>``) makes a
        trigger queue at most once, ever.
        """
        if channel not in self.channels:
            raise ServiceError("no message channel %(channel)s", channel=channel)
        try:
            t = templates.get(template)
        except TemplateError as exc:
            raise ServiceError.of(exc) from None
        m = member if isinstance(member, Member) else members_mod.find(member)
        given = dict(values or {})
        auto = {"name": m.name, "member_id": m.id, "balance": m.balance}
        for k in t.fields:
            if k not in given and k in auto:
                given[k] = auto[k]
        lang = m.language if m.language in templates.LANGUAGES else "th"
        try:
            subject, body = templates.render(template, lang, given)
        except TemplateError as exc:
            raise ServiceError.of(exc) from None
        reason = self._skip_reason(m, t.kind, channel)
        if reason:  # counted, not stored: a trigger for someone who cannot or will not receive it costs no write
            self.skipped[reason] += 1
            return None
        return self._insert(
            member=m.id,
            address=m.email,
            language=lang,
            channel=channel,
            template=template,
            kind=t.kind,
            subject=subject,
            body=body,
            dedupe_key=dedupe_key,
            actor=actor,
            skip=reason,
        )

    def queue_address(
        self,
        address: str,
        language: str,
        template: str,
        values: dict | None = None,
        *,
        actor: str = "system",
        dedupe_key: str | None = None,
        member_id: int | None = None,
    ) -> OutMessage | None:
        """Queue a transactional message to an address (a sign-in link): no consent check, no unsubscribe.

        Only ``transactional`` templates may be sent this way. ``member_id`` (optional)
        records whom it was for in the delivery log.
        """
        try:
            t = templates.get(template)
            if t.kind != "transactional":
                raise ServiceError("only a transactional message can go to a bare address, not %(name)s", name=template)
            lang = clean_language(language)
            subject, body = templates.render(template, lang, dict(values or {}))
        except TemplateError as exc:
            raise ServiceError.of(exc) from None
        address = members_mod.clean_email(address)
        if not address:
            raise ServiceError("e-mail must be an address like name@example.org of at most 254 characters")
        return self._insert(
            member=member_id,
            address=address,
            language=lang,
            channel="email",
            template=template,
            kind="bare",
            subject=subject,
            body=body,
            dedupe_key=dedupe_key,
            actor=actor,
            skip=None,
        )

    def _insert(self, *, skip: str | None, dedupe_key: str | None, **row) -> OutMessage | None:
        now = self.clock()
        with unit_of_work():  # a savepoint inside the caller's transaction
            if dedupe_key and OutMessage.select().where(OutMessage.dedupe_key == dedupe_key).exists():
                return None
            try:
                with store.db.atomic():
                    msg = OutMessage.create(
                        **row,
                        dedupe_key=dedupe_key,
                        status="skipped" if skip else "queued",
                        reason=skip,
                        created_at=now,
                    )
            except pw.IntegrityError:  # another process queued the same trigger meanwhile
                return None
        if skip:
            self.skipped[skip] += 1
            return None
        return msg

    # ------------------------------------------------------------------ segments

    def _segment_query(self, segment: dict):
        unknown = set(segment) - set(SEGMENT_KEYS)
        if unknown:
            raise ServiceError(
                "unknown segment key(s) %(keys)s; known: %(known)s",
                keys=", ".join(sorted(unknown)),
                known=", ".join(SEGMENT_KEYS),
            )
        q = Member.select(Member.id)
        status = segment.get("status") or "active"
        if status not in ("active", "blocked", "any"):
            raise ServiceError("segment status must be active, blocked or any")
        if status != "any":
            q = q.where(Member.status == status)
        if segment.get("group"):
            # one of the programme's groups (a library's own included): a typo would reach nobody, silently
            members_mod.check_group(str(segment["group"]), self.prog)
            q = q.where(Member.group == str(segment["group"]))
        if segment.get("tier"):
            if segment["tier"] not in self.prog.tiers:
                raise ServiceError(
                    "tier must be one of %(tiers)s, got %(tier)r",
                    tiers=", ".join(self.prog.tiers),
                    tier=segment["tier"],
                )
            q = q.where(Member.tier == segment["tier"])
        if segment.get("term"):
            from server.services.draws import Draws

            start, end = Draws(self.ledger).term_bounds(str(segment["term"]))
            q = q.where(Member.term_start.between(start, end))
        if segment.get("active_days") not in (None, ""):
            try:
                days = int(segment["active_days"])
            except (TypeError, ValueError):
                days = -1
            if not 1 <= days <= 3660:
                raise ServiceError("active_days must be 1-3660")
            since = self.ledger.today() - timedelta(days=days)
            q = q.where(
                Member.id.in_(
                    LedgerEntry.select(LedgerEntry.member).where((LedgerEntry.day >= since) & (LedgerEntry.points > 0))
                )
            )
        if segment.get("lapsed") not in (None, "", False):
            lapsed = clean_flag("lapsed", segment["lapsed"])
            q = q.where(Member.lapsed_on.is_null(not lapsed))
        return q

    def preview(self, segment: dict) -> dict:
        """How many members a segment reaches: ``{"members", "recipients", "opted_out", "no_address"}``."""
        base = self._segment_query(segment)
        with read_unit():
            rows = (
                Member.select(
                    pw.fn.COUNT(Member.id).alias("n"),
                    pw.fn.SUM(pw.Case(None, [((Member.email.is_null()) | (Member.email == ""), 1)], 0)).alias("noaddr"),
                    pw.fn.SUM(
                        pw.Case(
                            None,
                            [(((Member.email.is_null()) | (Member.email == "")), 0), (Member.consent_marketing, 0)],
                            1,
                        )
                    ).alias("out"),
                )
                .where(Member.id.in_(base))
                .dicts()
                .get()
            )
        total, noaddr, out = rows["n"] or 0, rows["noaddr"] or 0, rows["out"] or 0
        return {"members": total, "recipients": total - noaddr - out, "opted_out": out, "no_address": noaddr}

    def send_segment(self, subject: dict, body: dict, segment: dict, *, actor: str) -> dict:
        """Queue a staff message to every member of a segment (one INSERT … SELECT); skipped ones counted.

        ``subject``/``body``: ``{"th": …, "en": …}`` with placeholders from
        :data:`server.messages.templates.SEGMENT_FIELDS`; refused whole (nothing queued) if
        one is unknown or a text is missing.
        """
        texts = {}
        for part, given, limit in (("subject", subject, 250), ("body", body, 20000)):
            for lang in templates.LANGUAGES:
                text = str((given or {}).get(lang) or "").strip()
                if not text and part == "subject":
                    raise ServiceError("the message needs a subject in Thai and English")
                if not text:
                    raise ServiceError("the message needs a text in Thai and English")
                if len(text) > limit:
                    raise ServiceError("a subject or text is too long (at most %(limit)s characters)", limit=limit)
                if part == "subject" and any(c in text for c in "\r\n"):
                    raise ServiceError("a subject is one line")
                try:
                    templates.check_text(text, templates.SEGMENT_FIELDS)
                except TemplateError as exc:
                    raise ServiceError.of(exc) from None
                texts[f"{part}_{lang}"] = text
        base = self._segment_query(segment)
        now = self.clock()
        no_addr = (Member.email.is_null()) | (Member.email == "")
        with unit_of_work():
            batch = MessageBatch.create(**texts, segment=dict(segment), actor=actor, created_at=now)
            select = Member.select(
                Member.id,
                Member.email,
                pw.Case(None, [(Member.language == "en", "en")], "th"),
                pw.Value("email"),
                pw.Value("segment"),
                pw.Value("marketing"),
                pw.Value(batch.id),
                pw.Case(None, [(no_addr, "skipped"), (~Member.consent_marketing, "skipped")], "queued"),
                pw.Case(None, [(no_addr, "no_address"), (~Member.consent_marketing, "opted_out")], None),
                pw.Value(actor),
                pw.Value(0),
                pw.Value(OutMessage.created_at.db_value(now)),
            ).where(Member.id.in_(base))
            total = OutMessage.insert_from(
                select,
                [
                    OutMessage.member,
                    OutMessage.address,
                    OutMessage.language,
                    OutMessage.channel,
                    OutMessage.template,
                    OutMessage.kind,
                    OutMessage.batch,
                    OutMessage.status,
                    OutMessage.reason,
                    OutMessage.actor,
                    OutMessage.attempts,
                    OutMessage.created_at,
                ],
            ).execute()
            counts = self._batch_counts(batch.id)
            total = sum(counts.values())
            MessageBatch.update(total=total).where(MessageBatch.id == batch.id).execute()
            self.ledger.audit(actor, "messages.segment", batch.id, segment=segment, counts=counts)
        return {"batch": batch.id, "total": total, "counts": counts}

    @staticmethod
    def _batch_counts(batch_id: int) -> dict:
        counts = dict.fromkeys(("queued", "sent", "failed", "opted_out", "no_address"), 0)
        q = (
            OutMessage.select(OutMessage.status, OutMessage.reason, pw.fn.COUNT(OutMessage.id).alias("n"))
            .where(OutMessage.batch == batch_id)
            .group_by(OutMessage.status, OutMessage.reason)
            .tuples()
        )
        for status, reason, n in q:
            key = reason if status == "skipped" else status
            counts[key] = counts.get(key, 0) + n
        return counts

    # ------------------------------------------------------------------ sending

    def _due(self, now, channel: str):
        return (
            (OutMessage.status == "queued")
            & (OutMessage.channel == channel)
            & (OutMessage.next_try_at.is_null() | (OutMessage.next_try_at <= now))
            & (OutMessage.lease_until.is_null() | (OutMessage.lease_until < now))
        )

    def claim(self, channel: str = "email", limit: int = 20) -> tuple[str, list[OutMessage]]:
        """Lease up to ``limit`` due messages to this sender (one conditional UPDATE); ``(token, rows)``."""
        now = self.clock()
        token = secrets.token_hex(8)
        with unit_of_work():
            ids = [
                r.id
                for r in OutMessage.select(OutMessage.id)
                .where(self._due(now, channel))
                .order_by(OutMessage.id)
                .limit(limit)
            ]
            if not ids:
                return token, []
            OutMessage.update(
                claimed_by=token,
                lease_until=now + timedelta(seconds=self.config.lease_s),
                attempts=OutMessage.attempts + 1,
            ).where(OutMessage.id.in_(ids) & self._due(now, channel)).execute()
        return token, list(OutMessage.select().where(OutMessage.claimed_by == token).order_by(OutMessage.id))

    def _finish(self, row: OutMessage, token: str, **changes) -> None:
        """Release ``row``'s lease with ``changes``; a row marked failed gets its ``failed_at``."""
        if changes.get("status") == "failed":
            changes.setdefault("failed_at", self.clock())
        with unit_of_work():
            OutMessage.update(claimed_by=None, lease_until=None, **changes).where(
                (OutMessage.id == row.id) & (OutMessage.claimed_by == token)
            ).execute()

    def _outgoing(self, row: OutMessage, member: Member | None, batch: MessageBatch | None) -> Outgoing | str:
        """The message to send, or the reason it is skipped now (the member opted out since)."""
        if member is not None and row.kind in CONSENT:
            reason = self._skip_reason(member, row.kind, row.channel)
            if reason:
                return reason
        address = member.email if member is not None and row.kind != "bare" else row.address
        subject, body = row.subject, row.body
        lang = row.language if row.language in templates.LANGUAGES else "th"
        if batch is not None and member is not None:
            values = {
                "name": member.name,
                "balance": member.balance,
                "tier": member.tier,
                "valid_until": rules_date(member.valid_until, lang),
                "member_id": member.id,
            }
            subject = templates.fill(getattr(batch, f"subject_{lang}"), values)
            body = templates.fill(getattr(batch, f"body_{lang}"), values)
        link = None
        if row.member is not None and row.kind != "bare":
            link = self.unsubscribe_url(row.member, row.kind if CONSENT.get(row.kind) else "all")
            body = body + templates.UNSUBSCRIBE[lang].format(link=link)
        return Outgoing(row.id, address, subject, body, self.message_id(row.id), lang, link)

    def send_due(
        self,
        *,
        limit: int = 20,
        stop: threading.Event | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> dict:
        """Send one round of due messages on every channel; ``{"sent", "failed", "retry", "skipped"}``.

        Called by the server's sender thread (and tests). A lost connection ends the round:
        the message in hand is retried after the back-off, the rest of the round is put
        back untouched (their attempt not counted). A message that raises a bug while it is
        made or sent is marked failed (counted in ``failed``) and the round goes on; a
        database error ends the round (the caller's loop retries it).

        ``busy`` (the server's tap worker says whether it is deciding taps: an in-process
        flag, no query) gives taps priority: while it is true the sender goes at
        ``busy_rate_per_second`` instead of ``rate_per_second`` (see :meth:`_pace`).
        """
        counts = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
        if not self.configured:
            return counts
        # a round must end well within its lease even at the slowest pace (else another sender takes it)
        slowest = self.config.rate_per_second
        if busy is not None:
            slowest = min(self.config.busy_rate_per_second, slowest)
        limit = max(1, min(limit, int(self.config.lease_s * slowest / 2)))
        with self._send_lock:
            for name, channel in self.channels.items():
                token, rows = self.claim(name, limit)
                if not rows:
                    continue
                people = {m.id: m for m in Member.select().where(Member.id.in_([r.member for r in rows if r.member]))}
                batches = {
                    b.id: b
                    for b in MessageBatch.select().where(MessageBatch.id.in_([r.batch for r in rows if r.batch]))
                }
                for i, row in enumerate(rows):
                    if stop is not None and stop.is_set():
                        self._release(rows[i:], token, None)
                        break
                    try:
                        out = self._outgoing(row, people.get(row.member), batches.get(row.batch))
                    except Exception as exc:  # a bug on this message's data: it fails alone
                        if is_infrastructure(exc):
                            raise
                        self._give_up(row, token, exc)
                        counts["failed"] += 1
                        continue
                    if isinstance(out, str):
                        self._finish(row, token, status="skipped", reason=out)
                        counts["skipped"] += 1
                        continue
                    self._pace(stop, busy)
                    try:
                        channel.send(out)
                    except PermanentFailure as exc:
                        self._finish(row, token, status="failed", reason=str(exc)[:300])
                        counts["failed"] += 1
                        log.warning("message %s to member %s failed: %s", row.id, row.member, exc)
                    except TemporaryFailure as exc:
                        retry_at = self._retry(row, token, exc)
                        counts["retry" if retry_at else "failed"] += 1
                        if isinstance(exc, ConnectionLost):
                            self._release(rows[i + 1 :], token, retry_at)
                            channel.close()
                            log.warning("%s channel down (%s); %d message(s) wait", name, exc, len(rows) - i)
                            break
                    except Exception as exc:  # not an answer of the server: a bug building or sending this one
                        if is_infrastructure(exc):
                            raise
                        channel.close()  # the connection's state is unknown: the next message opens a new one
                        self._give_up(row, token, exc)
                        counts["failed"] += 1
                    else:
                        self._finish(
                            row, token, status="sent", sent_at=self.clock(), message_id=out.message_id, reason=None
                        )
                        counts["sent"] += 1
                channel.close()
        return counts

    def _give_up(self, row: OutMessage, token: str, exc: Exception) -> None:
        """Mark ``row`` failed for a bug it raised (it would fail the same way again): one log line."""
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._finish(row, token, status="failed", reason=f"{BUG_REASON}: {detail}"[:300])
        # the exception's text may quote the member's data: the log line names its type only
        log.error(
            "message %s to member %s raised a bug (%s), marked failed; the others are sent",
            row.id,
            row.member,
            type(exc).__name__,
        )
        log.debug("the bug message %s raised", row.id, exc_info=exc)

    def _pace(self, stop: threading.Event | None, busy: Callable[[], bool] | None = None) -> None:
        """Wait for the next send: ``rate_per_second``; while ``busy()``, ``busy_rate_per_second``.

        The wait is re-checked every 20 ms, so the sender slows down as soon as taps arrive
        and resumes its full rate as soon as they stop. It waits *before* sending, never
        between the SMTP server's acceptance and the mark (the duplicate window stays one message).
        """
        c = self.config
        while True:
            is_busy = busy is not None and busy()
            gap = 1.0 / (min(c.busy_rate_per_second, c.rate_per_second) if is_busy else c.rate_per_second)
            wait = self._last_send + gap - time.monotonic()
            if wait <= 0 or (stop is not None and stop.is_set()):
                break
            step = min(wait, 0.02) if busy is not None else wait
            if stop is not None:
                stop.wait(step)
            else:
                time.sleep(step)
        self._last_send = time.monotonic()

    def _retry(self, row: OutMessage, token: str, exc: Exception):
        """Put ``row`` back after a temporary failure (returns its next try's time); when it has had
        ``max_attempts`` tries, mark it failed instead (returns None)."""
        attempts = row.attempts  # the claim counted this try (the row is read after it)
        if attempts >= self.config.max_attempts:
            self._finish(row, token, status="failed", reason=f"{GAVE_UP_REASON}: {attempts}: {exc}"[:300])
            log.warning("message %s to member %s failed after %d tries: %s", row.id, row.member, attempts, exc)
            return None
        at = self.clock() + timedelta(seconds=self.config.backoff(attempts))
        self._finish(row, token, next_try_at=at, reason=str(exc)[:300])
        return at

    def _release(self, rows: list[OutMessage], token: str, retry_at) -> None:
        if not rows:
            return
        with unit_of_work():
            OutMessage.update(
                claimed_by=None, lease_until=None, attempts=OutMessage.attempts - 1, next_try_at=retry_at
            ).where(OutMessage.id.in_([r.id for r in rows]) & (OutMessage.claimed_by == token)).execute()

    def next_due_in(self, channel: str = "email") -> float | None:
        """Seconds until the next queued message is due (0: now; None: nothing queued)."""
        row = (
            OutMessage.select(OutMessage.next_try_at, OutMessage.lease_until)
            .where((OutMessage.status == "queued") & (OutMessage.channel == channel))
            .order_by(pw.fn.COALESCE(OutMessage.next_try_at, OutMessage.lease_until).asc(nulls="first"))
            .first()
        )
        if row is None:
            return None
        due = max(t for t in (row.next_try_at, row.lease_until, self.clock()) if t is not None)
        return max((due - self.clock()).total_seconds(), 0.0)

    # ------------------------------------------------------------------ reading

    def row_dict(self, r: OutMessage) -> dict:
        return {
            "id": r.id,
            "member": r.member,
            "address": r.address,
            "language": r.language,
            "channel": r.channel,
            "template": r.template,
            "kind": r.kind,
            "batch": r.batch,
            "subject": r.subject,
            "status": r.status,
            "pending": r.status == "queued",
            "reason": r.reason,
            "attempts": r.attempts,
            "next_try_at": r.next_try_at.isoformat() if r.next_try_at else None,
            "message_id": r.message_id,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "sent_at": r.sent_at.isoformat() if r.sent_at else None,
            "failed_at": r.failed_at.isoformat() if r.failed_at else None,
        }

    def list(
        self, *, status: str | None = None, batch: int | None = None, member: int | None = None, limit: int = 100
    ) -> list[dict]:
        """Messages, newest first, optionally of one status, segment message or member."""
        if status and status not in (*STATUSES, "pending"):
            raise ServiceError("status must be one of %(statuses)s", statuses=", ".join((*STATUSES, "pending")))
        q = OutMessage.select().order_by(OutMessage.id.desc()).limit(max(1, min(int(limit), 5000)))
        if status:
            q = q.where(OutMessage.status == ("queued" if status == "pending" else status))
        if batch is not None:
            q = q.where(OutMessage.batch == batch)
        if member is not None:
            q = q.where(OutMessage.member == member)
        return [self.row_dict(r) for r in q]

    def show(self, message_id) -> dict:
        r = OutMessage.get_or_none(OutMessage.id == int(message_id)) if str(message_id).isdigit() else None
        if r is None:
            raise NotFound("no message %(id)s", id=message_id)
        return self.row_dict(r) | {"body": r.body}

    def batches(self, limit: int = 50) -> list[dict]:
        """Segment messages, newest first, with their delivery counts."""
        rows = MessageBatch.select().order_by(MessageBatch.id.desc()).limit(limit)
        return [self.batch_dict(b) for b in rows]

    def batch_dict(self, b: MessageBatch) -> dict:
        return {
            "batch": b.id,
            "subject": {"th": b.subject_th, "en": b.subject_en},
            "body": {"th": b.body_th, "en": b.body_en},
            "segment": b.segment,
            "total": b.total,
            "actor": b.actor,
            "created_at": b.created_at.isoformat(),
            "counts": self._batch_counts(b.id),
        }

    def batch(self, batch_id) -> dict:
        b = MessageBatch.get_or_none(MessageBatch.id == int(batch_id)) if str(batch_id).isdigit() else None
        if b is None:
            raise NotFound("no segment message %(id)s", id=batch_id)
        return self.batch_dict(b)

    def summary(self) -> dict:
        """Counts by status (the console's outbox line): pending, sent, failed, skipped."""
        out = dict.fromkeys(STATUSES, 0)
        for status, n in (
            OutMessage.select(OutMessage.status, pw.fn.COUNT(OutMessage.id)).group_by(OutMessage.status).tuples()
        ):
            out[status] = n
        return out

    # ------------------------------------------------------------------ trigger jobs (off the tap path)

    def level_job(self, *, chunk: int = 500) -> int:
        """Tell members whose credits since the last run took them past a privilege level (the count queued).

        The tap path is untouched: this reads the ledger entries after the watermark
        ``messages:level_entry``. A member is told of the highest threshold of their tier's
        borrow, locker or study-room tables with ``before < threshold <= now`` (``now``:
        their level points; ``before``: the same less their entries after the watermark,
        in one statement), once per member, term and level (the dedupe key). A sign-up's
        points count as *before* (the welcome says them).

        It cannot miss a credit: the watermark moves only over ids with no hole before
        them. On PostgreSQL an id is taken at insert, so a transaction can commit id N
        after N+1 is visible; a hole waits until it is filled or its next entry is
        :data:`LEVEL_HOLE_S` old (a rolled-back insert leaves a hole that never fills).
        """
        start = store.counter("messages:level_entry")
        rows = (
            LedgerEntry.select(LedgerEntry.id, LedgerEntry.member, LedgerEntry.points, LedgerEntry.source)
            .where(LedgerEntry.id > start)
            .order_by(LedgerEntry.id)
            .limit(LEVEL_SCAN)
            .tuples()
        )
        top, ids = start, {}
        for entry_id, member_id, points, source in rows:
            if entry_id != top + 1 and not self._hole_closed(entry_id):
                break
            top = entry_id
            if points > 0 and source != "signup":
                ids[member_id] = True
        if top <= start:
            return 0
        queued = 0
        day = self.ledger.today()
        ids = list(ids)
        for i in range(0, len(ids), chunk):
            with unit_of_work():
                # only those who can hear of it: an address and notices on (no work for the others)
                reachable = (
                    Member.id.in_(ids[i : i + chunk])
                    & (Member.status == "active")
                    & Member.email.is_null(False)
                    & Member.consent_notices
                )
                for m in Member.select().where(reachable):
                    label, before, now = self._level_points(m, day, start)
                    prog = rules.tables_for(self.prog, m.tier)
                    passed = [
                        lvl.points
                        for table in (prog.borrow_levels, prog.locker_levels, prog.room_levels)
                        for lvl in table
                        if before < lvl.points <= now
                    ]
                    if not passed:
                        continue
                    level = max(passed)
                    key = f"level:{m.id}:{label}:{level}"
                    if self.queue(m, "level_reached", {"level": level, "points": now}, dedupe_key=key):
                        queued += 1
        with unit_of_work():
            store.Counter.update(value=top).where(
                (store.Counter.key == "messages:level_entry") & (store.Counter.value < top)
            ).execute()
        return queued

    def tier_job(self) -> int:
        """Tell members moved up to a higher tier since the last run (the ``tier_promoted`` mail); the count queued.

        Off the tap path, like :meth:`level_job` (the server's messages thread runs both each
        round): it reads the ledger after its own watermark
        ``messages:tier_entry`` for the tier entries (activity ``tier``, item ``old→new``,
        :func:`server.services.tiers.change_tier`) whatever made them — a points rule at a
        tap, staff, a group — and queues one notice per move to a tier later in the
        programme's order (silver, then gold), once per member, term and tier (the dedupe
        key). A move down, and a tier given at enrolment (the entry right after the sign-up's,
        within :data:`TIER_AT_ENROLMENT`: the member joined at that tier), are not news. The watermark passes holes in
        the ids as the level job's does.
        """
        start = store.counter("messages:tier_entry")
        rows = (
            LedgerEntry.select(
                LedgerEntry.id, LedgerEntry.member, LedgerEntry.activity, LedgerEntry.item, LedgerEntry.day
            )
            .where(LedgerEntry.id > start)
            .order_by(LedgerEntry.id)
            .limit(LEVEL_SCAN)
            .tuples()
        )
        top, moves = start, []
        for entry_id, member_id, activity, item, day in rows:
            if entry_id != top + 1 and not self._hole_closed(entry_id):
                break
            top = entry_id
            if activity == "tier" and "→" in (item or ""):
                moves.append((entry_id, member_id, *item.split("→", 1), day))
        if top <= start:
            return 0
        queued = 0
        order = list(self.prog.tiers)
        with unit_of_work():
            for entry_id, member_id, old, new, day in moves:
                if old not in order or new not in order or order.index(new) <= order.index(old):
                    continue
                m = Member.get_or_none(Member.id == member_id)
                if m is None or m.status != "active" or m.tier != new:  # moved again since: the last move tells
                    continue
                if self._given_at_enrolment(m.id, entry_id):
                    continue
                lang = m.language if m.language in templates.LANGUAGES else "th"
                names = {code: label.get(lang) or label["en"] for code, label in self.prog.tiers.items()}
                label = rules.term_period(m.group, day, self.prog)[0]
                values = {"tier": names[new], "old": names[old]}
                if self.queue(m, "tier_promoted", values, dedupe_key=f"tier:{m.id}:{label}:{new}"):
                    queued += 1
            store.Counter.update(value=top).where(
                (store.Counter.key == "messages:tier_entry") & (store.Counter.value < top)
            ).execute()
        return queued

    @staticmethod
    def _given_at_enrolment(member_id: int, entry_id: int) -> bool:
        """Whether a tier entry was written with the member's sign-up (right after it, in the same breath)."""
        made = LedgerEntry.select(LedgerEntry.created_at).where(LedgerEntry.id == entry_id).scalar()
        before = (
            LedgerEntry.select(LedgerEntry.source, LedgerEntry.created_at)
            .where((LedgerEntry.member == member_id) & (LedgerEntry.id < entry_id))
            .order_by(LedgerEntry.id.desc())
            .first()
        )
        return bool(before and before.source == "signup" and made and made - before.created_at < TIER_AT_ENROLMENT)

    def _hole_closed(self, entry_id: int) -> bool:
        """Whether the ids missing before ``entry_id`` are for good (its entry is LEVEL_HOLE_S old)."""
        at = LedgerEntry.select(LedgerEntry.created_at).where(LedgerEntry.id == entry_id).scalar()
        return at is not None and (self.clock() - at).total_seconds() > LEVEL_HOLE_S

    def _level_points(self, m: Member, day: date, start: int) -> tuple[str, int, int]:
        """(term label, level points before the entries after ``start``, level points now), one statement."""
        label, first, last = rules.term_period(m.group, day, self.prog)
        late = (LedgerEntry.id > start) & (LedgerEntry.source != "signup")
        if self.prog.privilege_basis == "balance":
            row = (
                Member.select(
                    Member.balance,
                    LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0)).where(
                        (LedgerEntry.member == m.id) & late
                    ),
                )
                .where(Member.id == m.id)
                .tuples()
                .first()
            )
        else:  # earned_in_term, as tiers.earned_in_term counts it
            row = (
                LedgerEntry.select(
                    pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0),
                    pw.fn.COALESCE(pw.fn.SUM(pw.Case(None, [(late, LedgerEntry.points)], 0)), 0),
                )
                .where(
                    (LedgerEntry.member == m.id)
                    & LedgerEntry.activity.in_(list(self.prog.activities))
                    & LedgerEntry.day.between(first, last)
                )
                .tuples()
                .first()
            )
        now, recent = (int(v or 0) for v in row)
        return label, now - recent, now

    def term_ending_job(self, day: date | None = None) -> int:
        """Queue "your rights end in N days" for members whose term ends within ``term_ending_days``."""
        day = day or self.ledger.today()
        horizon = day + timedelta(days=self.config.term_ending_days)
        queued = 0
        with unit_of_work():
            q = Member.select().where(
                (Member.status == "active")
                & Member.lapsed_on.is_null()
                & Member.valid_until.between(day, horizon)
                & Member.email.is_null(False)
            )
            for m in q:
                lang = m.language if m.language in templates.LANGUAGES else "th"
                values = {"valid_until": rules_date(m.valid_until, lang), "days": (m.valid_until - day).days}
                if self.queue(m, "term_ending", values, dedupe_key=f"term_ending:{m.id}:{m.valid_until.isoformat()}"):
                    queued += 1
        return queued

    def statement_job(self, day: date | None = None) -> int:
        """On the 1st: the monthly statement of last month to members who asked for it."""
        day = day or self.ledger.today()
        if day.day != 1:
            return 0
        last = day - timedelta(days=1)
        first = last.replace(day=1)
        month = f"{first.year:04d}-{first.month:02d}"
        queued = 0
        with unit_of_work():
            people = list(
                Member.select().where(
                    Member.consent_statement & Member.email.is_null(False) & (Member.status == "active")
                )
            )
            sums = {
                mid: (earned or 0, spent or 0)
                for mid, earned, spent in LedgerEntry.select(
                    LedgerEntry.member,
                    pw.fn.SUM(pw.Case(None, [(LedgerEntry.points > 0, LedgerEntry.points)], 0)),
                    pw.fn.SUM(pw.Case(None, [(LedgerEntry.points < 0, 0 - LedgerEntry.points)], 0)),
                )
                .where(LedgerEntry.day.between(first, last) & LedgerEntry.member.in_([p.id for p in people]))
                .group_by(LedgerEntry.member)
                .tuples()
            }
            for m in people:
                earned, spent = sums.get(m.id, (0, 0))
                lang = m.language if m.language in templates.LANGUAGES else "th"
                shown = rules_month(first, lang)
                if self.queue(
                    m,
                    "monthly_statement",
                    {"month": shown, "earned": earned, "spent": spent},
                    dedupe_key=f"statement:{m.id}:{month}",
                ):
                    queued += 1
        return queued

    def daily_jobs(self, day: date | None = None) -> dict:
        """The once-a-day triggers (term ending, monthly statement); safe to run again."""
        return {"term_ending": self.term_ending_job(day), "statement": self.statement_job(day)}


TH_MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)


def rules_date(day: date | None, lang: str) -> str:
    """A date as a patron reads it: Thai with the Buddhist-era year, English ISO."""
    if day is None:
        return "-"
    if lang == "th":
        return f"{day.day} {TH_MONTHS[day.month - 1]} {day.year + 543}"
    return day.isoformat()


def rules_month(first: date, lang: str) -> str:
    if lang == "th":
        return f"{TH_MONTHS[first.month - 1]} {first.year + 543}"
    return first.strftime("%B %Y")
