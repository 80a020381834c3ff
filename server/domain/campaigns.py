"""Promotions: dated campaigns that add to what a tap earns (issue 13, item 5). Pure.

A campaign is one of three kinds, for chosen activities, member groups and tiers
(an empty choice means all), between two minutes in the library's time zone, both
included (``ends = Friday 23:59`` covers 23:59:59):

- ``multiplier``: the activity's points × k (k from 1.01 to 10, two decimals; rounded down);
- ``bonus``: + N points;
- ``activity``: a one-off activity with its own points and limit, earnable only between
  its two minutes (``activity`` names it; it must not be an activity of the programme).

**Overlap rule** (documented in docs/rules.md): of the multipliers that apply to a tap,
only the largest counts (ties: the campaign created first); every bonus that applies is
added: ``points = floor(base × k_max) + Σ bonus``. Campaigns never change *whether* a
tap earns — the accrual key (member, activity, day, item) stays the activity's own, so
a tap earns at most once, whatever overlaps.

Campaigns are compiled once per programme version (:func:`compile_campaigns`): the tap
path looks up a dict by activity code and compares two datetimes per candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from .config import CODE_RE, LIMITS, Activity, ConfigError, Programme, choices

KINDS = ("multiplier", "bonus", "activity")
MAX_MULTIPLIER_100 = 1000  # ×10
MAX_BONUS = 10000
MINUTE = timedelta(minutes=1)
_K_RE = re.compile(r"^\d{1,2}(\.\d{1,2})?$")


@dataclass(frozen=True)
class Campaign:
    """One promotion, validated (times aware; ``ends`` is its last minute, included)."""

    id: int
    code: str
    th: str
    en: str
    kind: str
    starts: datetime
    ends: datetime
    activities: tuple = ()
    groups: tuple = ()
    tiers: tuple = ()
    multiplier_100: int = 100  # k × 100 (``multiplier``)
    bonus: int = 0  # (``bonus``)
    activity: Activity | None = None  # (``activity``: the one-off activity)
    #: ended early (``campaign end``, the console's *End now*) at this very instant, not at a minute
    stopped: datetime | None = None

    @property
    def until(self) -> datetime:
        """The first instant after the campaign: after its last minute (included), or the instant
        it was ended early — a tap made before ``campaign end`` was asked keeps its bonus even
        when it arrives after it (a gate's buffered tap), and one made after gets none."""
        end = self.ends.replace(second=0, microsecond=0) + MINUTE
        if self.stopped is not None:
            end = max(min(end, self.stopped), self.starts)  # ended before it began: it never ran
        return end

    def active(self, when: datetime) -> bool:
        """Whether ``when`` lies between its first and last minute, both included."""
        return self.starts <= when < self.until

    def applies(self, code: str, when: datetime, group: str | None, tier: str | None) -> bool:
        """Whether it changes a tap for activity ``code`` of a member in ``group``/``tier`` at ``when``."""
        return (
            (not self.activities or code in self.activities)
            and (not self.groups or group in self.groups)
            and (not self.tiers or tier in self.tiers)
            and self.active(when)
        )

    def describe(self) -> dict:
        """What it gives, in Thai and English (for lists and pages)."""
        if self.kind == "multiplier":
            k = f"{self.multiplier_100 / 100:g}"
            return {"th": f"คะแนน ×{k}", "en": f"points ×{k}"}
        if self.kind == "bonus":
            return {"th": f"โบนัส +{self.bonus} คะแนน", "en": f"bonus +{self.bonus} points"}
        act = self.activity
        return {
            "th": f"กิจกรรมพิเศษ {act.th} {act.points} คะแนน",
            "en": f"one-off activity {act.en}: {act.points} points",
        }


class _Minute(datetime):
    """A campaign bound as an error's value: ``2026-12-07 10:00`` in English; a date-time still,
    so the Thai shows it in the Buddhist era (``server.catalogue.localize``)."""

    @classmethod
    def of(cls, when: datetime) -> _Minute:
        return cls(when.year, when.month, when.day, when.hour, when.minute, tzinfo=when.tzinfo)

    def __str__(self) -> str:
        return f"{self:%Y-%m-%d %H:%M}"


def parse_time(value, tz, where: str) -> datetime:
    """A campaign bound: ISO text ('YYYY-MM-DD HH:MM', library time if no offset) or an aware datetime."""
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).strip().replace("T", " "))
        except ValueError:
            raise ConfigError("%(where)s must be 'YYYY-MM-DD HH:MM', got %(value)r", where=where, value=value) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.replace(second=0, microsecond=0)


