"""Read-side queries of the console: member search, ledger pages, the dashboard.

Writes go through the service layer (:mod:`server.services`); these are the reads the
service layer has no use for. Every query here is shaped to use an index: member
id and card UID are primary keys, names are found by a prefix range over
``lower(name)`` (the ``web_member_lower_name`` expression index), ledger pages by
keyset on ``(member, id)``, today's taps by ``received_at``.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import UTC, date, datetime, time, timedelta

import peewee as pw

from broker import contract
from server import store
from server.domain import rules
from server.services.sites import view as site_view
from server.store import Card, Device, Fee, LedgerEntry, Member, TapInbox

HEX_RE = re.compile(r"^[0-9A-F]{2,20}$")


def _next_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no such bound).

    A prefix ending in U+10FFFF, the last code point, has no successor there: its bound is
    the successor of the prefix before it.
    """
    prefix = prefix.rstrip(chr(0x10FFFF))
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


def _name_prefix(term: str):
    """``lower(name)`` starts with ``term`` (index range on SQLite, text_pattern_ops LIKE on PostgreSQL)."""
    lowered = pw.fn.lower(Member.name)
    if store.is_sqlite():
        upper = _next_prefix(term)
        return (lowered >= term) if upper is None else (lowered >= term) & (lowered < upper)
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return pw.Expression(lowered, "LIKE", escaped + "%")


def _name_word(term: str):
    """A later word of the name starts with ``term`` (a scan; used only to top up)."""
    func = (
        pw.fn.instr(pw.fn.lower(Member.name), " " + term)
        if store.is_sqlite()
        else pw.fn.strpos(pw.fn.lower(Member.name), " " + term)
    )
    return func > 0


def search_members(text: str | None, limit: int = 50) -> list[Member]:
    """Members by id, card UID (exact or prefix) or name (prefix of the name or of a later word).

    Ordered: exact id, exact card, card prefix, name prefix, word prefix. Input is
    only ever a bound parameter, so SQL-looking text is just a name nobody has.
    """
    # lone surrogates (not text: no name holds one, and the database driver refuses them) are dropped
    term = "".join(ch for ch in (text or "") if not 0xD800 <= ord(ch) <= 0xDFFF).strip()[:100]
    if not term:
        return list(Member.select().order_by(Member.id.desc()).limit(limit))
    found: dict[int, Member] = {}

    def add(query) -> None:
        for m in query.limit(limit - len(found)) if len(found) < limit else []:
            found.setdefault(m.id, m)

    if re.fullmatch(r"\d{1,9}", term):
        add(Member.select().where(Member.id == int(term)))
    hexs = re.sub(r"[\s:-]", "", term).upper()
    if HEX_RE.match(hexs):
        add(Member.select().join(Card, on=(Card.member == Member.id)).where(Card.uid == hexs))
        if len(hexs) >= 4:
            add(
                Member.select()
                .join(Card, on=(Card.member == Member.id))
                .where((Card.uid > hexs) & (Card.uid < _next_prefix(hexs)))
                .order_by(Card.uid)
            )
    if found and (term.isdigit() or (len(hexs) >= 8 and HEX_RE.match(hexs))):
        return list(found.values())[:limit]  # an id or a whole card UID: no name holds it
    if term.isdigit():
        return list(found.values())[:limit]
    lowered = term.lower()
    add(Member.select().where(_name_prefix(lowered)).order_by(pw.fn.lower(Member.name), Member.id))
    if len(found) < limit and len(lowered) >= 2:
        add(Member.select().where(_name_word(lowered)).order_by(Member.id))
    return list(found.values())[:limit]


def active_cards(member_ids: list[int]) -> dict[int, str]:
    """The newest active card UID of each member."""
    out: dict[int, str] = {}
    if not member_ids:
        return out
    for c in (
        Card.select(Card.uid, Card.member)
        .where((Card.member.in_(member_ids)) & (Card.status == "active"))
        .order_by(Card.issued_at)
    ):
        out[c.member_id] = c.uid
    return out


