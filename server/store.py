"""The ledger store: peewee models, database URLs, schema migrations.

SQLite by default (WAL, ``synchronous=FULL``, busy timeout); PostgreSQL through a
``postgresql://`` URL with no code change. The ledger is append-only: a void is a
reversal entry pointing at the original. "At most once per day" is the UNIQUE
key on :class:`Accrual`, inserted in the same transaction as the ledger entry.
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from server.domain.errors import TemplatedError

log = logging.getLogger(__name__)

db = pw.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: a committed credit survives power loss
    "foreign_keys": 1,
    "busy_timeout": 30000,
    "cache_size": -16000,
}

#: libpq settings unless the URL gives its own: connect within 10 s, notice a dead
#: connection within ~25 s (TCP keep-alives)
PG_DEFAULTS = {
    "connect_timeout": "10",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}


class StoreError(TemplatedError):
    """A database problem (bad URL, unreachable server, schema too new)."""


def utcnow() -> datetime:
    """Current time, aware UTC."""
    return datetime.now(UTC)


class UTCDateTimeField(pw.DateTimeField):
    """Stores aware datetimes as UTC ISO text on SQLite and timestamptz-free UTC on PostgreSQL."""

    field_type = "DATETIME"

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime stored")
            # fixed-width text sorts correctly on SQLite; PostgreSQL casts the literal
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def python_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class JSONField(pw.TextField):
    """A JSON object stored as text."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class Counter(BaseModel):
    """Key/value counters: schema version, allow-list version, config epoch."""

    key = pw.CharField(primary_key=True, max_length=64)
    value = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "meta"


class Member(BaseModel):
    """A patron with a privilege card account."""

    name = pw.CharField(max_length=200)
    group = pw.CharField(max_length=8, null=True)  # U1..U5
    tier = pw.CharField(max_length=16, default="silver")
    valid_until = pw.DateField(null=True)
    status = pw.CharField(max_length=16, default="active")  # active | blocked
    staff = pw.BooleanField(default=False)
    pin_hash = pw.CharField(max_length=200, null=True)
    balance = pw.BigIntegerField(default=0)  # cached sum of the ledger, updated in the same transaction
    email = pw.CharField(max_length=200, null=True)
    note = pw.TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    # membership terms and tiers (issue 13, migration namespace ``programme_year``): the first
    # day of the term joined or last renewed; how the tier was given (manual | group | points
    # | default); the day ``term close`` handled the lapse (cleared on renewal)
    term_start = pw.DateField(null=True)
    tier_basis = pw.CharField(max_length=16, null=True)
    lapsed_on = pw.DateField(null=True)
    # the id the library system (ILS) knows the patron by: library barcode / student number
    # (issue 12; the column and its unique index come from the "ils" migrations)
    patron_id = pw.CharField(max_length=64, null=True)
    # contact data and consent (issue 14; the columns come from the "messages" migrations,
    # server/services/messages.py): consent_notices: news about their own account;
    # consent_marketing: staff's messages to a segment; consent_statement: the monthly
    # statement; consent_ranking: appearing in rankings
    phone = pw.CharField(max_length=32, null=True)
    language = pw.CharField(max_length=2, default="th")
    consent_marketing = pw.BooleanField(default=False)
    consent_notices = pw.BooleanField(default=True)
    consent_statement = pw.BooleanField(default=False)
    consent_ranking = pw.BooleanField(default=True)
    # the member's home site (issue 16, migration namespace "sites"; NULL = the default site)
    home_site = pw.CharField(max_length=16, null=True)

    class Meta:
        indexes = ((("name",), False),)


class Card(BaseModel):
    """A card UID belonging to a member; several per member, old ones blocked."""

    uid = pw.CharField(primary_key=True, max_length=20)
    member = pw.ForeignKeyField(Member, backref="cards", on_delete="RESTRICT")
    status = pw.CharField(max_length=16, default="active")  # active | blocked
    issued_at = UTCDateTimeField(default=utcnow)
    blocked_at = UTCDateTimeField(null=True)
    reason = pw.CharField(max_length=200, null=True)
    # NTAG 424 DNA Secure Unique NFC (server/sun.py): a card marked ``sun`` must prove
    # itself on every tap; ``sun_counter`` is the highest read counter accepted (only ever
    # raised, by a conditional UPDATE in the tap's transaction); ``sun_keys`` holds imported
    # keys sealed under the key-encryption key (NULL: keys diversified from the master key);
    # ``sun_suspect_at`` is set when a counter went backwards (a suspected clone).
    sun = pw.BooleanField(default=False)
    sun_counter = pw.BigIntegerField(null=True)
    sun_keys = pw.TextField(null=True)
    sun_suspect_at = UTCDateTimeField(null=True)


class Device(BaseModel):
    """A gate, kiosk or counter reader and its settings and last status."""

    id = pw.CharField(primary_key=True, max_length=64)
    kind = pw.CharField(max_length=16)
    direction = pw.CharField(max_length=8, null=True)
    activity = pw.CharField(max_length=40, null=True)
    location = pw.CharField(max_length=200, null=True)
    settings = JSONField(default=dict)
    revision = pw.IntegerField(default=1)
    published_revision = pw.IntegerField(default=0)
    state = pw.CharField(max_length=16, default="unknown")  # online | offline | unknown
    last_seen = UTCDateTimeField(null=True)
    status = JSONField(null=True)
    # when the server saw the device's status go offline and come back online (the
    # back-dating policy: a buffered tap may be dated back to its last offline period)
    offline_since = UTCDateTimeField(null=True)
    online_since = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    #: when staff retired it (lost, stolen, replaced); the server refuses everything it sends
    retired_at = UTCDateTimeField(null=True)
    #: the site it belongs to (issue 16, migration namespace "sites"; NULL = the default site)
    site = pw.CharField(max_length=16, null=True)


