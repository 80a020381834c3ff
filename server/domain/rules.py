"""Pure rules: which day a tap counts for, what it earns, what a balance unlocks.

No I/O. The store enforces "at most once" with a UNIQUE key built from
:func:`accrual_key`; these functions only decide what to try.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .config import Activity, ConfigError, Programme, shop_key
from .errors import TemplatedError

log = logging.getLogger(__name__)

#: what a patron sees for each outcome (Thai first: most patrons read Thai). These stay in
#: the domain, not in ``server.catalogue``: which outcome says what is a programme rule,
#: sent to devices as it is; the catalogue holds the staff's texts.
MESSAGES = {
    "credited": ("ได้รับ {points} คะแนน ยอดคงเหลือ {balance} คะแนน", "+{points} points, balance {balance}"),
    "limit_reached": ("วันนี้ได้รับคะแนน{label}แล้ว", "Already earned today: {label_en}"),
    "no_activity": ("ไม่มีคะแนนสำหรับการแตะครั้งนี้", "No points for this tap"),
    "unknown_card": ("ไม่พบบัตรนี้ในระบบ กรุณาติดต่อเคาน์เตอร์", "Card not registered - please ask at the counter"),
    "card_blocked": ("บัตรนี้ถูกระงับ กรุณาติดต่อเคาน์เตอร์", "This card is blocked - please ask at the counter"),
    "expired": ("บัตรหมดอายุ กรุณาต่ออายุที่เคาน์เตอร์", "Membership expired - please renew at the counter"),
    "card_not_genuine": (
        "ตรวจสอบบัตรไม่ผ่าน กรุณาติดต่อเคาน์เตอร์",
        "This card could not be verified - please ask at the counter",
    ),
    "invalid": ("ข้อมูลไม่ถูกต้อง", "Invalid tap"),
    # answers to a staff PIN typed at a kiosk (the server checks it: server.services.staff)
    "staff_unlocked": ("ยืนยันรหัส PIN แล้ว", "PIN accepted"),
    "pin_wrong": ("รหัส PIN ไม่ถูกต้อง เหลืออีก {attempts} ครั้ง", "Wrong PIN: {attempts} tries left"),
    "pin_locked": (
        "ใส่รหัส PIN ผิดหลายครั้ง กรุณารอ {minutes} นาที",
        "Too many wrong PINs: try again in {minutes} min",
    ),
}
#: wrong staff PINs in a row that lock a card out on one kiosk (``[rules] staff_pin_lockout_minutes``)
STAFF_PIN_ATTEMPTS = 5

#: outcomes that still let a valid member through the gate
OPEN_OUTCOMES = frozenset({"credited", "limit_reached", "no_activity"})


def sun_counter_refusal(last: int | None, new: int) -> str | None:
    """Whether a genuine card's read counter *new* may follow the last accepted one.

    None when it is strictly greater (or none was accepted yet); otherwise why not:
    ``replay`` (the same read again: a recorded URL) or ``counter_back`` (lower: a URL
    recorded earlier, or a cloned card — the console flags the card as suspect).
    """
    if last is None or new > last:
        return None
    return "replay" if new == last else "counter_back"


class RuleError(TemplatedError, ValueError):
    """A request the rules refuse (the message is for staff).

    Like ``ServiceError``: ``template`` (English, ``%(name)s`` placeholders) and ``values``
    are kept apart so the console can translate it; ``str(exc)`` is the English text.
    """


def message(
    outcome: str,
    *,
    points: int = 0,
    balance: int | None = None,
    activity: Activity | None = None,
    reason: str | None = None,
    attempts: int = 0,
    minutes: int = 0,
) -> dict:
    """Thai and English text for an outcome."""
    th, en = MESSAGES[outcome]
    values = {
        "attempts": attempts,
        "minutes": minutes,
        "points": points,
        "balance": balance if balance is not None else "-",
        "label": activity.th if activity else "",
        "label_en": activity.en if activity else "",
    }
    out = {"th": th.format(**values), "en": en.format(**values)}
    if reason:
        out["en"] = f"{out['en']}: {reason}"[:200]
    return out


# --------------------------------------------------------------------------- time


#: how a tap's time was judged; stored with the tap, counted by the clock-anomaly report
TIMINGS = ("clock", "buffered", "unsynced", "future", "backdated")


@dataclass(frozen=True)
class TapTime:
    """The instant a tap counts at, whether the device's clock was trusted, and why."""

    when: datetime
    trusted: bool
    timing: str  # one of TIMINGS


