"""Reads: the kiosk's answer to a card, a member's statistics, members, devices and
entries as JSON for the CLI, the API and the console.

Reads that must agree with each other (a member, their balance, history and statistics)
run in one read unit (:func:`server.services.retry.read_unit`). The console's own
page-shaped reads live in ``server.web.queries``.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

import peewee as pw

from broker import contract
from broker.contract import Answer, Query
from server import sun
from server.domain import rules
from server.services import members, tiers
from server.services.devices import Devices, Refused
from server.services.ledger import Ledger, LiveProgramme
from server.services.retry import read_unit
from server.store import Card, Device, LedgerEntry, Member

log = logging.getLogger(__name__)


class Reads:
    """What the entry points show."""

    prog = LiveProgramme()

    def __init__(self, ledger: Ledger, devices: Devices, keyring: sun.Keyring | None = None, ils=None):
        self.keyring = keyring
        self.ils = ils  # server.services.ils.Ils: fines owed, when a library system is linked
        self.ledger = ledger
        self.devices = devices
        self.clock = ledger.clock

    def answer_query(self, device_id: str, query: Query) -> Answer:
        """Balance, tier, privileges and the last 20 entries for a card (one snapshot).

        Only a registered, active device whose kind may query (a kiosk) is answered;
        anything else gets ``invalid`` with the reason and nothing about the card.
        """
        try:
            kiosk = self.devices.authorise(device_id, "query")
        except Refused as refused:
            return Answer(
                query.query_id, "invalid", message={"th": rules.message("invalid")["th"], "en": refused.reason}
            )
        with read_unit():
            answer = self._answer(query, kiosk.site)
            patron_id = None
            if answer.outcome == "member" and self.ils is not None and self.ils.configured:
                patron_id = Member.select(Member.patron_id).where(Member.id == answer.member["id"]).scalar()
        if patron_id:  # outside the read unit: the ILS answers within its kiosk budget or not at all
            answer = dataclasses.replace(answer, ils=self.ils.kiosk(patron_id))
        return answer

    def _answer(self, query: Query, site: str | None = None) -> Answer:
        card = Card.get_or_none(Card.uid == query.uid)
        if card is None:
            return Answer(query.query_id, "unknown_card", message=rules.message("unknown_card"))
        member = Member.get_by_id(card.member_id)
        today = self.ledger.today()
        summary = {
            "id": member.id,
            "name": member.name,
            "tier": member.tier,
            "group": member.group,
            "valid_until": member.valid_until.isoformat() if member.valid_until else None,
            "staff": bool(member.staff),
            "card": card.uid,
        }
        # no PIN hash: a staff PIN is checked by the server (server.services.staff)
        if card.status != "active" or member.status != "active":
            return Answer(query.query_id, "card_blocked", member=summary, message=rules.message("card_blocked"))
        if member.valid_until and today > member.valid_until:
            return Answer(query.query_id, "expired", member=summary, message=rules.message("expired"))
        if card.sun and not self._genuine(query, card):
            return Answer(query.query_id, "card_not_genuine", message=rules.message("card_not_genuine"))
        return Answer(
            query_id=query.query_id,
            outcome="member",
            member=summary,
            balance=member.balance,
            privileges=self.privileges(member, today),
            history=self.ledger.history(member.id, 20),
            # "today" at the kiosk is its site's day, the day the gate beside it credits (a
            # member's validity and term stay the programme's)
            stats=self.stats(member.id, today, rules.day_at(self.prog, site, self.clock())),
            message={"th": "", "en": ""},
        )

    def privileges(self, m: Member, today: date) -> dict:
        """The privileges as devices and JSON show them: the tables, plus which points count.

        ``basis`` (``earned_in_term`` or ``balance``), ``level_points`` (the points the
        levels follow) and ``term`` (its label) tell the kiosk what to say.
        """
        level = tiers.privilege_level(self.prog, m, today)
        return {
            **level["privileges"],
            "basis": level["basis"],
            "level_points": level["points"],
            "term": level["term"]["label"],
        }

    def _genuine(self, query: Query, card: Card) -> bool:
        """Whether a secured card's query carries a valid SUN URL not older than the last accepted tap.

        A query only reads, so it does not raise the counter: the kiosk may ask again with
        the same read (a retry, a staff probe), but a URL older than the card's last
        accepted tap is refused. Points are only ever earned on the tap path.
        """
        try:
            if self.keyring is None:
                raise sun.NotGenuine("keys", "this server has no card keys (--card-keys)")
            counter = sun.verify(query.ndef, query.uid, self.keyring.keys(query.uid, card.sun_keys))
            if card.sun_counter is not None and counter < card.sun_counter:
                raise sun.NotGenuine("counter_back", f"read counter {counter}, last accepted {card.sun_counter}")
        except sun.NotGenuine as exc:
            log.warning("query %s: card %s not genuine (%s: %s)", query.query_id, query.uid, exc.check, exc.detail)
            return False
        return True

    def stats(self, member_id: int, today: date, site_today: date | None = None) -> dict:
        """Points earned today (``site_today``: a site's own day; default ``today``) and this semester (net of voids)."""
        label, start, end = rules.semester_of(today, self.prog)
        earning = list(self.prog.activities)
        base = LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0)).where(
            (LedgerEntry.member == member_id) & (LedgerEntry.activity.in_(earning))
        )
        return {
            "earned_today": base.where(LedgerEntry.day == (site_today or today)).scalar(),
            "earned_semester": base.where(LedgerEntry.day.between(start, end)).scalar(),
            "semester": label,
        }

    def entries(self, member_ref=None, limit: int = 100) -> list[dict]:
        """Latest ledger entries (of one member or everyone)."""
        with read_unit():
            q = LedgerEntry.select().order_by(LedgerEntry.id.desc()).limit(limit)
            if member_ref is not None:
                q = q.where(LedgerEntry.member == members.find(member_ref).id)
            return self.ledger.entry_dicts(list(q))

    def member_dict(self, m: Member, *, history: int = 0, scope=None) -> dict:
        """A member as JSON, with cards (and optionally recent history).

        Staff whose ``scope`` does not cover the member's home site see the points, not the
        member's contact details (``email``, ``patron_id`` are None, ``site_only`` is true).
        """
        own = scope is None or scope.covers(m.home_site, self.prog)
        with read_unit():
            out = {
                "id": m.id,
                "name": m.name,
                "group": m.group,
                "tier": m.tier,
                "tier_basis": m.tier_basis,
                "term_start": m.term_start.isoformat() if m.term_start else None,
                "valid_until": m.valid_until.isoformat() if m.valid_until else None,
                "status": m.status,
                "staff": bool(m.staff),
                "email": m.email if own else None,
                "phone": m.phone if own else None,
                "language": m.language or "th",
                "consent": {
                    "marketing": bool(m.consent_marketing),
                    "notices": bool(m.consent_notices),
                    "statement": bool(m.consent_statement),
                    "ranking": bool(m.consent_ranking),
                },
                "patron_id": m.patron_id if own else None,
                "home_site": m.home_site or self.prog.default_site,
                "site_only": not own,
                "balance": m.balance,
                "cards": [
                    {"uid": c.uid, "status": c.status, "issued_at": contract.format_time(c.issued_at)}
                    for c in Card.select().where(Card.member == m.id).order_by(Card.issued_at)
                ],
                "created_at": contract.format_time(m.created_at),
            }
            if history:
                out["history"] = self.ledger.history(m.id, history)
                out["privileges"] = self.privileges(m, self.ledger.today())
        return out

    def site_dict(self, site) -> dict:
        """A site as JSON: names, time zone, hours, closures, overrides, its devices."""
        from broker.settings import WEEKDAYS

        prog = self.prog
        view = prog.for_site(site.code)
        return {
            "code": site.code,
            "name": site.label,
            "timezone": site.timezone,
            "default": site.code == prog.default_site,
            "hours": {
                WEEKDAYS[i]: ("closed" if h.closed else f"{h.open:%H:%M}-{h.close:%H:%M}")
                for i, h in view.hours.items()
            },
            "closures": sorted(d.isoformat() for d in view.closures),
            "activities": sorted(site.activities),
            "partners": list(view.partners) if site.partners is not None else None,
            "devices": [
                d.id
                for d in Device.select(Device.id, Device.site).order_by(Device.id)
                if (d.site or prog.default_site) == site.code
            ],
        }

    @staticmethod
    def device_dict(d: Device) -> dict:
        """A device as JSON."""
        return {
            "id": d.id,
            "kind": d.kind,
            "direction": d.direction,
            "activity": d.activity,
            "location": d.location,
            "site": d.site,
            "settings": d.settings,
            "revision": d.revision,
            "state": d.state,
            "last_seen": contract.format_time(d.last_seen) if d.last_seen else None,
            "status": d.status,
            "retired_at": contract.format_time(d.retired_at) if d.retired_at else None,
        }
