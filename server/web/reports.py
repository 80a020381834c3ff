"""Managers' reports: entries per day and hour, the semester competitions, points
per activity, segments, kiosk feedback — each a table (for the page and CSV) and,
where it helps, a server-side SVG bar chart (no JavaScript, no CDN).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape

import peewee as pw

from server import catalogue
from server.domain import rules
from server.services import ServiceError, known_groups
from server.services.sites import EVERYTHING
from server.store import Device, Feedback, LedgerEntry, Member, TapInbox
from server.web.queries import day_bounds

#: the segments report's "Who" for members without a group, and for a group the programme no longer has
NO_GROUP = {"th": "ไม่ระบุ", "en": "Not set"}
NOT_IN_PROGRAMME = {"th": "ไม่มีในโปรแกรมแล้ว", "en": "No longer in the programme"}
REPORTS = (
    "entries_daily",
    "entries_hourly",
    "top_borrowers",
    "top_users",
    "points",
    "segments",
    "feedback",
    "feedback_desk",
    "feedback_answer_time",
    "feedback_satisfaction",
    "clock_anomalies",
    "campaigns",
)
#: the days a report may start or end on (a business day's bounds must be computable)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


@dataclass
class Report:
    """One report: column keys with labels, rows, and an optional chart."""

    name: str
    columns: list  # (key, {"th","en"})
    rows: list = field(default_factory=list)  # dicts
    chart: list | None = None  # (label, value); a label is text or {"th","en"}, read in the page's language

    def csv(self, lang: str = "en") -> str:
        """UTF-8 CSV text (with a BOM so spreadsheet programs read Thai)."""
        buf = io.StringIO()
        buf.write("\ufeff")
        w = csv.writer(buf)
        w.writerow([label[lang] for _, label in self.columns])
        for row in self.rows:
            w.writerow([_csv_cell(row.get(key), lang) for key, _ in self.columns])
        return buf.getvalue()


def _csv_cell(value, lang):
    if isinstance(value, dict) and "en" in value:
        value = value[lang]
    text = "" if value is None else str(value)
    # a cell starting with = + - @ (or a tab or CR, which spreadsheets skip first: OWASP's
    # CSV injection list) would be a formula; a plain signed number stays a number
    if text[:1] in ("\t", "\r"):
        return "'" + text
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def default_range(service, scope=EVERYTHING) -> tuple[date, date, str]:
    """The current semester up to today, and its label; today is the latest of ``scope``'s sites' own days."""
    today = service.sites.today(scope)
    label, start, _ = rules.semester_of(today, service.prog)
    return start, today, label


def parse_range(first: str | None, last: str | None, default: tuple[date, date]) -> tuple[date, date]:
    """A report's ``from``/``to`` (YYYY-MM-DD, either may be empty); a ServiceError for anything else.

    Both days must lie in 2000-2099: a day like 9999-12-31 has no next day to end on.
    """
    start, end = default
    try:
        start = date.fromisoformat(first) if first else start
        end = date.fromisoformat(last) if last else end
    except (TypeError, ValueError):
        raise ServiceError("dates must be YYYY-MM-DD") from None
    for day in (start, end):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ServiceError(
                "report dates must lie between %(first)s and %(last)s, got %(day)s",
                first=FIRST_DAY.isoformat(),
                last=LAST_DAY.isoformat(),
                day=day.isoformat(),
            )
    return (end, start) if end < start else (start, end)


def _entry_devices() -> list[str]:
    return [
        d.id
        for d in Device.select(Device.id).where(
            (Device.kind == "gate") & (Device.direction.is_null() | (Device.direction == "in"))
        )
    ]


def _where(query, cond):
    """``query`` narrowed by a site condition (None: every site)."""
    return query if cond is None else query.where(cond)


def _gate_taps(service, start: date, end: date, sites=None):
    """Local times of opened taps at entrance gates between two business days (at ``sites``; None: all)."""
    lo, _ = day_bounds(start, service.prog)
    _, hi = day_bounds(end, service.prog)
    devices = _entry_devices()
    if sites is not None:
        devices = sorted(set(devices) & set(service.sites.device_ids(sites)))
    if not devices:
        return []
    q = (
        TapInbox.select(TapInbox.at)
        .where(
            (TapInbox.device.in_(devices))
            & (TapInbox.at >= lo)
            & (TapInbox.at < hi)
            & (TapInbox.outcome.in_(sorted(rules.OPEN_OUTCOMES)))
        )
        .tuples()
    )
    tz = service.prog.tz
    return [at.astimezone(tz) for (at,) in q]


def entries_daily(service, start: date, end: date, sites=None) -> Report:
    """Visits (entrance-gate taps) and distinct members credited for entry, per day."""
    visits = Counter(t.date() for t in _gate_taps(service, start, end, sites))
    members = dict(
        _where(
            LedgerEntry.select(LedgerEntry.day, pw.fn.SUM(pw.Case(None, [(LedgerEntry.points > 0, 1)], -1))).where(
                (LedgerEntry.activity == "entry") & LedgerEntry.day.between(start, end)
            ),
            service.sites.entry_condition(sites),
        )
        .group_by(LedgerEntry.day)
        .tuples()
    )
    members = {(d if isinstance(d, date) else date.fromisoformat(str(d))): n for d, n in members.items()}
    rows, day = [], start
    while day <= end and len(rows) < 400:
        rows.append({"day": day.isoformat(), "visits": visits.get(day, 0), "members": int(members.get(day, 0) or 0)})
        day += timedelta(days=1)
    return Report(
        "entries_daily",
        [
            ("day", {"th": "วันที่", "en": "Day"}),
            ("visits", {"th": "จำนวนครั้งที่เข้า", "en": "Visits"}),
            ("members", {"th": "สมาชิกที่ได้คะแนนเข้าใช้", "en": "Members credited"}),
        ],
        rows,
        chart=[(r["day"][5:], r["visits"]) for r in rows],
    )


def entries_hourly(service, start: date, end: date, sites=None) -> Report:
    """Visits by hour of the day over the range."""
    hours = Counter(t.hour for t in _gate_taps(service, start, end, sites))
    rows = [{"hour": f"{h:02d}:00", "visits": hours.get(h, 0)} for h in range(24)]
    return Report(
        "entries_hourly",
        [("hour", {"th": "ชั่วโมง", "en": "Hour"}), ("visits", {"th": "จำนวนครั้งที่เข้า", "en": "Visits"})],
        rows,
        chart=[(r["hour"][:2], r["visits"]) for r in rows],
    )


def _top(activity: str, start: date, end: date, limit: int = 20, cond=None) -> list[dict]:
    days = pw.fn.SUM(pw.Case(None, [(LedgerEntry.points > 0, 1), (LedgerEntry.points < 0, -1)], 0))
    q = (
        _where(
            LedgerEntry.select(LedgerEntry.member, days.alias("n")).where(
                (LedgerEntry.activity == activity) & LedgerEntry.day.between(start, end)
            ),
            cond,
        )
        .group_by(LedgerEntry.member)
        .having(days > 0)
        .order_by(pw.SQL("n DESC"), LedgerEntry.member)
        .limit(limit)
    )
    counts = [(e.member_id, e.n) for e in q]
    members = {m.id: m for m in Member.select().where(Member.id.in_([m for m, _ in counts]))} if counts else {}
    return [
        {
            "rank": i,
            "member": mid,
            "name": members[mid].name if mid in members else "?",
            "group": members[mid].group if mid in members else None,
            "days": int(n),
        }
        for i, (mid, n) in enumerate(counts, start=1)
    ]


def top_borrowers(service, start: date, end: date, sites=None) -> Report:
    """The semester's top borrowers: days with a borrowing credit (net of voids)."""
    rows = _top("borrow", start, end, cond=service.sites.entry_condition(sites))
    return Report(
        "top_borrowers",
        _TOP_COLUMNS("วันที่ยืม", "Borrowing days"),
        rows,
        chart=[(r["name"], r["days"]) for r in rows[:10]],
    )