class LedgerEntry(BaseModel):
    """One append-only movement of points."""

    member = pw.ForeignKeyField(Member, backref="entries", on_delete="RESTRICT")
    activity = pw.CharField(max_length=40)  # activity code, or redeem/transfer_in/transfer_out/void/adjust
    points = pw.IntegerField()
    day = pw.DateField()  # business day it counts for
    item = pw.CharField(max_length=120, default="")
    at = UTCDateTimeField()  # when it happened (tap time, event time)
    source = pw.CharField(max_length=16)  # tap | admin | import | signup | transfer | redeem | void
    device = pw.CharField(max_length=64, null=True)
    ref = pw.CharField(max_length=160, null=True)  # tap_id, import key, ...
    void_of = pw.ForeignKeyField("self", null=True, unique=True, backref="voids", on_delete="RESTRICT")
    note = pw.CharField(max_length=300, null=True)
    actor = pw.CharField(max_length=64, null=True)
    created_at = UTCDateTimeField(default=utcnow)
    #: what each campaign gave this credit, ``code:+N;code:+M`` (migration ``programme_live``)
    campaign = pw.CharField(max_length=200, null=True)
    #: the site a staff member made it at (issue 16, migration ``sites``); NULL: the device's
    #: site for a tap, else the default site
    site = pw.CharField(max_length=16, null=True)

    class Meta:
        indexes = (
            (("member", "id"), False),
            (("day", "activity"), False),
        )


#: ``accrual.day``'s width: a date is 10 characters, a prize's ``draw:<id>`` 5 more than its id's digits
ACCRUAL_DAY_CHARS = 40


class Accrual(BaseModel):
    """The UNIQUE daily-accrual key: one credit per (member, activity, day, item)."""

    member = pw.ForeignKeyField(Member, on_delete="RESTRICT")
    activity = pw.CharField(max_length=40)
    #: YYYY-MM-DD, "once", or a prize's ``draw:<id>`` (any id: 40 characters, migration ``accrual_key``)
    day = pw.CharField(max_length=ACCRUAL_DAY_CHARS)
    item = pw.CharField(max_length=120, default="")
    # NULL only inside the transaction that claims the key before appending the entry
    entry = pw.ForeignKeyField(LedgerEntry, unique=True, null=True, on_delete="CASCADE")

    class Meta:
        indexes = ((("member", "activity", "day", "item"), True),)


class TapInbox(BaseModel):
    """Every tap the server decided, with the result it published (idempotency)."""

    device = pw.CharField(max_length=64)
    tap_id = pw.CharField(max_length=64)
    uid = pw.CharField(max_length=20)
    at = UTCDateTimeField()
    received_at = UTCDateTimeField(default=utcnow)
    outcome = pw.CharField(max_length=16)
    points = pw.IntegerField(default=0)
    member = pw.IntegerField(null=True)
    result = JSONField()
    timing = pw.CharField(max_length=16, default="")  # how its time was judged (rules.TIMINGS)

    class Meta:
        indexes = (
            (("device", "tap_id"), True),
            (("received_at",), False),
            # a device's taps by their own time, newest first (the console's device page;
            # migration namespace ``device_taps`` on databases made before)
            (("device", "at"), False),
        )


class Fee(BaseModel):
    """Money taken at the counter (card replacement, joining)."""

    member = pw.ForeignKeyField(Member, backref="fees", on_delete="RESTRICT")
    kind = pw.CharField(max_length=32)
    baht = pw.IntegerField()
    note = pw.CharField(max_length=200, null=True)
    actor = pw.CharField(max_length=64, null=True)
    at = UTCDateTimeField(default=utcnow)


class Feedback(BaseModel):
    """A patron's feedback: a kiosk's 1-5 visit rating, and/or a written message (issue 14).

    Rows from before issue 14 are ratings alone (``text`` NULL, ``status`` NULL: not in the
    desk's queue). Written feedback has a category, a channel, a status (new → in_progress
    → answered → closed, :mod:`server.domain.feedback`), maybe an assignee and an answer.
    Non-kiosk feedback has ``device`` "" and a generated ``feedback_id``. The columns after
    ``received_at`` come from the ``feedback`` migrations.
    """

    device = pw.CharField(max_length=64)
    feedback_id = pw.CharField(max_length=64)
    rating = pw.SmallIntegerField(null=True)
    at = UTCDateTimeField()
    member = pw.IntegerField(null=True)
    received_at = UTCDateTimeField(default=utcnow)
    channel = pw.CharField(max_length=16, default="kiosk")
    category = pw.CharField(max_length=16, null=True)
    text = pw.TextField(null=True)
    status = pw.CharField(max_length=16, null=True)  # indexed by the migration
    assignee = pw.CharField(max_length=32, null=True)
    answer = pw.TextField(null=True)
    action_taken = pw.TextField(null=True)
    answered_by = pw.CharField(max_length=64, null=True)
    first_answered_at = UTCDateTimeField(null=True)
    answered_at = UTCDateTimeField(null=True)
    #: how the answer went back: email | page | none (anonymous kiosk feedback)
    delivery = pw.CharField(max_length=8, null=True)
    closed_at = UTCDateTimeField(null=True)
    recorded_by = pw.CharField(max_length=64, null=True)
    #: a book-purchase request's pledge: points held by ``pledge_entry``, given back by ``refund_entry``
    pledge_points = pw.IntegerField(default=0)
    pledge_entry = pw.IntegerField(null=True)
    refund_entry = pw.IntegerField(null=True)
    decision = pw.CharField(max_length=8, null=True)  # bought | declined
    updated_at = UTCDateTimeField(null=True)
    #: the site it was given at (issue 16, migration namespace ``site_scope``): the kiosk's site,
    #: the member's home site (their own page), the recording staff's site; NULL = the default site
    site = pw.CharField(max_length=16, null=True)

    class Meta:
        indexes = ((("device", "feedback_id"), True),)