def ledger_page(service, member_id: int, before: int | None = None, limit: int = 20) -> tuple[list[dict], int | None]:
    """A page of the member's ledger, newest first (keyset on id); (entries, next ``before``)."""
    q = LedgerEntry.select().where(LedgerEntry.member == member_id)
    if before:
        q = q.where(LedgerEntry.id < before)
    rows = list(q.order_by(LedgerEntry.id.desc()).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r.id for r in rows]
    voided = (
        {e.void_of_id for e in LedgerEntry.select(LedgerEntry.void_of).where(LedgerEntry.void_of.in_(ids))}
        if ids
        else set()
    )
    out = [dict(e, at_dt=r.at) for r, e in zip(rows, service.ledger.entry_dicts(rows, voided), strict=True)]
    return out, (rows[-1].id if more else None)


def ledger_names(entries: list[dict]) -> dict:
    """The names a ledger page shows for its campaigns' and draws' codes:
    ``{"campaigns": {code: {"th", "en"}}, "draws": {id: name}}`` (two primary-key/unique lookups)."""
    from server.domain.campaigns import split_tag
    from server.services.live import CampaignRow, PrizeDraw

    codes = {code for e in entries for code, _n in split_tag(e.get("campaign"))}
    draws = {
        int(e["item"][5:])
        for e in entries
        if e.get("activity") == "prize" and (e.get("item") or "").startswith("draw:") and e["item"][5:].isdigit()
    }
    return {
        "campaigns": {
            r.code: {"th": r.spec.get("th") or r.code, "en": r.spec.get("en") or r.code}
            for r in (CampaignRow.select().where(CampaignRow.code.in_(list(codes))) if codes else [])
        },
        "draws": {
            r.id: r.name
            for r in (
                PrizeDraw.select(PrizeDraw.id, PrizeDraw.name).where(PrizeDraw.id.in_(list(draws))) if draws else []
            )
        },
    }


def member_names(ids: list[int]) -> dict[int, str]:
    """Members' names by id (a ranking's list, a draw's eligible members)."""
    ids, out = list(ids), {}
    for i in range(0, len(ids), 900):  # a draw's whole eligible list: keep under SQLite's bound-variable limit
        chunk = ids[i : i + 900]
        out.update((m.id, m.name) for m in Member.select(Member.id, Member.name).where(Member.id.in_(chunk)))
    return out


def fees(member_id: int) -> list[Fee]:
    """Money taken from the member (joining, card replacement), newest first."""
    return list(Fee.select().where(Fee.member == member_id).order_by(Fee.id.desc()).limit(20))


def day_bounds(day: date, prog) -> tuple[datetime, datetime]:
    """The UTC instants where the library's business day ``day`` starts and ends."""
    start = datetime.combine(day, time.min).replace(tzinfo=prog.tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min).replace(tzinfo=prog.tz).astimezone(UTC)
    return start, end


def device_rows(visible: set | None = None) -> list[dict]:
    """Every device (or those whose ids are ``visible``) with its live status, for the dashboard and devices page."""
    out = []
    for d in Device.select().order_by(Device.kind, Device.id):
        if visible is not None and d.id not in visible:
            continue
        status = d.status or {}
        out.append(
            {
                "id": d.id,
                "kind": d.kind,
                "direction": d.direction,
                "activity": d.activity,
                "location": d.location,
                "site": d.site,
                "state": d.state or "unknown",
                "last_seen": d.last_seen,
                "outbox": status.get("outbox"),
                "reader": status.get("reader"),
                "version": status.get("version"),
                "clock_ok": status.get("clock_ok"),
                "error": status.get("error"),
                "revision": d.revision,
                "published": d.published_revision >= d.revision,
                "settings": d.settings or {},
                "retired_at": d.retired_at,
            }
        )
    return out


def device_taps(device: str, limit: int):
    """A device's latest taps by the tap's own time, newest first (its page): taps a gate kept in its
    outbox while offline arrive late, and arrival order put an hour-old tap above this minute's.
    Read backwards along the ``tap_inbox (device, at)`` index, ``limit`` rows: no sort on SQLite (the
    rowid is the index's last column), on PostgreSQL only taps of the very same instant put in id order."""
    return (
        TapInbox.select().where(TapInbox.device == device).order_by(TapInbox.at.desc(), TapInbox.id.desc()).limit(limit)
    )