def top_users(service, start: date, end: date, sites=None) -> Report:
    """The semester's top library users: days with an entry credit (net of voids)."""
    rows = _top("entry", start, end, cond=service.sites.entry_condition(sites))
    return Report(
        "top_users",
        _TOP_COLUMNS("วันที่เข้าใช้", "Days in the library"),
        rows,
        chart=[(r["name"], r["days"]) for r in rows[:10]],
    )


def _TOP_COLUMNS(th: str, en: str) -> list:
    return [
        ("rank", {"th": "อันดับ", "en": "Rank"}),
        ("member", {"th": "รหัสสมาชิก", "en": "Member"}),
        ("name", {"th": "ชื่อ", "en": "Name"}),
        ("group", {"th": "กลุ่ม", "en": "Group"}),
        ("days", {"th": th, "en": en}),
    ]


def _by_site(prog, label: dict, renamed: dict, sites) -> dict:
    """An activity's label in a report over several sites whose names for it differ (a site's own
    late-stay window: ``server.domain.config._own_window_names``): each name with the sites that
    use it — "Reading in the last 30 minutes before closing (Central Library) · Reading in the
    last 45 minutes before closing (Medical Library)"; one name when the sites agree."""
    codes = [c for c in prog.sites if sites is None or c in sites]
    groups: dict[tuple, list] = {}
    for code in codes:
        own = renamed.get(code, label)
        groups.setdefault((own["th"], own["en"]), []).append(prog.sites[code])
    if len(groups) < 2:
        th, en = next(iter(groups), (label["th"], label["en"]))
        return {"th": th, "en": en}
    return {
        lang: " · ".join(
            f"{names[i]} ({', '.join(s.label[lang] or s.code for s in at)})" for names, at in groups.items()
        )
        for i, lang in enumerate(("th", "en"))
    }