def listed(value) -> list:
    """A campaign's activities, groups or tiers as a list: staff's comma-separated text (the CLI's
    ``--groups STU,FAC``) split and stripped, a list (the console's ticks) as it is; None or "" is []."""
    if value in (None, "", [], ()):
        return []
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)


def _codes(value, where: str, known) -> tuple:
    if value in (None, "", []):
        return ()
    items = listed(value)
    out = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError("%(where)s: bad entry %(item)r", where=where, item=item)
        if known is not None and item not in known:
            raise ConfigError(
                "%(where)s: unknown %(item)r; known: %(known)s", where=where, item=item, known=", ".join(sorted(known))
            )
        out.append(item)
    return tuple(dict.fromkeys(out))


def validate(raw: dict, prog: Programme, *, groups=None, campaign_id: int = 0) -> Campaign:
    """A campaign from staff input (a dict), checked against the programme; ConfigError names the field.

    Keys: ``code``, ``th``, ``en``, ``kind``, ``starts``, ``ends``, ``activities``, ``groups``,
    ``tiers``, ``multiplier`` (k), ``bonus`` (N), and for ``activity``: ``points``, ``limit``.
    """
    code = raw.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise ConfigError("code: lower-case letters, digits and _, up to 40, got %(code)r", code=code)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(
            "kind must be one of %(options)s, got %(kind)r", options=choices("campaign", KINDS), kind=kind
        )
    th = raw.get("th") or code
    en = raw.get("en") or code
    if not isinstance(th, str) or not isinstance(en, str) or len(th) > 200 or len(en) > 200:
        raise ConfigError("th/en: a label of at most 200 characters")
    starts = parse_time(raw.get("starts"), prog.tz, "starts")
    ends = parse_time(raw.get("ends"), prog.tz, "ends")
    if ends < starts:
        raise ConfigError(
            "ends (%(ends)s) is before starts (%(starts)s)", ends=_Minute.of(ends), starts=_Minute.of(starts)
        )
    earning = {c for c, a in prog.activities.items() if c != "signup" and not a.retired}
    mult, bonus, act = 100, 0, None
    activities = ()
    if kind == "activity":
        if code in prog.activities:
            raise ConfigError("code: %(code)r is already an activity of the programme", code=code)
        limit = raw.get("limit") or "per_day"
        if limit not in LIMITS:
            raise ConfigError(
                "limit must be one of %(options)s, got %(limit)r", options=choices("limit", LIMITS), limit=limit
            )
        points = _points(raw.get("points"), "points", 1, MAX_BONUS)
        act = Activity(code=code, points=points, limit=limit, th=th, en=en)
    else:
        activities = _codes(raw.get("activities"), "activities", earning)
        if kind == "multiplier":
            text = str(raw.get("multiplier", "")).strip()
            # k × 100 exactly (at most two decimals): a tap earns base × k100 // 100, whole numbers only,
            # so 10 × 1.1 is 11 (a float's 10 × 1.1 is 11.000000000000002, and 10 × 1.15 is 11.49…)
            mult = int(Decimal(text) * 100) if _K_RE.match(text) else 0
            if not 101 <= mult <= MAX_MULTIPLIER_100:
                raise ConfigError("multiplier must be a number from 1.01 to 10 (two decimals), got %(text)r", text=text)
        else:
            bonus = _points(raw.get("bonus"), "bonus", 1, MAX_BONUS)
    return Campaign(
        id=campaign_id,
        code=code,
        th=th,
        en=en,
        kind=kind,
        starts=starts,
        ends=ends,
        activities=activities,
        groups=_codes(raw.get("groups"), "groups", groups),
        tiers=_codes(raw.get("tiers"), "tiers", set(prog.tiers)),
        multiplier_100=mult,
        bonus=bonus,
        activity=act,
    )