def latest_taps(limit: int = 15, device: str | None = None, devices: list | None = None) -> list[dict]:
    """The newest taps the server decided (at ``devices`` when given), with member names."""
    q = TapInbox.select().order_by(TapInbox.received_at.desc(), TapInbox.id.desc()).limit(limit)
    if devices is not None:
        q = q.where(TapInbox.device.in_(devices or [""]))
    if device:
        q = device_taps(device, limit)
    rows = list(q)
    names = (
        {
            m.id: m.name
            for m in Member.select(Member.id, Member.name).where(Member.id.in_([r.member for r in rows if r.member]))
        }
        if rows
        else {}
    )
    return [
        {
            "id": r.id,
            "device": r.device,
            "uid": r.uid,
            "at": r.at,
            "received_at": r.received_at,
            "outcome": r.outcome,
            "points": r.points,
            "member": r.member,
            "name": names.get(r.member),
            "activity": (r.result or {}).get("activity"),
        }
        for r in rows
    ]


def audit_targets(refs, ledger=None) -> dict:
    """What the audit log's targets and the ids in its details name, read by primary key: ``refs``
    is ``[(kind, target)]`` (kinds of :data:`server.web.labels.AUDIT_TARGETS` and
    :data:`server.web.labels.DETAIL_IDS`); the answer, by kind, what
    :func:`server.web.labels.audit_target` and :func:`server.web.labels.audit_pairs` show: member
    names, card holders (id and name), entries' holders and activities (``ledger`` names an
    activity as the entry's site names it), devices, campaigns' names, draws' and events' names,
    API tokens' labels and owners.
    """
    from server.services.live import CampaignRow, PrizeDraw
    from server.store import Event
    from server.web.accounts import ApiToken, Staff

    wanted: dict[str, set] = {}
    for kind, target in refs:
        if target:
            wanted.setdefault(kind, set()).add(str(target).strip())

    def ids(kind: str) -> list[int]:
        return sorted(int(t) for t in wanted.get(kind, ()) if t.isdigit() and int(t) < 2**63)

    found: dict[str, dict] = {}
    if ids("member"):
        found["member"] = dict(Member.select(Member.id, Member.name).where(Member.id.in_(ids("member"))).tuples())
    if wanted.get("card"):
        q = Card.select(Card.uid, Member.id, Member.name).join(Member).where(Card.uid.in_(sorted(wanted["card"])))
        found["card"] = {uid: (mid, name) for uid, mid, name in q.tuples()}
    if ids("entry"):
        rows = list(LedgerEntry.select(LedgerEntry, Member).join(Member).where(LedgerEntry.id.in_(ids("entry"))))
        shown = {e["id"]: e for e in ledger.entry_dicts(rows)} if ledger is not None else {}
        found["entry"] = {
            r.id: {"member": r.member.id, "name": r.member.name, "label": shown.get(r.id, {}).get("label")}
            for r in rows
        }
    if wanted.get("device"):
        found["device"] = {d.id: d for d in Device.select().where(Device.id.in_(sorted(wanted["device"])))}
    if wanted.get("campaign"):
        q = CampaignRow.select(CampaignRow.code, CampaignRow.spec).where(
            CampaignRow.code.in_(sorted(wanted["campaign"]))
        )
        found["campaign"] = {code: {"th": spec.get("th"), "en": spec.get("en")} for code, spec in q.tuples()}
    if ids("draw"):
        found["draw"] = dict(
            PrizeDraw.select(PrizeDraw.id, PrizeDraw.name).where(PrizeDraw.id.in_(ids("draw"))).tuples()
        )
    if ids("event"):
        found["event"] = dict(Event.select(Event.id, Event.name).where(Event.id.in_(ids("event"))).tuples())
    if ids("token"):
        q = (
            ApiToken.select(ApiToken.id, ApiToken.label, Staff.username)
            .join(Staff)
            .where(ApiToken.id.in_(ids("token")))
        )
        found["token"] = {tid: (label, username) for tid, label, username in q.tuples()}
    return found


def _today_by_site(service, sites: list[str] | None) -> tuple[dict, dict, dict]:
    """Each site's own today (the "which day" of a tap is its device's site's): ``{site: day}``,
    the sites grouped by day and the sites grouped by the UTC bounds of their day (a zone each)."""
    prog = service.prog
    now = service.ledger.clock()
    days, by_day, by_bounds = {}, {}, {}
    for code in list(prog.sites) if sites is None else sites:
        view = site_view(prog, code)
        day = days[code] = rules.business_day(now, view)
        by_day.setdefault(day, []).append(code)
        by_bounds.setdefault(day_bounds(day, view), []).append(code)
    return days, by_day, by_bounds


