"""The programme in force, kept in the database and followed by every process (issue 13).

Tables (migration namespace ``programme_live``): ``programme_version`` (every version of
the programme as a TOML document: who, when, what changed), ``campaign`` (promotions),
``prize_draw`` (draws and ranking prizes), and ``ledger_entry.campaign`` (what each
campaign gave a credit: ``code:+N;code:+M``).

How replicas follow a change without a restart: every change bumps the ``programme``
counter (in the ``meta`` table) in the transaction that writes it. :class:`Live` holds
the programme a process uses and the campaigns compiled for it; it reads that one
counter — by primary key — at most once per tap batch (:meth:`Live.sync`, called by the
tap path inside the batch's transaction) or once per :data:`CHECK_S` elsewhere
(:meth:`Live.current`), and rebuilds only when it moved. Until the first change the
database holds no version and each process uses the file it was started with (as
before); the first change records that file as version 1.
"""

from __future__ import annotations

import json
import logging
import time
import tomllib
from dataclasses import replace
from datetime import timedelta

import peewee as pw
from playhouse.migrate import migrate

from server import store
from server.domain import campaigns as camp
from server.domain.config import ConfigError, Programme, build
from server.store import JSONField, UTCDateTimeField, utcnow

log = logging.getLogger(__name__)

#: how often a process outside the tap path looks at the version counter
CHECK_S = 0.5
#: the meta counter every change of the programme or of a campaign bumps
COUNTER = "programme"
#: campaigns that ended this long ago are no longer compiled (no tap can be dated that far back)
CAMPAIGN_HORIZON = timedelta(days=400)


class ProgrammeVersion(store.BaseModel):
    """One version of the whole programme, as the TOML document that builds it."""

    version = pw.IntegerField(unique=True)
    document = pw.TextField()
    actor = pw.CharField(max_length=64)
    at = UTCDateTimeField(default=utcnow)
    section = pw.CharField(max_length=64, default="")  # what changed (a section, "import", "seed")
    note = pw.CharField(max_length=300, null=True)


class CampaignRow(store.BaseModel):
    """A promotion (validated by :func:`server.domain.campaigns.validate` from ``spec``)."""

    code = pw.CharField(max_length=40, unique=True)
    spec = JSONField()  # the staff input, as validated (times as ISO text with offset)
    starts = UTCDateTimeField()
    ends = UTCDateTimeField()
    ended_at = UTCDateTimeField(null=True)  # ended early (``campaign end``)
    actor = pw.CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "campaign"


class PrizeDraw(store.BaseModel):
    """A prize draw or a ranking's prizes: filters, seed (before running), eligible list, winners."""

    name = pw.CharField(max_length=200)
    kind = pw.CharField(max_length=16, default="draw")  # draw | ranking
    filters = JSONField()  # group, tier, term, min_points, tickets, winners / ranking kind, top
    prize = JSONField(null=True)  # {"points": N} or {"reward": code, "units": n}
    seed = pw.CharField(max_length=64, null=True)
    commitment = pw.CharField(max_length=64, null=True)
    eligible = JSONField(null=True)  # [[member_id, tickets], ...] canonical, frozen when run
    winners = JSONField(null=True)  # [member_id, ...]
    state = pw.CharField(max_length=16, default="created")  # created | run | awarded
    actor = pw.CharField(max_length=64)
    created_at = UTCDateTimeField(default=utcnow)
    run_at = UTCDateTimeField(null=True)
    awarded_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "prize_draw"


def _m1_tables(migrator) -> None:
    store.db.create_tables([ProgrammeVersion, CampaignRow, PrizeDraw], safe=True)
    if "campaign" not in {c.name for c in store.db.get_columns("ledger_entry")}:
        migrate(migrator.add_column("ledger_entry", "campaign", pw.CharField(max_length=200, null=True)))