def tap_time(
    at: datetime,
    clock_ok: bool,
    received: datetime,
    prog: Programme,
    *,
    device_kind: str | None = None,
    offline_since: datetime | None = None,
    online_since: datetime | None = None,
) -> TapTime:
    """Judge a tap's own time against what the server knows (the back-dating policy).

    - ``unsynced``: the device says its clock is not synchronised → the receive time;
    - ``future``: more than ``future_tolerance_s`` ahead → the receive time;
    - ``clock``: within ``backdating.tolerance_s`` before the receive time → its own time;
    - ``buffered``: the device's kind may date taps back to its last offline period
      (``offline``: from ``offline_since`` − tolerance to ``online_since`` + tolerance, or
      to now while it is still offline) or as far as the maximum age (``max_age``) → its
      own time (a tap older than the maximum age is still ``invalid``);
    - ``backdated``: anything earlier → the receive time (the caller refuses it when
      ``backdating.otherwise`` is ``refuse``).

    ``offline_since``/``online_since`` are when the server saw the device's status go
    ``offline`` and come back ``online`` (None when it never saw it).
    """
    if not clock_ok:
        return TapTime(received, False, "unsynced")
    if at > received + timedelta(seconds=prog.future_tolerance_s):
        return TapTime(received, False, "future")
    policy = prog.backdating
    tolerance = timedelta(seconds=policy.tolerance_s)
    if at >= received - tolerance:
        return TapTime(at, True, "clock")
    limit = policy.limit(device_kind)
    if limit == "max_age":
        return TapTime(at, True, "buffered")
    if limit == "offline" and offline_since is not None:
        back = online_since if online_since is not None and online_since >= offline_since else received
        if offline_since - tolerance <= at <= back + tolerance:
            return TapTime(at, True, "buffered")
    return TapTime(received, False, "backdated")


def too_old(at: datetime, received: datetime, prog: Programme) -> bool:
    """True when a trusted tap time is older than the maximum age."""
    return received - at > timedelta(days=prog.max_tap_age_days)


def local(when: datetime, prog: Programme) -> datetime:
    """An aware instant in the library's time zone."""
    return when.astimezone(prog.tz)


def site_view(prog: Programme, site: str | None) -> Programme:
    """The site's view of the programme (None = the default site).

    A site no longer in the programme (removed by an edit while devices still name it)
    falls back to the default site's view, with a log line: a tap must still be decided.
    """
    try:
        return prog.for_site(site)
    except ConfigError:
        log.warning("site %r is not in the programme; the default site %s is used", site, prog.default_site)
        return prog.for_site(None)


def day_at(prog: Programme, site: str | None, when: datetime) -> date:
    """The site's day at an instant, in its own time zone (None = the default site)."""
    return business_day(when, site_view(prog, site))


def business_day(when: datetime, prog: Programme) -> date:
    """The local date in the library's time zone."""
    return local(when, prog).date()


def in_window(activity: Activity, when: datetime, prog: Programme) -> bool:
    """True when ``when`` is inside the activity's time window (or it has none)."""
    if activity.window_before_close_min is None:
        return True
    moment = local(when, prog)
    hours = prog.hours[moment.weekday()]
    if hours.closed or moment.date() in prog.closures:
        return False
    closing = datetime.combine(moment.date(), hours.close, tzinfo=moment.tzinfo)
    start = closing - timedelta(minutes=activity.window_before_close_min)
    return start <= moment <= closing


def hours_on(day: date, prog: Programme) -> dict:
    """Opening and closing time of a day, as text, for screens."""
    h = prog.hours[day.weekday()]
    if h.closed:
        return {"open": None, "close": None, "closed": True}
    return {"open": h.open.strftime("%H:%M"), "close": h.close.strftime("%H:%M"), "closed": False}


def semester_of(day: date, prog: Programme) -> tuple[str, date, date]:
    """(label, first day, last day) of the semester containing ``day``.

    Label is ``"{name}/{academic year BE}"``, e.g. ``"2/2569"``; the academic year
    starts with the first configured semester.
    """
    if not prog.semesters:
        start = date(day.year, 1, 1)
        return (str(day.year + 543), start, date(day.year, 12, 31))
    first_start = prog.semesters[0].start
    for sem in prog.semesters:
        for year in (day.year - 1, day.year):
            start = date(year, *sem.start)
            end_year = year + 1 if sem.end < sem.start else year
            end = date(end_year, *sem.end)
            if start <= day <= end:
                academic = start.year if sem.start >= first_start else start.year - 1
                return (f"{sem.name}/{academic + 543}", start, end)
    return (str(day.year + 543), date(day.year, 1, 1), date(day.year, 12, 31))