#: the columns the ``feedback`` migration adds to databases made before issue 14
FEEDBACK_COLUMNS = (
    "channel",
    "category",
    "text",
    "status",
    "assignee",
    "answer",
    "action_taken",
    "answered_by",
    "first_answered_at",
    "answered_at",
    "delivery",
    "closed_at",
    "recorded_by",
    "pledge_points",
    "pledge_entry",
    "refund_entry",
    "decision",
    "updated_at",
)


class Audit(BaseModel):
    """Who changed what and when (CLI and web console)."""

    at = UTCDateTimeField(default=utcnow)
    actor = pw.CharField(max_length=64)
    action = pw.CharField(max_length=64)
    target = pw.CharField(max_length=120, null=True)
    detail = JSONField(null=True)


# --------------------------------------------------------------------------- console tables
#
# The web console's events, uploads and settings: created by the ``web`` migration
# namespace (server.web.accounts), kept here with the other models the service uses.


class Setting(BaseModel):
    """Console settings kept in the database (the session signing key)."""

    key = pw.CharField(primary_key=True, max_length=64)
    value = pw.TextField()

    class Meta:
        table_name = "web_setting"


class Event(BaseModel):
    """A library event whose registration list is credited (PULINET, training, ...)."""

    name = pw.CharField(max_length=120)
    activity = pw.CharField(max_length=40)
    day = pw.DateField()
    created_by = pw.CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)
    #: the site it belongs to (issue 16, migration ``sites`` step 2); NULL = the default site
    site = pw.CharField(max_length=16, null=True)

    class Meta:
        table_name = "web_event"


class Upload(BaseModel):
    """A registration list waiting between preview and credit."""

    event = pw.ForeignKeyField(Event, backref="uploads", on_delete="CASCADE")
    filename = pw.CharField(max_length=200, default="")
    text = pw.TextField()
    preview = JSONField(null=True)
    result = JSONField(null=True)
    created_by = pw.CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)
    credited_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "web_upload"


class ImportJob(BaseModel):
    """An attendance preview or import run in chunks off the request and tap paths.

    ``next_line`` is the last CSV line whose row is done; it moves in the same
    transaction as that chunk's credits, so a job killed between chunks resumes
    exactly where it stopped (``server.services.attendance``).
    """

    status = pw.CharField(max_length=8, default="queued", index=True)  # queued|running|done|failed
    origin = pw.CharField(max_length=8)  # console | api | cli
    started_by = pw.CharField(max_length=64)
    role = pw.CharField(max_length=8)
    actor = pw.CharField(max_length=80)
    activity = pw.CharField(max_length=40)
    event = pw.CharField(max_length=120)
    day = pw.CharField(max_length=40, null=True)
    dry_run = pw.BooleanField(default=False)
    upload_id = pw.IntegerField(null=True, index=True)
    digest = pw.CharField(max_length=64, index=True)
    text = pw.TextField()
    total = pw.IntegerField(default=0)
    next_line = pw.IntegerField(default=0)
    rows_done = pw.IntegerField(default=0)
    credited = pw.IntegerField(default=0)
    already = pw.IntegerField(default=0)
    errors = pw.IntegerField(default=0)
    shown = JSONField(default=list)
    failure = JSONField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    finished_at = UTCDateTimeField(null=True)
    #: who may see it (issue 16, migration namespace ``site_scope``): the scope of whoever started
    #: it (``web_staff.sites``: "A,B"; NULL = every site) ...
    sites = pw.CharField(max_length=200, null=True)
    #: ... and the site its entries are made at unless a row names one (NULL: the starter's one
    #: site, else each member's home site, else the default site; ``server.services.attendance``)
    site = pw.CharField(max_length=16, null=True)

    class Meta:
        table_name = "import_job"


class StaffPinGuard(BaseModel):
    """Wrong staff PINs per card and kiosk: the lock-out's counter (``server.services.staff``).

    ``failures`` counts the attempts claimed since the last right PIN or the end of the last
    lock-out; an attempt is claimed by one conditional UPDATE before its PIN is checked, so
    parallel guesses cannot exceed the limit. ``locked_until`` is set when it is reached.
    """

    device = pw.CharField(max_length=64)
    card = pw.CharField(max_length=20)
    failures = pw.IntegerField(default=0)
    locked_until = UTCDateTimeField(null=True)

    class Meta:
        table_name = "staff_pin_guard"
        primary_key = pw.CompositeKey("device", "card")


MODELS = [Counter, Member, Card, Device, LedgerEntry, Accrual, TapInbox, Fee, Feedback, Audit]


# --------------------------------------------------------------------------- migrations
#
# Each migration moves the schema from version i to i+1 and runs in a transaction.
# Append new ones; never edit a released one. Other packages (the web console) can
# register their own models' migrations with :func:`register_migration`.


def _m1_initial(migrator) -> None:
    db.create_tables(MODELS, safe=True)