def points(service, start: date, end: date, sites=None) -> Report:
    """Points earned and redeemed per activity (and per reward), with voids."""
    pos = pw.fn.SUM(pw.Case(None, [((LedgerEntry.points > 0) & (LedgerEntry.source != "void"), LedgerEntry.points)], 0))
    neg = pw.fn.SUM(
        pw.Case(None, [((LedgerEntry.points < 0) & (LedgerEntry.source != "void"), LedgerEntry.points * -1)], 0)
    )
    voided = pw.fn.SUM(pw.Case(None, [(LedgerEntry.source == "void", LedgerEntry.points * -1)], 0))
    count = pw.fn.SUM(pw.Case(None, [(LedgerEntry.source != "void", 1)], 0))
    q = LedgerEntry.select(
        LedgerEntry.activity,
        pw.Case(None, [(LedgerEntry.activity == "redeem", LedgerEntry.item)], "").alias("reward"),
        count.alias("n"),
        pos.alias("earned"),
        neg.alias("spent"),
        voided.alias("voided"),
    ).where(LedgerEntry.day.between(start, end))
    q = (
        _where(q, service.sites.entry_condition(sites))
        .group_by(LedgerEntry.activity, pw.SQL("reward"))
        .order_by(LedgerEntry.activity)
        .dicts()
    )
    prog = service.prog
    one = sites is not None and len(sites) == 1 and sites[0] in prog.sites
    if one:  # one site: named as it names them
        prog = prog.for_site(sites[0])
    renamed = {} if one else service.ledger.renamed_at_sites()
    rows = []
    for r in q:
        act = prog.activities.get(r["activity"])
        label = dict(act.label) if act else dict(catalogue.entry_label(r["activity"]))
        if act and r["activity"] in renamed:  # several sites, named differently: each name with its sites
            label = _by_site(prog, label, renamed[r["activity"]], sites)
        if r["reward"]:
            rw = prog.rewards.get(r["reward"])
            label = {
                "th": f"{label['th']}: {rw.th if rw else r['reward']}",
                "en": f"{label['en']}: {rw.en if rw else r['reward']}",
            }
        rows.append(
            {
                "activity": r["activity"] + (f":{r['reward']}" if r["reward"] else ""),
                "label": label,
                "entries": int(r["n"] or 0),
                "earned": int(r["earned"] or 0),
                "redeemed": int(r["spent"] or 0),
                "voided": int(r["voided"] or 0),
            }
        )
    return Report(
        "points",
        [
            ("activity", {"th": "รหัส", "en": "Code"}),
            ("label", {"th": "กิจกรรม", "en": "Activity"}),
            ("entries", {"th": "รายการ", "en": "Entries"}),
            ("earned", {"th": "คะแนนที่ได้", "en": "Points earned"}),
            ("redeemed", {"th": "คะแนนที่ใช้/โอน", "en": "Points redeemed/sent"}),
            ("voided", {"th": "คะแนนที่ยกเลิก", "en": "Points voided"}),
        ],
        rows,
        chart=[(r["label"], r["earned"]) for r in rows if r["earned"]],
    )