def _points(value, where: str, lo: int, hi: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise ConfigError("%(where)s must be a whole number, got %(value)r", where=where, value=value) from None
    if not lo <= n <= hi:
        raise ConfigError("%(where)s must be from %(lo)s to %(hi)s, got %(n)s", where=where, lo=lo, hi=hi, n=n)
    return n


@dataclass(frozen=True)
class Compiled:
    """Campaigns ready for the tap path, per activity code, as plain tuples.

    Each entry is ``(start_ts, until_ts, groups, tiers, kind, multiplier_100, bonus, code)``
    with POSIX timestamps and frozensets (None = all), in creation order; ``every`` holds
    the campaigns naming no activity (for a code not in ``by_activity``). One tap costs one
    ``timestamp()`` and a few comparisons per candidate (a datetime comparison across time
    zones cost ~5 us each: 20 campaigns were 100 us a tap).
    """

    by_activity: dict = field(default_factory=dict)  # code -> tuple of entries (its own and every)
    every: tuple = ()  # entries of campaigns naming no activity
    one_off: dict = field(default_factory=dict)  # code -> (start_ts, until_ts) of a one-off activity
    count: int = 0

    def __len__(self) -> int:
        return self.count

    def available(self, code: str, when: datetime) -> bool:
        """False for a one-off activity outside its minutes (True for every other activity)."""
        span = self.one_off.get(code)
        return span is None or span[0] <= when.timestamp() < span[1]

    def apply(
        self, code: str, when: datetime, group: str | None, tier: str | None, base: int
    ) -> tuple[int, str | None]:
        """(points, what each campaign gave as ``code:+N;code:+M`` or None) for a tap that earns ``base``."""
        entries = self.by_activity.get(code, self.every)
        own = code in self.one_off
        if not entries:
            return base, (f"{code}:+{base}" if own else None)
        ts = when.timestamp()
        best = None
        bonuses = None
        for entry in entries:
            start, until, groups, tiers, kind, k100, _, _ = entry
            if ts < start or ts >= until:
                continue
            if (groups is not None and group not in groups) or (tiers is not None and tier not in tiers):
                continue
            if kind == "multiplier":
                if best is None or k100 > best[5]:
                    best = entry
            else:
                bonuses = [*bonuses, entry] if bonuses else [entry]
        if best is None and not bonuses:
            return base, (f"{code}:+{base}" if own else None)
        parts = [f"{code}:+{base}"] if own else []  # a one-off activity gives all it earns
        points = base
        if best is not None:
            points = base * best[5] // 100
            parts.append(f"{best[7]}:+{points - base}")
        for entry in bonuses or ():
            points += entry[6]
            parts.append(f"{entry[7]}:+{entry[6]}")
        return points, ";".join(parts)


def _entry(c: Campaign) -> tuple:
    return (
        c.starts.timestamp(),
        c.until.timestamp(),
        frozenset(c.groups) if c.groups else None,
        frozenset(c.tiers) if c.tiers else None,
        c.kind,
        c.multiplier_100,
        c.bonus,
        c.code,
    )


def compile_campaigns(campaigns, prog: Programme) -> tuple[Programme, Compiled]:
    """The programme with the one-off activities added, and the campaigns indexed for taps.

    Campaigns are in creation order (ties of the overlap rule go to the earlier one).
    A campaign naming an activity the programme no longer has is ignored for that activity.
    """
    from dataclasses import replace

    campaigns = list(campaigns)
    one_off = {c.code: c for c in campaigns if c.kind == "activity" and c.code not in prog.activities}
    others = [c for c in campaigns if c.kind != "activity"]
    every = tuple(_entry(c) for c in others if not c.activities)
    named = {code for c in others for code in c.activities}
    by_activity = {code: tuple(_entry(c) for c in others if not c.activities or code in c.activities) for code in named}
    if one_off:
        acts = dict(prog.activities)
        acts.update({code: c.activity for code, c in one_off.items()})
        prog = replace(prog, activities=acts)
    spans = {code: (c.starts.timestamp(), c.until.timestamp()) for code, c in one_off.items()}
    return prog, Compiled(by_activity, every, spans, len(others) + len(one_off))


def split_tag(tag: str | None) -> list[tuple[str, int]]:
    """``code:+N;code:+M`` (a ledger entry's ``campaign``) as [(code, N), ...]."""
    out = []
    for part in (tag or "").split(";"):
        code, _, n = part.partition(":")
        if code and n:
            out.append((code, int(n)))
    return out