def _m2_backdating(migrator) -> None:
    """Devices' offline periods and each tap's timing (issue 11, the back-dating policy)."""
    from playhouse.migrate import migrate

    have = {c.name for c in db.get_columns("device")}
    steps = [
        migrator.add_column("device", name, field)
        for name, field in (("offline_since", Device.offline_since), ("online_since", Device.online_since))
        if name not in have
    ]
    if "timing" not in {c.name for c in db.get_columns("tap_inbox")}:
        steps.append(migrator.add_column("tap_inbox", "timing", TapInbox.timing))
    migrate(*steps)


MIGRATIONS: list = [_m1_initial, _m2_backdating]
EXTRA_MIGRATIONS: dict[str, list] = {}


def register_migration(namespace: str, steps: list) -> None:
    """Add a package's own ordered migrations (tracked as ``schema:<namespace>``)."""
    EXTRA_MIGRATIONS[namespace] = steps


def _device_retired_at(migrator) -> None:
    """Devices can be retired (``retired_at``); databases made before have no column."""
    if "retired_at" not in {c.name for c in db.get_columns("device")}:
        migrate(migrator.add_column("device", "retired_at", UTCDateTimeField(null=True)))


# the device-authority steps are their own namespace, so they never collide with other
# branches appending to MIGRATIONS
register_migration("devices", [_device_retired_at])


def _imports_m1(migrator) -> None:
    db.create_tables([ImportJob], safe=True)


# attendance import jobs: their own namespace, so the core schema's numbering stays the lead's
register_migration("imports", [_imports_m1])


def _staff_pin_m1(migrator) -> None:
    db.create_tables([StaffPinGuard], safe=True)


# the staff PIN lock-out (issue 15): its own namespace, like the imports above
register_migration("staff_pin", [_staff_pin_m1])


def _cards_m1_sun(migrator) -> None:
    """Cards can require Secure Unique NFC (issue 15): the flag, the counter, sealed keys, a suspicion."""
    have = {c.name for c in db.get_columns("card")}
    steps = [
        migrator.add_column("card", name, field)
        for name, field in (
            ("sun", pw.BooleanField(default=False)),
            ("sun_counter", pw.BigIntegerField(null=True)),
            ("sun_keys", pw.TextField(null=True)),
            ("sun_suspect_at", UTCDateTimeField(null=True)),
        )
        if name not in have
    ]
    if steps:
        migrate(*steps)


# genuine cards: their own namespace
register_migration("cards", [_cards_m1_sun])


def _programme_year_m1(migrator) -> None:
    """Members' term and tier columns (issue 13); tier changes are ledger entries (``tier``, 0 points)."""
    have = {c.name for c in db.get_columns("member")}
    steps = [
        migrator.add_column("member", name, field)
        for name, field in (
            ("term_start", pw.DateField(null=True)),
            ("tier_basis", pw.CharField(max_length=16, null=True)),
            ("lapsed_on", pw.DateField(null=True)),
        )
        if name not in have
    ]
    if steps:
        migrate(*steps)


# membership terms, tiers (issue 13): their own namespace
register_migration("programme_year", [_programme_year_m1])


def _sites_m1(migrator) -> None:
    """Sites (issue 16, ``server/services/sites.py``): four nullable columns, NULL = the default site.

    Plain ``ADD COLUMN`` on both databases: no table is rebuilt and no row rewritten, so a
    single-library database of any size migrates in milliseconds. ``web_staff`` is created
    by the console's own migrations (with the column) when it does not exist yet.
    """
    tables = set(db.get_tables())
    for table, column, size in (
        ("device", "site", 16),
        ("member", "home_site", 16),
        ("ledger_entry", "site", 16),
        ("web_staff", "sites", 200),
    ):
        if table in tables and column not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR({size})")
    db.execute_sql("CREATE INDEX IF NOT EXISTS member_home_site ON member (home_site)")


def _sites_m2(migrator) -> None:
    """Sites, step 2: an event belongs to a site (``web_event.site``, nullable, NULL = the default site)."""
    if "web_event" in set(db.get_tables()) and "site" not in {c.name for c in db.get_columns("web_event")}:
        db.execute_sql("ALTER TABLE web_event ADD COLUMN site VARCHAR(16)")


# sites (issue 16): their own namespace
register_migration("sites", [_sites_m1, _sites_m2])


def _tap_path_m1(migrator) -> None:
    """The tap path (issue 16): two indexes every credit wrote for nothing.

    ``accrual (member_id)`` and ``ledger_entry (member_id)`` (peewee's index on each foreign
    key) repeat the first column of ``accrual``'s UNIQUE key and of ``ledger_entry (member_id,
    id)``, which serve the same lookups (a member's entries, the foreign keys' checks when a
    member is deleted). Dropped on both databases (a fresh one creates them with its tables).
    """
    for index in ("accrual_member_id", "ledger_entry_member_id"):
        db.execute_sql(f"DROP INDEX IF EXISTS {index}")


# the tap path (issue 16): its own namespace
register_migration("tap_path", [_tap_path_m1])