# --------------------------------------------------------------------------- taps


@dataclass(frozen=True)
class Decision:
    """What the rules say about a tap before the store tries to credit it."""

    outcome: str  # credited (tentatively) or a refusal
    activity: Activity | None = None
    day: date | None = None
    item: str = ""
    reason: str | None = None
    timing: str = "clock"  # how the tap's time was judged (TIMINGS)
    when: datetime | None = None  # the instant it counts at (campaigns are dated to the minute)

    @property
    def open(self) -> bool:
        """Whether the gate should open."""
        return self.outcome in OPEN_OUTCOMES


def device_activity(kind: str, direction: str | None, configured: str | None) -> str | None:
    """The activity a device credits: its configured one, else the kind's default."""
    if configured:
        return configured
    if kind == "gate":
        return "late_stay" if direction == "out" else "entry"
    if kind in ("counter", "selfcheck"):  # a self-check proxy's checkouts are borrowing
        return "borrow"
    return None


def decide_tap(
    *,
    prog: Programme,
    device_kind: str,
    device_direction: str | None,
    device_activity_code: str | None,
    card_status: str | None,
    member_status: str | None,
    valid_until: date | None,
    at: datetime,
    clock_ok: bool,
    received: datetime,
    item: str = "",
    offline_since: datetime | None = None,
    online_since: datetime | None = None,
) -> Decision:
    """Decide a tap from a device, given the card's and member's state.

    ``card_status`` is None for an unknown card. The tap's own time counts only as far
    back as the back-dating policy allows (:func:`tap_time`).
    """
    judged = tap_time(
        at,
        clock_ok,
        received,
        prog,
        device_kind=device_kind,
        offline_since=offline_since,
        online_since=online_since,
    )
    when, trusted, timing = judged.when, judged.trusted, judged.timing
    if trusted and too_old(at, received, prog):
        return Decision("invalid", reason=f"tap is older than {prog.max_tap_age_days} days", timing=timing)
    if timing == "backdated" and prog.backdating.otherwise == "refuse":
        return Decision("invalid", reason="tap dated earlier than this device may date it", timing=timing)
    decision = _decide_member(
        prog, device_kind, device_direction, device_activity_code, card_status, member_status, valid_until, when, item
    )
    return replace(decision, timing=timing)


def _decide_member(
    prog: Programme,
    device_kind: str,
    device_direction: str | None,
    device_activity_code: str | None,
    card_status: str | None,
    member_status: str | None,
    valid_until: date | None,
    when: datetime,
    item: str,
) -> Decision:
    """The card's, member's and activity's part of :func:`decide_tap`, at the instant ``when``."""
    day = business_day(when, prog)
    if card_status is None:
        return Decision("unknown_card", day=day)
    if card_status != "active" or member_status != "active":
        return Decision("card_blocked", day=day)
    if valid_until is not None and day > valid_until:
        return Decision("expired", day=day)
    code = device_activity(device_kind, device_direction, device_activity_code)
    if code is None or code not in prog.activities:
        return Decision("no_activity", day=day)
    activity = prog.activities[code]
    if activity.retired:  # retired from the console: earns nothing any more
        return Decision("no_activity", activity=activity, day=day)
    if activity.direction and device_kind == "gate" and device_direction != activity.direction:
        return Decision("no_activity", activity=activity, day=day)
    if not in_window(activity, when, prog):
        return Decision("no_activity", activity=activity, day=day)
    if activity.points == 0:
        return Decision("no_activity", activity=activity, day=day)
    return Decision("credited", activity=activity, day=day, item=item, when=when)


def accrual_key(activity: Activity, day: date, item: str = "", *, site: str | None = None) -> tuple[str, str] | None:
    """The (day, item) part of the UNIQUE (member, activity, day, item) key, or None.

    ``once`` uses a fixed day so it can happen only once ever; ``unlimited`` has no key.
    An activity whose ``scope`` is ``site`` keeps its limit per site: the key's item
    starts with ``@SITE:`` (``site`` is where it happened; None: the programme-wide key).
    """
    if activity.limit == "unlimited":
        return None
    prefix = f"@{site}:" if activity.scope == "site" and site else ""
    if activity.limit == "once":
        return ("once", prefix)
    if activity.limit == "per_item_per_day":
        if not item:
            raise RuleError("%(activity)s needs an item (event, shop or session)", activity=activity.code)
        return (day.isoformat(), (prefix + item)[:120])
    return (day.isoformat(), prefix)