def segments(service, start: date | None = None, end: date | None = None, sites=None) -> Report:
    """Members by group (segment) and card tier (members whose home site is one of ``sites``; None: all).

    One row per group of the programme (``[terms.groups]``, a library's own included, in its
    order, named as it names them), then any group members still have that the programme no
    longer defines (under its code: counted, not dropped), then members without a group.
    """
    counts = defaultdict(Counter)
    home = None
    if sites is not None:
        home = Member.home_site.in_(sites)
        if service.prog.default_site in sites:
            home |= Member.home_site.is_null()
    for group, tier, status, n in (
        _where(Member.select(Member.group, Member.tier, Member.status, pw.fn.COUNT(Member.id)), home)
        .group_by(Member.group, Member.tier, Member.status)
        .tuples()
    ):
        c = counts[group or ""]
        c[tier] += n
        c["total"] += n
        if status == "active":
            c["active"] += n
    defined = service.prog.terms.groups
    known = known_groups(service.prog)
    rows = []
    for g in [*known, *sorted(set(counts) - {*known, ""}), ""]:
        c = counts.get(g, Counter())
        if g not in known and not c:
            continue
        if g in defined:
            who = {"th": defined[g].th, "en": defined[g].en}
        else:
            who = NO_GROUP if g == "" else NOT_IN_PROGRAMME if g not in known else {"th": g, "en": g}
        rows.append(
            {
                "group": g or "-",
                "label": who,
                "silver": c["silver"],
                "gold": c["gold"],
                "active": c["active"],
                "total": c["total"],
            }
        )
    return Report(
        "segments",
        [
            ("group", {"th": "กลุ่ม", "en": "Segment"}),
            ("label", {"th": "คำอธิบาย", "en": "Who"}),
            ("silver", {"th": "บัตรเงิน", "en": "Silver"}),
            ("gold", {"th": "บัตรทอง", "en": "Gold"}),
            ("active", {"th": "ใช้งานได้", "en": "Active"}),
            ("total", {"th": "รวม", "en": "Total"}),
        ],
        rows,
        chart=[(r["group"], r["total"]) for r in rows],
    )