class IlsPayment(BaseModel):
    """A fine discount paid in the library system (SIP2 37 Fee Paid), one per redeem entry.

    Written *pending* in the redemption's own transaction (with the ledger debit that holds
    the points), before anything is sent; the ILS's answer makes it *confirmed*, or
    *refused* (and the points come back: ``refund`` is the void entry). ``transaction`` is
    the ``BK`` sent every time, so a retried payment is the same payment.
    """

    entry = pw.ForeignKeyField(LedgerEntry, unique=True, on_delete="RESTRICT")
    member = pw.ForeignKeyField(Member, on_delete="RESTRICT")
    patron_id = pw.CharField(max_length=64)
    baht = pw.IntegerField()
    points = pw.IntegerField()
    transaction = pw.CharField(max_length=64, unique=True)
    status = pw.CharField(max_length=16, default="pending", index=True)  # pending | confirmed | refused | reversed
    attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(null=True)
    message = pw.TextField(null=True)  # the ILS's screen message
    created_at = UTCDateTimeField(default=utcnow)
    next_try_at = UTCDateTimeField(null=True)  # a claim: nobody else sends it before then
    settled_at = UTCDateTimeField(null=True)
    refund = pw.ForeignKeyField(LedgerEntry, null=True, on_delete="RESTRICT", backref="ils_refund_of")
    #: the fines the ILS reported just before the points were held (63): a 37 whose answer was lost
    #: is checked against them before it is sent again (NULL: held before privcard kept them)
    fines_before = pw.FloatField(null=True)
    #: when privcard asked for them (63 sent): another payment settled before that is in them
    fines_at = UTCDateTimeField(null=True)
    #: when its last 37 went (a lost answer is checked no sooner than ``recheck_after_s`` after)
    sent_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "ils_payment"


def _ils_m1(migrator) -> None:
    """Members get a patron_id (unique when given); ILS payments get their table."""
    if "patron_id" not in {c.name for c in db.get_columns("member")}:
        migrate(migrator.add_column("member", "patron_id", pw.CharField(max_length=64, null=True)))
    db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS member_patron_id ON member (patron_id)")
    db.create_tables([IlsPayment], safe=True)


def _ils_m2(migrator) -> None:
    """ILS payments keep the fines the ILS reported before the points were held, and when their last 37 went."""
    have = {c.name for c in db.get_columns("ils_payment")}
    steps = [
        migrator.add_column("ils_payment", name, IlsPayment._meta.fields[name])
        for name in ("fines_before", "fines_at", "sent_at")
        if name not in have
    ]
    if steps:
        migrate(*steps)


# the library system link (issue 12): its own namespace
register_migration("ils", [_ils_m1, _ils_m2])


def _feedback_m1(migrator) -> None:
    """The feedback desk (issue 14): written feedback in the kiosk ratings' table, old rows kept.

    A rating becomes optional (written feedback need not rate); on SQLite the migrator
    rebuilds the table for that, copying every row.
    """
    have = {c.name for c in db.get_columns("feedback")}
    steps = [
        migrator.add_column("feedback", name, Feedback._meta.fields[name])
        for name in FEEDBACK_COLUMNS
        if name not in have
    ]
    if not {c.name: c for c in db.get_columns("feedback")}["rating"].null:
        steps.append(migrator.drop_not_null("feedback", "rating"))
    if steps:
        migrate(*steps)
    db.execute_sql("CREATE INDEX IF NOT EXISTS feedback_status ON feedback (status)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS feedback_member ON feedback (member)")


# the feedback desk (issue 14): its own namespace
register_migration("feedback", [_feedback_m1])


def _site_scope_m1(migrator) -> None:
    """Sites, the scope's last gaps (issue 16): import jobs and feedback know their site.

    ``import_job.sites`` (the scope of who started it; NULL = every site, as every account
    had before sites) and ``import_job.site``; ``feedback.site`` (NULL = the default site),
    filled in for kiosk feedback from the kiosk's site. Plain ``ADD COLUMN`` on both databases.
    """
    tables = set(db.get_tables())
    for table, column, size in (("import_job", "sites", 200), ("import_job", "site", 16), ("feedback", "site", 16)):
        if table in tables and column not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR({size})")
    if "feedback" in tables:
        db.execute_sql(
            "UPDATE feedback SET site = (SELECT device.site FROM device WHERE device.id = feedback.device) "
            "WHERE site IS NULL AND device <> ''"
        )
        db.execute_sql("CREATE INDEX IF NOT EXISTS feedback_site ON feedback (site)")


# staff scopes reaching import jobs and feedback (issue 16): its own namespace
register_migration("site_scope", [_site_scope_m1])


#: the entries :func:`_site_entries_m1` places: a sign-up at its member's home site (found by the
#: ``ledger_entry (member_id, id)`` index from the members who have one), a book-request pledge at its
#: request's site (from the requests that pledged), then a void where the entry it reverses was made
#: (``void_of_id > 0``: a range the planner takes to the ``void_of_id`` index, where ``IS NOT NULL``
#: made SQLite read the whole table). ``UPDATE … FROM``: SQLite 3.33 (the tap path needs 3.35 already).
SITE_ENTRIES_SQL = (
    "UPDATE ledger_entry SET site = (SELECT m.home_site FROM member m WHERE m.id = ledger_entry.member_id) "
    "WHERE site IS NULL AND source IN ('signup', 'tier') "
    "AND member_id IN (SELECT m.id FROM member m WHERE m.home_site IS NOT NULL)",
    "UPDATE ledger_entry SET site = f.site FROM feedback f WHERE f.pledge_entry = ledger_entry.id "
    "AND f.site IS NOT NULL AND ledger_entry.site IS NULL AND ledger_entry.source = 'feedback'",
    "UPDATE ledger_entry SET site = o.site FROM ledger_entry o WHERE o.id = ledger_entry.void_of_id "
    "AND o.site IS NOT NULL AND ledger_entry.void_of_id > 0 AND ledger_entry.site IS NULL "
    "AND ledger_entry.source = 'void'",
    # a void of a tap: its original names only its device (the reports count it at the device's site)
    "UPDATE ledger_entry SET site = d.site FROM ledger_entry o JOIN device d ON d.id = o.device "
    "WHERE o.id = ledger_entry.void_of_id AND o.site IS NULL AND d.site IS NOT NULL "
    "AND ledger_entry.void_of_id > 0 AND ledger_entry.site IS NULL AND ledger_entry.device IS NULL "
    "AND ledger_entry.source = 'void'",
)


