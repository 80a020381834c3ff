"""The programme edited live (admin role) and its campaigns (issue 13, items 4 and 5).

Every change is one unit of work that writes a new ``programme_version`` (the whole
document, validated by :func:`server.domain.config.build` — a bad field is refused with
its name and nothing changes), an audit row with each changed field's old → new, and
bumps the ``programme`` counter every process follows (:mod:`server.services.live`).

Editing is generic over the programme's sections (``config.SECTIONS``): a section's
TOML text replaces it (:meth:`Programmes.set_section`); activities also have their own
operations (add/change, retire). An activity with ledger entries is never removed, only
retired (``retired = true``: no tap earns it any more, its entries keep their label).
"""

from __future__ import annotations

import tomllib
from datetime import datetime

from server import catalogue, store
from server.domain import campaigns as camp
from server.domain.config import SECTIONS, ConfigError, _merge, build, changes, default_raw, section_document, to_toml
from server.services import members as members_mod
from server.services.errors import Message, NotFound, ServiceError
from server.services.ledger import Ledger, LiveProgramme
from server.services.live import COUNTER, CampaignRow, ProgrammeVersion, campaign_of
from server.services.retry import read_unit, unit_of_work
from server.store import Device, LedgerEntry


def _refuse(exc: ConfigError) -> ServiceError:
    return ServiceError("the programme was not changed: %(why)s", why=Message.of(exc))


