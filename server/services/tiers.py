"""Silver and gold, and the points privilege levels follow (issue 13).

A tier change is a ledger entry of 0 points (activity ``tier``, source ``tier``, item
``silver→gold``, note = the reason), so it shows in every history — the CLI's, the
console's member page, the kiosk's — in order with the points; it is never voided (staff
set the tier again). Points earned in the term are the sum of the member's activity
entries (voids of them included) whose business day is in the term
(:func:`server.domain.rules.term_period`): redeeming or transferring points away does not
lower them. The tap path asks for them only when a points rule could promote the member
(:meth:`server.services.taps.Taps`), so the default programme costs no extra query per tap.
"""

from __future__ import annotations

from datetime import date

import peewee as pw

from server.domain import rules
from server.domain.config import Programme
from server.services.errors import ServiceError
from server.store import LedgerEntry, Member

#: how a member got their tier
TIER_BASES = ("manual", "group", "points", "default")


def earned_in_term(prog: Programme, member_id: int, group: str | None, day: date) -> int:
    """Points credited by activities in the term containing ``day``, net of voids."""
    _label, start, end = rules.term_period(group, day, prog)
    return (
        LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0))
        .where(
            (LedgerEntry.member == member_id)
            & (LedgerEntry.activity.in_(list(prog.activities)))
            & (LedgerEntry.day.between(start, end))
        )
        .scalar()
    )


def level_points(prog: Programme, m: Member, day: date) -> int:
    """The points a member's privilege levels follow under ``privileges.basis``."""
    if prog.privilege_basis == "balance":
        return m.balance
    return earned_in_term(prog, m.id, m.group, day)


def privilege_level(prog: Programme, m: Member, day: date) -> dict:
    """The member's privileges now, by the programme's basis and their tier's tables.

    ``{"basis", "points", "term", "privileges"}``: ``points`` are the points the level
    follows, ``term`` the term they were earned in (label, first and last day).
    """
    label, start, end = rules.term_period(m.group, day, prog)
    points = level_points(prog, m, day)
    return {
        "basis": prog.privilege_basis,
        "points": points,
        "term": {"label": label, "start": start.isoformat(), "end": end.isoformat()},
        "privileges": rules.privileges(points, prog, m.tier, spendable=m.balance),
    }


def change_tier(ledger, m: Member, tier: str, reason: str, basis: str, actor: str, day: date | None = None) -> bool:
    """Move a member to ``tier`` with a recorded reason (inside the caller's transaction); False if already there."""
    if tier not in ledger.prog.tiers:
        raise ServiceError("tier must be one of %(tiers)s, got %(tier)r", tiers=", ".join(ledger.prog.tiers), tier=tier)
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise ServiceError("a reason is required to change a tier")
    if basis not in TIER_BASES:
        raise ServiceError("unknown tier basis %(basis)r", basis=basis)
    old = m.tier
    now = ledger.clock()
    Member.update(tier=tier, tier_basis=basis, updated_at=now).where(Member.id == m.id).execute()
    if old == tier:
        return False
    site = getattr(m, "home_site", None)  # a member's tier is theirs: counted at their home site, as a sign-up
    LedgerEntry.create(
        member=m.id,
        activity="tier",
        points=0,
        day=day or rules.day_at(ledger.prog, site, now),
        item=f"{old}→{tier}",
        at=now,
        source="tier",
        note=reason[:300],
        actor=actor,
        site=site,
        created_at=now,
    )
    ledger.audit(actor, "member.tier", m.id, old=old, new=tier, reason=reason[:300], basis=basis)
    m.tier = tier
    return True


def maybe_promote(ledger, m: Member, day: date, actor: str) -> str | None:
    """Promote a member whose points earned in the term reach a tier's ``earned_at`` (the new tier, or None)."""
    prog = ledger.prog
    if rules.points_rule_threshold(m.tier, prog) is None:
        return None
    earned = earned_in_term(prog, m.id, m.group, day)
    new = rules.promotion(m.tier, earned, prog)
    if new is None:
        return None
    label = rules.term_period(m.group, day, prog)[0]
    reason = f"{earned} points earned in {label} (promotion at {prog.tier_rules[new].earned_at})"
    change_tier(ledger, m, new, reason, "points", actor, day)
    return new