def _site_entries_m1(migrator) -> None:
    """Sites: entries made before they recorded their site get it, as new ones do (issue 16).

    Until December 2026 a sign-up and a book-request pledge recorded no site (reports counted
    them at the default site whatever the branch), nor did the points given back for a pledge
    or a redemption (a void of it). They get it now as new entries do: a sign-up its member's
    home site (a member with none stays on the default site; a tier change too), a pledge its request's site
    (``feedback.site``), a void its original's (a tap's: its device's site). Only rows whose site
    is NULL change, and none of their points or days, so a second run changes nothing. Four set-based ``UPDATE``s
    (:data:`SITE_ENTRIES_SQL`), each reaching its rows by an index: a single-library database
    (no home sites, no pledges at a site) reads almost nothing.
    """
    tables = set(db.get_tables())
    if not {"ledger_entry", "member"} <= tables:
        return
    signups, pledges, voids, tap_voids = SITE_ENTRIES_SQL
    db.execute_sql(signups)
    if "feedback" in tables and {"site", "pledge_entry"} <= {c.name for c in db.get_columns("feedback")}:
        db.execute_sql(pledges)
    db.execute_sql(voids)
    if "device" in tables:
        db.execute_sql(tap_voids)


# entries dated and counted at their site (issue 16): its own namespace, after ``site_scope``'s
# ``feedback.site``
register_migration("site_entries", [_site_entries_m1])


def _device_taps_m1(migrator) -> None:
    """A device's taps by their own time: ``tap_inbox (device, at)``.

    The console's device page lists a device's latest taps newest first by the tap's own time
    (``server.web.queries.device_taps``); with only ``(device, tap_id)`` every one of the
    device's taps was read and sorted. A fresh database creates the index with its table
    (``TapInbox.Meta``); this creates it on one made before, on both databases (the same name).
    """
    if "tap_inbox" in set(db.get_tables()):
        db.execute_sql("CREATE INDEX IF NOT EXISTS tap_inbox_device_at ON tap_inbox (device, at)")


# the device page's index: its own namespace
register_migration("device_taps", [_device_taps_m1])


def _accrual_key_m1(migrator) -> None:
    """A prize's accrual key fits whatever its draw's id: ``accrual.day`` VARCHAR(10) -> VARCHAR(40).

    The key of a draw's prize is ``draw:<id>``: from draw 100,000 on it was 11 characters and
    PostgreSQL refused the award. Widening a VARCHAR is a change of the catalogue only on
    PostgreSQL (no rewrite of the table, nor of its UNIQUE index); SQLite never checked the
    width, so its table is left as it is (rebuilding it would copy every accrual).
    """
    if is_sqlite() or "accrual" not in set(db.get_tables()):
        return
    db.execute_sql(f"ALTER TABLE accrual ALTER COLUMN day TYPE VARCHAR({ACCRUAL_DAY_CHARS})")


# prizes of any draw: its own namespace
register_migration("accrual_key", [_accrual_key_m1])


def _migrator():
    database = db.obj
    return PostgresqlMigrator(database) if isinstance(database, pw.PostgresqlDatabase) else SqliteMigrator(database)


def _version(key: str) -> int:
    # hand-written: the tap worker reads a counter once per batch (the programme version),
    # and peewee building this SELECT cost ~0.2 ms of CPU each time, 30 times the read
    row = db.execute_sql(f'SELECT "value" FROM "meta" WHERE "key" = {db.param}', (key,)).fetchone()
    return row[0] if row else 0


def upgrade() -> int:
    """Bring the schema up to date in place; returns the core schema version."""
    db.create_tables([Counter], safe=True)
    migrator = _migrator()
    for key, steps in [("schema", MIGRATIONS)] + [(f"schema:{ns}", s) for ns, s in EXTRA_MIGRATIONS.items()]:
        with write_transaction():
            current = _version(key)
            if current > len(steps):
                raise StoreError(
                    "database %(key)s version %(version)s is newer than this privcard (%(known)s)",
                    key=key,
                    version=current,
                    known=len(steps),
                )
        for version in range(current, len(steps)):
            with write_transaction():
                if not is_sqlite():  # replicas starting together migrate one at a time
                    db.execute_sql("SELECT pg_advisory_xact_lock(7345001)")
                # re-check inside the transaction: another process may have migrated meanwhile
                if _version(key) > version:
                    continue
                steps[version](migrator)
                Counter.insert(key=key, value=version + 1).on_conflict(
                    conflict_target=[Counter.key], update={Counter.value: version + 1}
                ).execute()
                log.info("migrated %s to version %d", key, version + 1)
    return _version("schema")


# --------------------------------------------------------------------------- connection