# --------------------------------------------------------------------------- privileges


def _level(levels, balance: int):
    found = None
    for lvl in levels:
        if balance >= lvl.points:
            found = lvl
    return found


def fine_discount(balance: int, prog: Programme) -> tuple[int, int]:
    """(points usable, baht) of fine discount a balance allows (Table 3)."""
    usable = min(max(balance, 0), prog.fine_max_points) // prog.fine_step_points * prog.fine_step_points
    return usable, usable // prog.fine_step_points * prog.fine_step_baht


def fine_discount_baht(points: int, prog: Programme) -> int:
    """Baht value of redeeming ``points`` as a fine discount; refuses bad amounts."""
    if points <= 0 or points % prog.fine_step_points:
        raise RuleError("fine discounts are redeemed in steps of %(step)s points", step=prog.fine_step_points)
    if points > prog.fine_max_points:
        raise RuleError("at most %(max)s points can be redeemed as a fine discount", max=prog.fine_max_points)
    return points // prog.fine_step_points * prog.fine_step_baht


def privileges(balance: int, prog: Programme, tier: str | None = None, *, spendable: int | None = None) -> dict:
    """What ``balance`` points unlock now (Tables 2-5, the tier's own where it has them) and the next threshold.

    ``balance`` is the points the levels follow (the balance, or the points earned in the
    term: ``privileges.basis``); the fine discount is what ``spendable`` points (the
    balance, default ``balance``) can pay.
    """
    prog = tables_for(prog, tier)
    spendable = balance if spendable is None else spendable
    borrow = _level(prog.borrow_levels, balance)
    books = borrow.values["books"] if borrow else prog.borrow_normal["books"]
    loan_days = borrow.values["loan_days"] if borrow else prog.borrow_normal["loan_days"]
    if loan_days == 0:
        loan = {"th": "ตลอดภาคการศึกษา", "en": "whole semester"}
    else:
        loan = {"th": f"{loan_days} วัน", "en": f"{loan_days} days"}
    locker = _level(prog.locker_levels, balance)
    room = _level(prog.room_levels, balance)
    usable, baht = fine_discount(spendable, prog)
    thresholds = sorted(
        {
            lvl.points
            for table in (prog.borrow_levels, prog.locker_levels, prog.room_levels)
            for lvl in table
            if lvl.points > balance
        }
    )
    nxt = None
    if thresholds:
        target = thresholds[0]
        unlocks_th, unlocks_en = [], []
        b = _level(prog.borrow_levels, target)
        if b and b is not borrow:
            unlocks_th.append(f"ยืมได้ {b.values['books']} เล่ม")
            unlocks_en.append(f"borrow {b.values['books']} books")
        lk = _level(prog.locker_levels, target)
        if lk and lk is not locker:
            unlocks_th.append(f"ตู้ฝากของ {lk.values['days']} วัน")
            unlocks_en.append(f"locker {lk.values['days']} days")
        rm = _level(prog.room_levels, target)
        if rm and rm is not room:
            unlocks_th.append(f"ห้องค้นคว้า {rm.values['hours']} ชม.")
            unlocks_en.append(f"study room {rm.values['hours']} h")
        reached = [
            lvl.points
            for table in (prog.borrow_levels, prog.locker_levels, prog.room_levels)
            for lvl in table
            if lvl.points <= balance
        ]
        nxt = {
            "points": target,
            "needed": target - balance,
            "from": max(reached, default=0),
            "unlocks": {"th": ", ".join(unlocks_th), "en": ", ".join(unlocks_en)},
        }
    return {
        "borrow": {"books": books, "loan_days": loan_days or None, "loan": loan},
        "locker_days": locker.values["days"] if locker else prog.locker_normal_days,
        "study_room_hours": room.values["hours"] if room else prog.room_normal_hours,
        "fine_discount_baht": baht,
        "fine_discount_points": usable,
        "next": nxt,
    }


def utc(when: datetime) -> datetime:
    """An aware datetime in UTC."""
    return when.astimezone(UTC)


# --------------------------------------------------------------------------- terms, tiers, shops (issue 13)