def _m2_campaign_lists(migrator) -> None:
    """A campaign's activities, groups and tiers stored as lists of codes.

    Until December 2026 ``campaign add`` stored them as staff gave them: the CLI's text
    (``"STU,FAC"``), the console's list. The text read back as one string, so the console
    listed it letter by letter and the patron page matched a member's group as a substring
    of it. Rewritten here as :func:`server.domain.campaigns.listed` reads them; a list is kept.
    """
    rows = store.db.execute_sql('SELECT "id", "spec" FROM "campaign"').fetchall()
    for row_id, text in rows:
        spec = json.loads(text)
        lists = {key: camp.listed(spec.get(key)) for key in ("activities", "groups", "tiers") if key in spec}
        if all(spec[key] == value for key, value in lists.items()):
            continue
        for key, value in lists.items():
            if value:
                spec[key] = list(dict.fromkeys(value))
            else:
                spec.pop(key)
        CampaignRow.update(spec=spec).where(CampaignRow.id == row_id).execute()


store.register_migration("programme_live", [_m1_tables, _m2_campaign_lists])


def campaign_of(row: CampaignRow, prog: Programme) -> camp.Campaign:
    """A stored campaign, validated again against the programme (ConfigError if it no longer fits)."""
    c = camp.validate(row.spec, prog, campaign_id=row.id)
    if row.ended_at is not None:  # at that instant (``Campaign.until``), not the start of its minute
        c = replace(c, stopped=row.ended_at)
    return c


class Live:
    """The programme a process uses now, and its compiled campaigns; follows the database."""

    def __init__(self, base: Programme):
        self.base = base
        self.version = 0  # 0: the file this process started with (no version stored yet)
        self.prog, self.campaigns = camp.compile_campaigns((), base)
        self.document = base
        self._seen: int | None = None
        self._checked = 0.0

    @property
    def counter(self) -> int | None:
        """The programme counter the programme in force was loaded at (None: not read yet)."""
        return self._seen

    def current(self) -> Programme:
        """The programme in force (looks at the counter at most every :data:`CHECK_S`)."""
        now = time.monotonic()
        if now - self._checked >= CHECK_S and store.db.obj is not None:
            self._checked = now
            self.sync()
        return self.prog

    def sync(self, *, force: bool = False, value: int | None = None) -> None:
        """Reload if the version counter moved (one primary-key read); the tap path calls it per batch.

        ``value``: the counter as the caller already read it (the PostgreSQL tap path reads it
        with the batch's cards, in the same statement).
        """
        if value is None:
            value = store.counter(COUNTER)
        if value == self._seen and not force:
            return
        self.reload()
        # only now: a thread that reads ``counter`` before ``prog`` never pairs this counter with
        # the programme before it (the tap path's write from memory is guarded by the counter)
        self._seen = value

    def reload(self) -> None:
        """Build the stored programme and compile its campaigns (a bad stored version is logged, kept out)."""
        row = ProgrammeVersion.select().order_by(ProgrammeVersion.version.desc()).first()
        prog, version = self.base, 0
        if row is not None:
            try:
                prog, version = build(tomllib.loads(row.document)), row.version
            except (ConfigError, tomllib.TOMLDecodeError) as exc:
                log.error(
                    "programme version %s cannot be used (%s); keeping version %s", row.version, exc, self.version
                )
                prog, version = self.document, self.version
        horizon = utcnow() - CAMPAIGN_HORIZON
        found = []
        for r in CampaignRow.select().where(CampaignRow.ends >= horizon).order_by(CampaignRow.id):
            try:
                found.append(campaign_of(r, prog))
            except ConfigError as exc:
                log.warning("campaign %s does not fit programme version %s: %s (ignored)", r.code, version, exc)
        compiled_prog, compiled = camp.compile_campaigns(found, prog)
        self.document, self.version = prog, version
        self.prog, self.campaigns = compiled_prog, compiled
        if version:
            log.info("programme version %s in force (%d campaigns)", version, len(compiled))