def _create_private(path: Path) -> None:
    """Create a new SQLite file at most 0640 (a stricter umask wins), in its directory's group.

    SQLite itself would create it 0644 under the usual umask; its ``-wal`` and ``-shm``
    files copy the main file's mode, so they follow.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
    except FileExistsError:
        return
    os.close(fd)
    try:
        os.chown(path, -1, path.parent.stat().st_gid)
    except OSError:  # not a member of the directory's group: keep ours
        pass


#: per thread, the seconds its commits have taken (:func:`commit_seconds`)
_commit_clock = threading.local()


def commit_seconds() -> float:
    """The seconds this thread has spent committing so far (a COMMIT's WAL write and its fsync).

    The tap worker reads it around each batch (``privcard server --timings``), so the bench
    can tell a batch held up by the disk from one held up by its own work. On PostgreSQL a
    batch's last statement travels with its ``COMMIT`` (:func:`execute_and_commit`): that
    statement's round trip is counted as the commit.
    """
    return getattr(_commit_clock, "seconds", 0.0)


def _timed(commit):
    """Run ``commit`` and add its duration to this thread's :func:`commit_seconds`."""
    started = time.perf_counter()
    try:
        return commit()
    finally:
        _commit_clock.seconds = getattr(_commit_clock, "seconds", 0.0) + time.perf_counter() - started


class TimedSqliteDatabase(pw.SqliteDatabase):
    """SQLite whose commits are timed per thread (:func:`commit_seconds`): two clock reads a commit."""

    def commit(self):
        return _timed(super().commit)


class PipelinedPostgresqlDatabase(pw.PostgresqlDatabase):
    """PostgreSQL whose transactions cost no round trip of their own.

    ``BEGIN`` is not sent when a transaction opens but in front of its first statement
    (``BEGIN; INSERT …``: psycopg2 sends both in one message), and a transaction with no
    statement sends nothing. :func:`execute_and_commit` sends a transaction's last
    statement together with its ``COMMIT``. The tap path's batches (issue 16) cost three
    round trips fewer this way; every other transaction one fewer.
    """

    def begin(self, isolation_level=None):
        if isolation_level is not None or self._isolation_level:
            return super().begin(isolation_level)
        if self.is_closed():  # connect now, as BEGIN would have: connecting resets the transaction stack
            self.connect()
        self._state.begin_pending = True
        self._state.committed_early = False
        return None

    def _take_begin(self) -> str:
        state = self._state
        if getattr(state, "begin_pending", False):
            state.begin_pending = False
            if self.transaction_depth() > 0:  # a connection closed meanwhile has no transaction
                return "BEGIN; "
        return ""

    def execute_sql(self, sql, params=None):
        return super().execute_sql(self._take_begin() + sql, params)

    def execute_and_commit(self, sql, params=None):
        """Run the outermost transaction's last statement and its COMMIT in one round trip."""
        cursor = _timed(
            lambda: super(PipelinedPostgresqlDatabase, self).execute_sql(self._take_begin() + sql + "; COMMIT", params)
        )
        self._state.committed_early = True
        return cursor

    def commit(self):
        state = self._state
        if getattr(state, "begin_pending", False) or getattr(state, "committed_early", False):
            state.begin_pending = state.committed_early = False  # nothing sent, or already committed
            return None
        return _timed(super().commit)

    def rollback(self):
        state = self._state
        if getattr(state, "begin_pending", False) or getattr(state, "committed_early", False):
            state.begin_pending = state.committed_early = False
            return None
        return super().rollback()


def execute_and_commit(sql: str, params) -> object:
    """Run ``sql`` as the last statement of the outermost transaction: on PostgreSQL with its COMMIT.

    Anywhere else (SQLite, a nested transaction) it is an ordinary statement and the
    transaction commits when its block ends, as always.
    """
    database = db.obj
    if isinstance(database, PipelinedPostgresqlDatabase) and database.transaction_depth() == 1:
        return database.execute_and_commit(sql, params)
    return db.execute_sql(sql, params)


def make_database(url: str) -> pw.Database:
    """A peewee database from ``sqlite:///path`` or ``postgresql://user@host/db``."""
    parsed = urlparse(url)
    if parsed.scheme in ("sqlite", "sqlite3"):
        path = parsed.path if parsed.netloc in ("", "localhost") else parsed.netloc + parsed.path
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :].split("?")[0]
            # sqlite:////abs/path and sqlite:///rel/path
            path = "/" + path[1:] if path.startswith("/") else path
        if not path or path == ":memory:":
            return TimedSqliteDatabase(":memory:", pragmas=SQLITE_PRAGMAS)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _create_private(Path(path))
        return TimedSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=30, check_same_thread=False)
    if parsed.scheme in ("postgres", "postgresql"):
        # a lost PostgreSQL host must surface as an error within seconds, not hang the
        # server's worker (which also keeps its MQTT connection alive) for TCP's minutes;
        # any of these can be overridden in the URL (?connect_timeout=30)
        params = dict(PG_DEFAULTS)
        params.update({k: v[-1] for k, v in parse_qs(parsed.query).items()})
        host, port = pg_hosts(url)
        # libpq's own spelling wins: postgresql://user@/db?host=/var/run/postgresql is a Unix socket
        host = params.pop("host", None) or host
        port = params.pop("port", None) or port
        return PipelinedPostgresqlDatabase(
            parsed.path.lstrip("/") or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=host,
            port=port,
            **params,
        )
    raise StoreError("unsupported database URL %(url)r; use sqlite:///PATH or postgresql://USER@HOST/DB", url=url)