class Programmes:
    """Versions of the programme: export, import, change a section or an activity."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.clock = ledger.clock

    # ------------------------------------------------------------------ reading

    def version(self) -> int:
        """The version in force (0: the start-up file, nothing stored yet)."""
        self.ledger.live.sync()
        return self.ledger.live.version

    def document(self) -> dict:
        """The programme in force as a dict (campaigns excluded: they are not part of the file)."""
        self.ledger.live.sync()
        return self.ledger.live.document.raw

    def export(self) -> str:
        """The programme in force as TOML (``programme export``; the console's download)."""
        version = self.version()
        head = f"# privcard programme, version {version}, exported {self.clock():%Y-%m-%d %H:%M} UTC\n\n"
        return head + to_toml(self.document())

    def section_text(self, section: str) -> str:
        """One section as TOML (the console's section editor)."""
        try:
            return section_document(self.document(), section)
        except ConfigError as exc:
            raise ServiceError.of(exc) from None

    def versions(self, limit: int = 50) -> list[dict]:
        """The stored versions, newest first (who, when, what)."""
        with read_unit():
            rows = list(ProgrammeVersion.select().order_by(ProgrammeVersion.version.desc()).limit(limit))
        return [
            {"version": r.version, "actor": r.actor, "at": r.at, "section": r.section, "note": r.note} for r in rows
        ]

    # ------------------------------------------------------------------ changing

    def _save(self, new_raw: dict, *, actor: str, section: str, note: str | None = None, dry_run: bool = False):
        """Validate and store ``new_raw`` as the next version; returns {version, changes}."""
        try:
            build(new_raw)
        except ConfigError as exc:
            raise _refuse(exc) from None
        with unit_of_work():
            live = self.ledger.live
            live.sync()
            old_raw = live.document.raw
            diff = changes(old_raw, new_raw)
            self._check_removals(old_raw, new_raw)
            campaigns_broken = self._check_campaigns(new_raw)
            if campaigns_broken:
                raise ServiceError("the programme was not changed: %(why)s", why=campaigns_broken)
            if dry_run or not diff:
                return {"version": live.version, "changes": diff, "dry_run": dry_run}
            current = ProgrammeVersion.select().order_by(ProgrammeVersion.version.desc()).first()
            now = self.clock()
            number = current.version if current else 0
            if current is None:  # the start-up file becomes version 1
                number = 1
                ProgrammeVersion.create(
                    version=1, document=to_toml(old_raw), actor=actor, at=now, section="seed", note="start-up file"
                )
            number += 1
            ProgrammeVersion.create(
                version=number, document=to_toml(new_raw), actor=actor, at=now, section=section, note=note
            )
            self.ledger.audit(actor, "programme.change", f"version {number}", section=section, changes=diff[:200])
            store.bump(COUNTER)
            if any(c["path"].split(".")[0] in ("library", "hours") for c in diff):
                # devices are told the library's name and hours in their retained config: republish
                Device.update(revision=Device.revision + 1).execute()
        self.ledger.live.sync(force=True)
        return {"version": number, "changes": diff, "dry_run": False}

    @staticmethod
    def _check_removals(old_raw: dict, new_raw: dict) -> None:
        """An activity with ledger entries cannot be removed (retire it); a site devices still
        use cannot be removed (move or retire them first)."""
        old_sites, new_sites = set(build(old_raw).sites), set(build(new_raw).sites)
        for code in sorted(old_sites - new_sites):
            used = [
                d.id
                for d in Device.select(Device.id)
                .where((Device.site == code) & Device.retired_at.is_null())
                .order_by(Device.id)
                .limit(11)
            ]
            if used:
                raise ServiceError(
                    "the programme was not changed: site %(site)s is used by devices %(devices)s: "
                    "move them to another site or retire them first",
                    site=code,
                    devices=", ".join(used[:10]) + (", …" if len(used) > 10 else ""),
                )
        gone = set(old_raw.get("activities", {})) - set(new_raw.get("activities", {}))
        for code in sorted(gone):
            if LedgerEntry.select().where(LedgerEntry.activity == code).exists():
                raise ServiceError(
                    "the programme was not changed: activities.%(code)s has ledger entries: retire it instead",
                    code=code,
                )

    @staticmethod
    def _check_campaigns(new_raw: dict) -> Message | None:
        """A running or future campaign must still fit (an activity it names must remain)."""
        prog = build(new_raw)
        for row in CampaignRow.select().where(CampaignRow.ended_at.is_null()):
            try:
                campaign_of(row, prog)
            except ConfigError as exc:
                return Message("campaign %(code)s: %(why)s", code=row.code, why=Message.of(exc))
        return None

    def set_section(self, section: str, text: str, *, actor: str, dry_run: bool = False) -> dict:
        """Replace one section by its TOML text (the console's section editor)."""
        from server.domain.config import replace_section

        if section not in SECTIONS:
            raise ServiceError(
                "unknown section %(section)r; known: %(known)s", section=section, known=", ".join(SECTIONS)
            )
        try:
            new_raw = replace_section(self.document(), section, text)
        except ConfigError as exc:
            raise _refuse(exc) from None
        return self._save(new_raw, actor=actor, section=section, dry_run=dry_run)

    def import_toml(self, text: str, *, actor: str, dry_run: bool = False) -> dict:
        """A library's TOML file merged over the shipped defaults (as at start-up) becomes the next version."""
        try:
            new_raw = _merge(default_raw(), tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise ServiceError("not valid TOML: %(why)s", why=str(exc)) from None
        return self._save(new_raw, actor=actor, section="import", dry_run=dry_run)

    def save_activity(self, code: str, fields: dict, *, actor: str) -> dict:
        """Add an activity or change one (points, limit, window, direction, labels)."""
        raw = self.document()
        acts = dict(raw.get("activities", {}))
        entry = dict(acts.get(code, {}))
        for key, value in fields.items():
            if value in (None, ""):
                entry.pop(key, None)
            else:
                entry[key] = value
        acts[code] = entry
        return self._save({**raw, "activities": acts}, actor=actor, section="activities")

    def retire_activity(self, code: str, *, actor: str, retired: bool = True) -> dict:
        """Retire an activity (no tap earns it any more) or bring it back."""
        raw = self.document()
        if code not in raw.get("activities", {}):
            raise NotFound("no activity %(code)r", code=code)
        acts = dict(raw["activities"])
        entry = dict(acts[code])
        if retired:
            entry["retired"] = True
        else:
            entry.pop("retired", None)
        acts[code] = entry
        return self._save({**raw, "activities": acts}, actor=actor, section="activities")

    def delete_activity(self, code: str, *, actor: str) -> dict:
        """Remove an activity that has never been credited (else: retire it)."""
        raw = self.document()
        if code not in raw.get("activities", {}):
            raise NotFound("no activity %(code)r", code=code)
        acts = {k: v for k, v in raw["activities"].items() if k != code}
        return self._save({**raw, "activities": acts}, actor=actor, section="activities")


#: a campaign's choices, each stored as a list of codes (an empty choice: not stored, meaning all)
LISTS = ("activities", "groups", "tiers")


class Campaigns:
    """Dated promotions: add, list, end, and what each gave."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.clock = ledger.clock

    def add(self, spec: dict, *, actor: str) -> dict:
        """Validate and store a campaign; it applies to taps from the next batch on, in every process."""
        self.ledger.live.sync()
        prog = self.ledger.live.document
        try:
            c = camp.validate(spec, prog, groups=members_mod.known_groups(prog))  # a library's own included
        except ConfigError as exc:
            raise ServiceError("the campaign was not added: %(why)s", why=Message.of(exc)) from None
        clean = {k: v for k, v in spec.items() if v not in (None, "", [], ())}
        clean["starts"], clean["ends"] = c.starts.isoformat(), c.ends.isoformat()
        # one stored shape, a list of codes, whether typed (the CLI's "STU,FAC") or ticked (the console)
        for key in LISTS:
            clean.pop(key, None)
            if getattr(c, key):
                clean[key] = list(getattr(c, key))
        with unit_of_work():
            if CampaignRow.select().where(CampaignRow.code == c.code).exists():
                raise ServiceError("a campaign %(code)r exists already", code=c.code)
            row = CampaignRow.create(
                code=c.code, spec=clean, starts=c.starts, ends=c.until, actor=actor, created_at=self.clock()
            )
            self.ledger.audit(actor, "campaign.add", c.code, spec=clean)
            store.bump(COUNTER)
        self.ledger.live.sync(force=True)
        return self._as_dict(row, c)

    def end(self, code: str, *, actor: str, at: datetime | None = None) -> dict:
        """End a campaign now (or at ``at``): taps after it earn without it; what it gave stays."""
        when = at or self.clock()
        with unit_of_work():
            row = CampaignRow.get_or_none(CampaignRow.code == code)
            if row is None:
                raise NotFound("no campaign %(code)r", code=code)
            if row.ended_at is not None:
                raise ServiceError("campaign %(code)s has ended already", code=code)
            row.ended_at = when
            row.save()
            self.ledger.audit(actor, "campaign.end", code, at=when.isoformat())
            store.bump(COUNTER)
        self.ledger.live.sync(force=True)
        return self.get(code)

    def get(self, code: str) -> dict:
        """One campaign as a dict."""
        with read_unit():
            row = CampaignRow.get_or_none(CampaignRow.code == code)
        if row is None:
            raise NotFound("no campaign %(code)r", code=code)
        return self._as_dict(row)

    def list(self) -> list[dict]:
        """Every campaign, newest first, with what it gave so far."""
        with read_unit():
            rows = list(CampaignRow.select().order_by(CampaignRow.starts.desc(), CampaignRow.id.desc()))
            given = self.given()
        return [self._as_dict(r, given=given) for r in rows]

    def given(self) -> dict:
        """Points each campaign gave (net of voided credits): {code: {"points", "entries"}}."""
        out: dict[str, dict] = {}
        voided = {
            e.void_of_id for e in LedgerEntry.select(LedgerEntry.void_of).where(LedgerEntry.void_of.is_null(False))
        }
        q = LedgerEntry.select(LedgerEntry.id, LedgerEntry.campaign).where(LedgerEntry.campaign.is_null(False))
        for e in q:
            if e.id in voided:
                continue
            for code, n in camp.split_tag(e.campaign):
                d = out.setdefault(code, {"points": 0, "entries": 0})
                d["points"] += n
                d["entries"] += 1
        return out

    def _as_dict(self, row: CampaignRow, c: camp.Campaign | None = None, given: dict | None = None) -> dict:
        prog = self.ledger.live.document
        try:
            c = c or campaign_of(row, prog)
            describe = c.describe()
        except ConfigError as exc:
            describe = {"th": catalogue.thai_of(exc) or str(exc), "en": str(exc)}
        now = self.clock()
        ends = row.ended_at if row.ended_at and row.ended_at < row.ends else row.ends
        state = "ended" if now >= ends else ("running" if now >= row.starts else "scheduled")
        spec = row.spec
        return {
            "code": row.code,
            "th": spec.get("th") or row.code,
            "en": spec.get("en") or row.code,
            "kind": spec.get("kind"),
            "starts": spec.get("starts"),
            "ends": spec.get("ends"),
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "state": state,
            # lists (a row written before they were stored as lists held the text typed: the
            # ``programme_live`` migration rewrote those; read tolerantly all the same)
            **{key: camp.listed(spec.get(key)) for key in LISTS},
            "multiplier": spec.get("multiplier"),
            "bonus": spec.get("bonus"),
            "points": spec.get("points"),
            "limit": spec.get("limit"),
            "gives": describe,
            "given": (given or {}).get(row.code, {"points": 0, "entries": 0}),
            "actor": row.actor,
        }