def dashboard(service, scope=None) -> dict:
    """Everything the dashboard shows, in a handful of indexed queries (a site-scoped account: its sites).

    "Today" is each site's own day, in its own time zone: taps are read with one query per
    time zone (one, usually), entries with one query whatever the sites' days.
    """
    prog = service.prog
    sites = None if scope is None else service.sites.report_sites(scope)
    days, by_day, by_bounds = _today_by_site(service, sites)
    on_site = service.sites.device_sites()

    def devices_of(codes) -> list[str]:
        return [d for d, s in on_site.items() if s in codes]

    devices_at = None if sites is None else devices_of(sites)
    # one query per time zone over its day's taps (the received_at index), kept by device here:
    # a day's rows are a handful per outcome and device, and a device's index would read its every tap
    outcomes: dict[str, int] = {}
    for (start, end), codes in by_bounds.items():
        if sites is None and prog.default_site in codes:  # the default site's: any device not elsewhere
            devices, inside = set(devices_of([c for c in days if c not in codes])), False
        else:
            devices, inside = set(devices_of(codes)), True
        taps = (
            TapInbox.select(TapInbox.outcome, TapInbox.device, pw.fn.COUNT(TapInbox.id))
            .where((TapInbox.received_at >= start) & (TapInbox.received_at < end))
            .group_by(TapInbox.outcome, TapInbox.device)
        )
        for outcome, device, n in taps.tuples():
            if (device in devices) == inside:
                outcomes[outcome] = outcomes.get(outcome, 0) + n
    earning = list(prog.activities)
    # one pass over today's rows of the (day, activity) index for both numbers
    visitor = pw.Case(
        None,
        [
            ((LedgerEntry.activity == "entry") & (LedgerEntry.points > 0), 1),
            ((LedgerEntry.activity == "entry") & (LedgerEntry.points < 0), -1),
        ],
        0,
    )
    today_q = LedgerEntry.select(
        pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.points), 0), pw.fn.COALESCE(pw.fn.SUM(visitor), 0)
    ).where(LedgerEntry.day.in_(list(by_day)) & (LedgerEntry.activity.in_(earning)))
    if sites is not None or len(by_day) > 1:  # each site's entries of its own day
        conds = []
        for day, codes in by_day.items():
            cond = service.sites.entry_condition(codes)
            if sites is None and prog.default_site in codes:
                # the combined view counts every entry, as it does when the sites share a day: one made at a
                # site since removed from the programme is counted on the default site's (the programme's) day
                cond |= LedgerEntry.site.not_in(list(prog.sites))
            conds.append((LedgerEntry.day == day) & cond)
        today_q = today_q.where(functools.reduce(operator.or_, conds))
    points_today, visitors = today_q.tuples().get()
    devices = device_rows(None if devices_at is None else set(devices_at))
    taps = latest_taps(15, devices=devices_at)
    by_id = {d["id"]: d for d in devices}
    for t in taps:  # where each tap was made, for its device's name (labels.device_name) and site
        dev = by_id.get(t["device"])
        t["device_info"] = (
            {k: dev[k] for k in ("kind", "direction", "location")} | {"site": dev["site"] or prog.default_site}
            if dev
            else None
        )
    return {
        # the sites' day when they share one, else the programme's with each site's own beside it
        "today": next(iter(by_day)) if len(by_day) == 1 else service.today(),
        "site_days": days if len(by_day) > 1 else {},
        "taps_today": sum(outcomes.values()),
        "outcomes": outcomes,
        "credited_today": outcomes.get("credited", 0),
        "points_today": int(points_today or 0),
        "visitors_today": int(visitors or 0),
        "devices": devices,
        "online": sum(1 for d in devices if d["state"] == "online"),
        "offline": sum(1 for d in devices if d["state"] != "online"),
        "taps": taps,
        # the account sees several sites: each tap says its site
        "several_sites": len(prog.sites if sites is None else sites) > 1,
    }


def fmt_time(when: datetime | None) -> str | None:
    """ISO-8601 with offset for JSON."""
    return contract.format_time(when) if when else None