def feedback(service, start: date, end: date, sites=None) -> Report:
    """Kiosk satisfaction ratings (1–5) in the range, given at ``sites`` (None: all).

    A rating's site is ``feedback.site`` (its kiosk's site when it was given; NULL the default
    site), as the other feedback reports count: moving a kiosk later does not move its ratings.
    """
    lo, _ = day_bounds(start, service.prog)
    _, hi = day_bounds(end, service.prog)
    at_sites = None if sites is None else service.feedback.at_sites(EVERYTHING, sites)
    counts = dict(
        _where(
            Feedback.select(Feedback.rating, pw.fn.COUNT(Feedback.id)).where(
                Feedback.rating.is_null(False) & (Feedback.at >= lo) & (Feedback.at < hi)
            ),
            at_sites,
        )
        .group_by(Feedback.rating)
        .tuples()
    )
    total = sum(counts.values())
    rows = [
        {"rating": r, "count": counts.get(r, 0), "share": f"{100 * counts.get(r, 0) / total:.0f}%" if total else "0%"}
        for r in range(5, 0, -1)
    ]
    avg = sum(r * n for r, n in counts.items()) / total if total else None
    rep = Report(
        "feedback",
        [
            ("rating", {"th": "คะแนนความพึงพอใจ", "en": "Rating"}),
            ("count", {"th": "จำนวน", "en": "Count"}),
            ("share", {"th": "สัดส่วน", "en": "Share"}),
        ],
        rows,
        chart=[("★" * r["rating"], r["count"]) for r in rows],
    )
    rep.average = avg
    rep.total = total
    return rep


def feedback_desk(service, start: date, end: date, sites=None) -> Report:
    """Written feedback received in the range, by category (rows) and channel (columns),
    given at ``sites`` (None: every site; an item's site is ``feedback.site``, NULL the default site)."""
    from broker.contract import FEEDBACK_CATEGORIES
    from server.domain.feedback import CHANNELS
    from server.store import Feedback as Item

    lo, _ = day_bounds(start, service.prog)
    _, hi = day_bounds(end, service.prog)
    q = Item.select(Item.category, Item.channel).where(
        Item.status.is_null(False) & (Item.received_at >= lo) & (Item.received_at < hi)
    )
    if sites is not None:
        q = q.where(service.feedback.at_sites(None, sites))
    counts = Counter(q.tuples())
    words = catalogue.FEEDBACK_WORDS
    rows = []
    for cat in FEEDBACK_CATEGORIES:
        row = {"category": words["category"][cat], **{ch: counts.get((cat, ch), 0) for ch in CHANNELS}}
        row["total"] = sum(row[ch] for ch in CHANNELS)
        rows.append(row)
    totals = {ch: sum(r[ch] for r in rows) for ch in CHANNELS}
    rows.append({"category": {"th": "รวม", "en": "Total"}, **totals, "total": sum(totals.values())})
    return Report(
        "feedback_desk",
        [("category", {"th": "ประเภท", "en": "Category"})]
        + [(ch, words["channel"][ch]) for ch in CHANNELS]
        + [("total", {"th": "รวม", "en": "Total"})],
        rows,
        chart=[(r["category"], r["total"]) for r in rows[:-1]],
    )


def feedback_answer_time(service, start: date, end: date, sites=None) -> Report:
    """Hours from receiving written feedback to its first answer (median, 90th percentile)."""
    r = service.feedback.report(start, end, sites)
    wait = r["first_answer_hours"]
    return Report(
        "feedback_answer_time",
        [
            ("received", {"th": "ได้รับ", "en": "Received"}),
            ("answered", {"th": "ตอบแล้ว", "en": "Answered"}),
            ("median", {"th": "มัธยฐาน (ชั่วโมง)", "en": "Median (hours)"}),
            ("p90", {"th": "เปอร์เซ็นไทล์ที่ 90 (ชั่วโมง)", "en": "90th percentile (hours)"}),
        ],
        [{"received": r["total"], "answered": wait["answered"], "median": wait["median"], "p90": wait["p90"]}],
    )


def feedback_satisfaction(service, start: date, end: date, sites=None) -> Report:
    """The 1-5 satisfaction (kiosk faces, and ratings given with written feedback) per month."""
    r = service.feedback.report(start, end, sites)
    rows = []
    for m in r["satisfaction"]:
        year, month = map(int, m["month"].split("-"))
        rows.append(
            {
                "month": {"th": f"{month}/{year + catalogue.BE_OFFSET}", "en": m["month"]},
                "ratings": m["ratings"],
                "average": f"{m['average']:.2f}",
            }
        )
    return Report(
        "feedback_satisfaction",
        [
            ("month", {"th": "เดือน", "en": "Month"}),
            ("ratings", {"th": "จำนวนคะแนน", "en": "Ratings"}),
            ("average", {"th": "ค่าเฉลี่ย (1-5)", "en": "Average (1-5)"}),
        ],
        rows,
        chart=[(row["month"], m["average"]) for row, m in zip(rows, r["satisfaction"], strict=True)],
    )