def academic_year_of(day: date, prog: Programme) -> tuple[str, date, date]:
    """(label BE, first day, last day) of the academic year containing ``day``.

    It starts with the first configured semester and ends the day before the next one
    (the calendar year when no semesters are configured).
    """
    if not prog.semesters:
        return (str(day.year + 543), date(day.year, 1, 1), date(day.year, 12, 31))
    first = prog.semesters[0].start
    year = day.year if (day.month, day.day) >= first else day.year - 1
    start = date(year, *first)
    return (str(year + 543), start, date(year + 1, *first) - timedelta(days=1))


def term_period(group: str | None, day: date, prog: Programme) -> tuple[str, date, date]:
    """(label, first day, last day) of the term a member's points are earned in on ``day``.

    The semester for a group whose membership ends with the semester, else the academic
    year (staff and members without an end date earn per academic year).
    """
    if prog.terms.rule(group) == "semester":
        return semester_of(day, prog)
    return academic_year_of(day, prog)


def term_end(group: str | None, day: date, prog: Programme) -> date | None:
    """The last valid day of a membership joined or renewed on ``day`` (None: the group's rule sets none)."""
    rule = prog.terms.rule(group)
    if rule == "semester":
        return semester_of(day, prog)[2]
    if rule == "academic_year":
        return academic_year_of(day, prog)[2]
    return None


def renewed_until(
    group: str | None, valid_until: date | None, today: date, prog: Programme
) -> tuple[date, date | None]:
    """(first day of the new term, its last valid day) when a member renews on ``today``.

    A member still valid renews for the term after the one they hold; an expired one (or
    one without an end) for the term containing today. ``date``/``none`` rules give no
    end (staff type the employment end).
    """
    start = today
    if valid_until is not None and valid_until >= today:
        start = valid_until + timedelta(days=1)
    return start, term_end(group, start, prog)


def tier_points(activity: Activity, tier: str | None, prog: Programme) -> int:
    """What an activity earns for a member of ``tier``: its override, else its points times the multiplier.

    The product is exact decimal arithmetic on the multiplier as written (``Decimal(str(m))``), rounded
    half up: 5 × 2.5 = 12.5 earns 13 and 50 × 1.15 = 57.5 earns 58 (a float's ``round`` gave 12, rounding
    half to even, and 57 from the float product 57.49999999999999). Sign-up is never multiplied (it is
    the joining fee's 250 points).
    """
    rule = prog.tier_rules.get(tier or "")
    if rule is None or activity.code == "signup":
        return activity.points
    if activity.code in rule.points:
        return rule.points[activity.code]
    if rule.multiplier == 1:
        return activity.points
    exact = Decimal(activity.points) * Decimal(str(rule.multiplier))
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def tables_for(prog: Programme, tier: str | None) -> Programme:
    """The programme as one tier sees it: its own privilege tables merged over the programme's."""
    rule = prog.tier_rules.get(tier or "")
    return replace(prog, **rule.tables) if rule is not None and rule.tables else prog


def tier_for_group(group: str | None, prog: Programme) -> str | None:
    """The tier a group's members are given (``[tiers.X] groups``), the highest if several; None if none."""
    found = None
    for code, rule in prog.tier_rules.items():  # silver before gold: a later tier ranks higher
        if group and group in rule.groups:
            found = code
    return found


def tier_rank(tier: str | None, prog: Programme) -> int:
    """A tier's rank (silver 0, gold 1); -1 for an unknown one."""
    order = list(prog.tiers)
    return order.index(tier) if tier in order else -1


def promotion(tier: str | None, earned: int, prog: Programme) -> str | None:
    """The higher tier ``earned`` points in the term reach (``earned_at``), or None. Never a demotion."""
    best = None
    for code, rule in prog.tier_rules.items():
        if rule.earned_at and earned >= rule.earned_at and tier_rank(code, prog) > tier_rank(tier, prog):
            best = code
    return best


def points_rule_threshold(tier: str | None, prog: Programme) -> int | None:
    """The fewest earned points that would promote a member of ``tier`` (None: no rule can)."""
    levels = [
        r.earned_at for c, r in prog.tier_rules.items() if r.earned_at and tier_rank(c, prog) > tier_rank(tier, prog)
    ]
    return min(levels) if levels else None


def partner_shop(name: str, prog: Programme) -> str | None:
    """The shop a typed name means (its programme name; an old name is an alias), None if none."""
    return prog.partner_aliases.get(shop_key(name or ""))