def pg_hosts(url: str) -> tuple[str | None, int | str]:
    """libpq's ``host`` and ``port`` for a PostgreSQL URL, one host or several.

    ``postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write`` (a Patroni
    cluster, docs/deployment.md "Many libraries") gives ``("h1,h2", "5432,5433")``: libpq
    tries the hosts in order and, with ``target_session_attrs=read-write``, keeps the one
    that accepts writes, so after a failover a reconnect finds the new primary.
    ``urlparse`` cannot read such a netloc (its ``.port`` raises), hence this.
    """
    netloc = urlparse(url).netloc.rpartition("@")[2]
    hosts, ports = [], []
    for part in netloc.split(","):
        part = part.strip()
        if part.startswith("["):  # [IPv6]:port
            h, _, rest = part[1:].partition("]")
            p = rest.lstrip(":")
        elif part.count(":") == 1:
            h, _, p = part.partition(":")
        else:
            h, p = part, ""
        if p and not p.isdigit():
            raise StoreError("bad port %(port)r in database URL %(url)s", port=p, url=redact(url))
        if not h and len(netloc.split(",")) > 1:
            raise StoreError("empty host in database URL %(url)s", url=redact(url))
        hosts.append(unquote(h))
        ports.append(p or "5432")
    if len(hosts) == 1:
        return (hosts[0] or None), int(ports[0])
    return ",".join(hosts), ",".join(ports)


def connect(url: str, *, upgrade_schema: bool = True) -> pw.Database:
    """Bind the models to the database at ``url`` and upgrade its schema."""
    database = make_database(url)
    db.initialize(database)
    try:
        database.connect(reuse_if_open=True)
    except pw.OperationalError as exc:
        raise StoreError(
            "cannot open database %(url)s: %(error)s", url=redact(url), error=" ".join(str(exc).split())
        ) from None
    if upgrade_schema:
        upgrade()
    return database


def is_sqlite() -> bool:
    """True when the bound database is SQLite."""
    return isinstance(db.obj, pw.SqliteDatabase)


def write_transaction():
    """A write transaction; on SQLite ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking."""
    return db.atomic("IMMEDIATE") if is_sqlite() else db.atomic()


def redact(url: str) -> str:
    """A URL with its password hidden, for logs."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def bump(key: str) -> int:
    """Increase a counter (inside the caller's transaction) and return it."""
    Counter.insert(key=key, value=1).on_conflict(
        conflict_target=[Counter.key], update={Counter.value: Counter.value + 1}
    ).execute()
    return Counter.get(Counter.key == key).value


def counter(key: str) -> int:
    """Read a counter."""
    return _version(key)


# ---------------------------------------------------------------------- waiting on PostgreSQL


class _WaitWork:
    """What a thread does while its PostgreSQL statement runs (see :func:`work_while_waiting`)."""

    def __init__(self, fileno, wanted, work):
        self.fileno, self.wanted, self.work = fileno, wanted, work


#: thread ident → its :class:`_WaitWork`
_wait_work: dict[int, _WaitWork] = {}
#: psycopg2's poll states, read once when the callback is installed (not imported on every wait)
_POLL: dict[str, int] = {}


def work_while_waiting(fileno, wanted, work) -> None:
    """While this thread waits for PostgreSQL, do ``work()`` whenever ``fileno()`` is readable and ``wanted()``.

    The tap worker's statements are round trips to another process: a batch's write and
    COMMIT take 1-12 ms there while the worker would sit idle, and MQTT messages that
    arrive meanwhile wait for the next batch to be read. With this hook the worker reads
    them during the wait (``work`` only files them in its inbox: it must not touch the
    database), so the next batch starts as soon as the answers of this one are out.
    The statement's result is looked at first every time it is ready, so the wait never
    lasts longer than the statement. ``fileno()`` may return None (not connected).

    It uses psycopg2's wait callback (its hook for coroutine libraries): libpq runs
    asynchronously and psycopg2 calls :func:`_wait` instead of blocking. That callback
    is for the whole process; threads that registered nothing wait as before.
    """
    import psycopg2.extensions

    _POLL.update(
        ok=psycopg2.extensions.POLL_OK, read=psycopg2.extensions.POLL_READ, write=psycopg2.extensions.POLL_WRITE
    )
    if psycopg2.extensions.get_wait_callback() is not _wait:
        psycopg2.extensions.set_wait_callback(_wait)
    _wait_work[threading.get_ident()] = _WaitWork(fileno, wanted, work)


def stop_working_while_waiting() -> None:
    """This thread's waits are plain waits again."""
    _wait_work.pop(threading.get_ident(), None)


def _wait(conn) -> None:
    """psycopg2's wait callback: poll the connection until its operation is done, working meanwhile."""
    POLL_OK, POLL_READ, POLL_WRITE = _POLL["ok"], _POLL["read"], _POLL["write"]
    extra = _wait_work.get(threading.get_ident())
    while True:
        state = conn.poll()
        if state == POLL_OK:
            return
        fd = conn.fileno()
        if state == POLL_READ:
            rl, wl = [fd], []
        elif state == POLL_WRITE:
            rl, wl = [], [fd]
        else:  # pragma: no cover - libpq has no other state
            raise pw.OperationalError(f"unexpected state from PostgreSQL's poll(): {state}")
        other = None
        if extra is not None:
            try:
                other = extra.fileno() if extra.wanted() else None
            except Exception:  # the extra work never gets in the way of the database's
                log.exception("work while waiting for PostgreSQL failed; waiting plainly")
                extra = None
        if other is None:
            select.select(rl, wl, [])
            continue
        ready_r, ready_w, _ = select.select([*rl, other], wl, [])
        if fd in ready_r or fd in ready_w:
            continue  # the database first: the wait never outlasts the statement
        try:
            extra.work()
        except Exception:
            log.exception("work while waiting for PostgreSQL failed; waiting plainly")
            extra = None