def clock_anomalies(service, start: date, end: date, sites=None) -> Report:
    """Devices whose taps' own times were doubtful: back-dated, unsynchronised, ahead (by receive day).

    How each tap's time was judged is stored with it (``rules.TIMINGS``, the back-dating
    policy in docs/rules.md); ``buffered`` taps (forwarded from an offline period the
    server saw) are shown for comparison but are not doubtful.
    """
    lo, _ = day_bounds(start, service.prog)
    _, hi = day_bounds(end, service.prog)
    counts: dict[str, Counter] = defaultdict(Counter)
    q = (
        TapInbox.select(TapInbox.device, TapInbox.timing, pw.fn.COUNT(pw.SQL("*")))
        .where((TapInbox.received_at >= lo) & (TapInbox.received_at < hi))
        .group_by(TapInbox.device, TapInbox.timing)
        .tuples()
    )
    shown = None if sites is None else set(service.sites.device_ids(sites))
    for device, timing, n in q:
        if shown is None or device in shown:
            counts[device][timing or "clock"] += n
    kinds = dict(Device.select(Device.id, Device.kind).tuples())
    rows = []
    for device, c in counts.items():
        doubtful = c["backdated"] + c["unsynced"] + c["future"]
        if not doubtful:
            continue
        total = sum(c.values())
        rows.append(
            {
                "device": device,
                "kind": kinds.get(device, ""),
                "taps": total,
                "backdated": c["backdated"],
                "unsynced": c["unsynced"],
                "future": c["future"],
                "buffered": c["buffered"],
                "share": f"{100 * doubtful / total:.0f}%",
                "doubtful": doubtful,
            }
        )
    rows.sort(key=lambda r: (-r["doubtful"], r["device"]))
    return Report(
        "clock_anomalies",
        [
            ("device", {"th": "อุปกรณ์", "en": "Device"}),
            ("kind", {"th": "ประเภท", "en": "Kind"}),
            ("taps", {"th": "จำนวนการแตะ", "en": "Taps"}),
            ("backdated", {"th": "ลงเวลาย้อนหลังเกินกำหนด", "en": "Back-dated"}),
            ("unsynced", {"th": "นาฬิกาไม่ตรง", "en": "Clock not synchronised"}),
            ("future", {"th": "เวลาล้ำหน้า", "en": "Dated ahead"}),
            ("buffered", {"th": "ส่งหลังออฟไลน์", "en": "Buffered offline"}),
            ("share", {"th": "สัดส่วนที่น่าสงสัย", "en": "Doubtful share"}),
        ],
        rows,
        chart=[(r["device"], r["doubtful"]) for r in rows[:20]],
    )


def campaigns(service, start: date, end: date, sites=None) -> Report:
    """What each campaign gave in the range: points and credits (voided ones left out)."""
    from server.domain.campaigns import split_tag

    voided = {e.void_of_id for e in LedgerEntry.select(LedgerEntry.void_of).where(LedgerEntry.void_of.is_null(False))}
    given: dict[str, list[int]] = {}
    q = _where(
        LedgerEntry.select(LedgerEntry.id, LedgerEntry.campaign).where(
            LedgerEntry.campaign.is_null(False), LedgerEntry.day.between(start, end)
        ),
        service.sites.entry_condition(sites),
    )
    for e in q:
        if e.id in voided:
            continue
        for code, n in split_tag(e.campaign):
            row = given.setdefault(code, [0, 0])
            row[0] += n
            row[1] += 1
    names = {c["code"]: {"th": c["th"], "en": c["en"]} for c in service.campaigns.list()}
    rows = [
        {"campaign": code, "label": names.get(code, {"th": code, "en": code}), "entries": n, "points": pts}
        for code, (pts, n) in sorted(given.items(), key=lambda kv: -kv[1][0])
    ]
    return Report(
        "campaigns",
        [
            ("campaign", {"th": "รหัส", "en": "Code"}),
            ("label", {"th": "แคมเปญ", "en": "Campaign"}),
            ("entries", {"th": "รายการ", "en": "Credits"}),
            ("points", {"th": "คะแนนที่ให้", "en": "Points given"}),
        ],
        rows,
        chart=[(r["label"], r["points"]) for r in rows],
    )


BUILDERS = {
    "campaigns": campaigns,
    "entries_daily": entries_daily,
    "entries_hourly": entries_hourly,
    "top_borrowers": top_borrowers,
    "top_users": top_users,
    "points": points,
    "segments": segments,
    "feedback": feedback,
    "feedback_desk": feedback_desk,
    "feedback_answer_time": feedback_answer_time,
    "feedback_satisfaction": feedback_satisfaction,
    "clock_anomalies": clock_anomalies,
}


def build(name: str, service, start: date, end: date, sites: list[str] | None = None) -> Report:
    """Run one report by name, for some sites (``svc.sites.report_sites``) or all combined (None)."""
    return BUILDERS[name](service, start, end, sites=sites)


def _chart_labels(data: list, lang: str, longest: int) -> list:
    """(label, value) pairs with each label in ``lang`` (a {"th","en"} label) and at most ``longest`` long."""
    out = []
    for label, value in data:
        text = str(label.get(lang) or label.get("en") or "") if isinstance(label, dict) else str(label)
        out.append((text if len(text) <= longest else text[: longest - 1] + "…", value))
    return out


def bar_chart(data: list, *, title: str = "", lang: str = "en", height: int = 190, color: str = "#2f6f9f") -> str:
    """A small accessible SVG column chart of (label, value) pairs; scales with its box, text undistorted."""
    if not data:
        return ""
    data = _chart_labels(data, lang, 14)
    n = len(data)
    width, top, bottom, left = 640, 14, 30, 40
    plot_h = height - top - bottom
    peak = max((v for _, v in data), default=0) or 1
    bar_w = (width - left - 6) / n
    longest = max(len(str(label)) for label, _ in data)
    step = max(1, -(-int(longest * 6.5 + 8) // max(int(bar_w), 1)))  # labels that fit without touching
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#999" stroke-width="1"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end" class="axis">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, (label, value) in enumerate(data):
        h = plot_h * (value / peak) if value else 0
        x = left + i * bar_w + 1.5
        out.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 3, 1):.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{escape(str(label))}: {value}</title></rect>'
        )
        if i % step == 0:
            out.append(
                f'<text x="{x + (bar_w - 3) / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'class="axis">{escape(str(label))}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def hbar_chart(data: list, *, title: str = "", lang: str = "en", color: str = "#2f6f9f") -> str:
    """Horizontal bars for ranked lists: the name on the left, the value at the bar's end."""
    if not data:
        return ""
    data = _chart_labels(data, lang, 26)
    width, row, left = 640, 22, 190
    height = row * len(data) + 6
    peak = max((v for _, v in data), default=0) or 1
    out = [
        f'<svg class="chart hbar" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(data):
        y = 3 + i * row
        w = (width - left - 40) * (value / peak) if value else 0
        out.append(f'<text x="{left - 8}" y="{y + row - 8}" text-anchor="end" class="label">{escape(label)}</text>')
        out.append(
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" rx="2" fill="{color}">'
            f"<title>{escape(str(label))}: {value}</title></rect>"
        )
        out.append(f'<text x="{left + w + 5:.1f}" y="{y + row - 8}" class="axis">{value}</text>')
    out.append("</svg>")
    return "".join(out)
