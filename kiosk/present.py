"""Turn a server answer into the words and numbers each screen shows.

Pure functions (no Kivy). Every field of the answer is optional here: a missing
or mistyped field becomes a dash or a hidden line, never an exception — the
contract says kiosks must tolerate missing or extra fields.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from datetime import time as dtime
from zoneinfo import ZoneInfo

from broker import settings as device_settings
from broker.contract import MAX_FEEDBACK_TEXT, Answer, ContractError, parse_time
from broker.settings import WEEKDAYS

from .i18n import (
    LANGS,
    activity_label,
    format_baht,
    format_date_long,
    format_date_short,
    format_datetime,
    format_points,
    format_signed,
    pick,
    tr,
)

DEFAULT_TZ = "Asia/Bangkok"
DEFAULT_HOURS = ("08:00", "22:00")


def _int(value) -> int | None:
    """An int that is really an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def tier_of(member: dict) -> str:
    """``silver``/``gold`` when the answer says so, else ``unknown`` (drawn neutral)."""
    tier = member.get("tier") if isinstance(member, dict) else None
    return tier if tier in ("silver", "gold") else "unknown"


def mask_card(card) -> str:
    """Show only the last 4 hex digits of a card UID (privacy at a public screen)."""
    card = _str(card)
    if not card:
        return ""
    return "•••• " + card[-4:]


def member_view(answer: Answer | None, lang: str) -> dict:
    """Everything the member screen shows, formatted for ``lang``."""
    member = answer.member if answer is not None and isinstance(answer.member, dict) else {}
    tier = tier_of(member)
    balance = _int(answer.balance) if answer is not None else None
    view = {
        "name": _str(member.get("name")) or tr("member.no_name", lang),
        "tier": tier,
        "tier_label": tr(f"member.tier.{tier}", lang),
        "card_title": tr("member.card_title", lang),
        "card_number": mask_card(member.get("card")),
        "member_no": f"#{member['id']:06d}" if _int(member.get("id")) is not None else "",
        "group": _str(member.get("group")) or "",
        "valid_until": "",
        "balance": format_points(balance),
        "balance_label": tr("member.balance", lang),
        "today": "",
        "semester": "",
        "progress": None,
        "next": "",
        "privileges_title": tr("member.privileges", lang),
        "privileges": [],
        "no_privileges": "",
        "staff": member.get("staff") is True,
        "fines": "",
        "fines_state": "",
    }
    view["fines"], view["fines_state"] = fines_line(answer.ils if answer is not None else None, lang)
    valid = _str(member.get("valid_until"))
    if valid:
        try:
            view["valid_until"] = tr(
                "member.valid_until", lang, date=format_date_short(date.fromisoformat(valid[:10]), lang)
            )
        except ValueError:
            pass
    stats = answer.stats if answer is not None and isinstance(answer.stats, dict) else {}
    today = _int(stats.get("earned_today"))
    if today is not None:
        view["today"] = tr("member.today", lang, points=format_signed(today))
    semester = _int(stats.get("earned_semester"))
    if semester is not None:
        name = _str(stats.get("semester"))
        key = "member.semester_named" if name else "member.semester"
        view["semester"] = tr(key, lang, points=format_signed(semester), semester=name or "")

    privileges = answer.privileges if answer is not None and isinstance(answer.privileges, dict) else {}
    view["privileges"] = privilege_rows(privileges, lang)
    # the server says which points the levels follow: earned in the term, or the balance
    level = _int(privileges.get("level_points"))
    if level is not None and privileges.get("basis") == "earned_in_term":
        term = _str(privileges.get("term")) or ""
        view["privileges_title"] = tr("member.privileges_earned", lang, points=format_points(level), term=term)
    elif level is not None and privileges.get("basis") == "balance":
        view["privileges_title"] = tr("member.privileges_balance", lang, points=format_points(level))
    if level is not None:
        balance = level  # the progress bar below measures the points the levels follow
    if not view["privileges"]:
        view["no_privileges"] = tr("member.no_privileges", lang)

    nxt = privileges.get("next")
    if isinstance(nxt, dict) and _int(nxt.get("points")) is not None:
        target = nxt["points"]
        needed = _int(nxt.get("needed"))
        if needed is None and balance is not None:
            needed = max(0, target - balance)
        start = _int(nxt.get("from"))
        if balance is not None and target > 0:
            if start is not None and target > start:
                fraction = (balance - start) / (target - start)
            else:
                fraction = balance / target
            view["progress"] = min(1.0, max(0.0, fraction))
        unlocks = pick(nxt.get("unlocks"), lang)
        if needed is not None:
            view["next"] = tr(
                "member.next", lang, needed=format_points(needed), points=format_points(target), unlocks=unlocks
            ).rstrip(": ")
    elif privileges and "next" in privileges and nxt is None:
        view["next"] = tr("member.top_level", lang)
        view["progress"] = 1.0
    return view


def fines_line(ils, lang: str) -> tuple[str, str]:
    """(text, state) for the fines the library system reports; ("", "") when the answer has none.

    ``state`` is ``owed``, ``none`` (no fines) or ``unreachable`` (the ILS did not answer
    within the server's budget: said plainly, not as an alarm). Without an ILS, or for a
    member without a patron id, the answer carries no ``ils`` and the line stays hidden.
    """
    if not isinstance(ils, dict):
        return "", ""
    if ils.get("state") == "unreachable":
        return tr("member.ils_unreachable", lang), "unreachable"
    if ils.get("state") != "ok":
        return "", ""
    baht = ils.get("fines_baht")
    if format_baht(baht) == "—" or baht < 0:
        return "", ""
    if baht == 0:
        return tr("member.no_fines", lang), "none"
    points = _int(ils.get("points_to_clear"))
    if points is None or points <= 0:
        return tr("member.fines_only", lang, baht=format_baht(baht)), "owed"
    return tr("member.fines", lang, baht=format_baht(baht), points=format_points(points)), "owed"


def privilege_rows(privileges: dict, lang: str) -> list[tuple[str, str, str]]:
    """(icon key, title, value) for each privilege the answer carries (Tables 2–5)."""
    rows = []
    borrow = privileges.get("borrow")
    if isinstance(borrow, dict) and _int(borrow.get("books")) is not None:
        days = _int(borrow.get("loan_days"))
        loan = pick(borrow.get("loan"), lang) or (tr("priv.loan_days", lang, days=days) if days is not None else "")
        value = tr("priv.borrow_value", lang, books=borrow["books"], loan=loan) if loan else str(borrow["books"])
        rows.append(("borrow", tr("priv.borrow", lang), value))
    locker = _int(privileges.get("locker_days"))
    if locker is not None:
        rows.append(("locker", tr("priv.locker", lang), tr("priv.locker_value", lang, days=locker)))
    room = _int(privileges.get("study_room_hours"))
    if room is not None:
        rows.append(("room", tr("priv.room", lang), tr("priv.room_value", lang, hours=room)))
    fine = _int(privileges.get("fine_discount_baht"))
    if fine is not None:
        rows.append(("fine", tr("priv.fine", lang), tr("priv.fine_value", lang, baht=format_points(fine))))
    return rows


def history_rows(answer: Answer | None, lang: str, tz: str = DEFAULT_TZ) -> list[dict]:
    """The history table rows (newest first, at most 20), dates in the library's zone."""
    zone = _zone(tz)
    rows = []
    entries = answer.history if answer is not None and isinstance(answer.history, list) else []
    for index, entry in enumerate(entries[:20], start=1):
        if not isinstance(entry, dict):
            continue
        when = "—"
        try:
            when = format_datetime(parse_time(entry.get("at")).astimezone(zone), lang)
        except ContractError:
            pass
        points = _int(entry.get("points"))
        voided = entry.get("voided") is True
        reversal = _int(entry.get("void_of")) is not None
        label = activity_label(entry.get("activity"), entry.get("label"), lang)
        item = _str(entry.get("item"))
        if item:
            label = f"{label} · {item}"
        if reversal and not pick(entry.get("label"), lang):
            label = f"{tr('history.reversal', lang)}: {label}"
        rows.append(
            {
                "no": str(index),
                "at": when,
                "activity": label,
                "points": format_signed(points),
                "voided": voided,
                "status": tr("history.voided", lang) if voided else "",
                "negative": points is not None and points < 0,
            }
        )
    return rows


def message_view(state: str, reason: str | None, answer: Answer | None, lang: str) -> dict:
    """Title/body/hint for the unknown, blocked, expired and unavailable screens."""
    key = {
        "unknown": reason if reason in ("invalid", "not_genuine") else "unknown",
        "blocked": "blocked",
        "expired": "expired",
        "unavailable": "unavailable",
    }.get(state, "unknown")
    if key == "unavailable":
        body = tr("unavailable.bad_answer", lang) if reason == "bad_answer" else tr("unavailable.body", lang)
        hint = "" if reason == "bad_answer" else tr("unavailable.retrying", lang)
        view = {"title": tr("unavailable.title", lang), "body": body, "hint": hint}
    else:
        hint_key = {"unknown": "unknown.fee", "invalid": "invalid.fee"}.get(key, f"{key}.hint")
        view = {"title": tr(f"{key}.title", lang), "body": tr(f"{key}.body", lang), "hint": tr(hint_key, lang)}
    server_text = pick(answer.message, lang) if answer is not None else ""
    view["server_message"] = server_text if server_text and server_text not in view.values() else ""
    member = answer.member if answer is not None and isinstance(answer.member, dict) else {}
    view["name"] = _str(member.get("name")) or ""
    return view


def _zone(tz: str):
    try:
        return ZoneInfo(tz)
    except Exception:  # unknown zone name or no tz database: fall back to UTC
        return UTC


def parse_hours(text, default=DEFAULT_HOURS) -> tuple[str, str]:
    """``"08:00-22:00"`` → ("08:00", "22:00"); junk gives the default."""
    if isinstance(text, str):
        parts = text.replace("–", "-").split("-")
        if len(parts) == 2:
            try:
                opens, closes = (dtime.fromisoformat(p.strip()) for p in parts)
                return f"{opens:%H:%M}", f"{closes:%H:%M}"
            except ValueError:
                pass
    return default


def seconds_to_next_minute(now: datetime) -> float:
    """Seconds until the clock's ``HH:MM`` changes (the next whole minute of ``now``)."""
    return 60.0 - now.second - now.microsecond / 1e6


def read_config(settings) -> dict:
    """What the kiosk takes from its retained config's settings, checked by ``broker.settings``.

    Returns only what the config sets: ``library_name`` ({th, en}), ``tz`` (the
    library's time zone), ``week_hours`` ({"mon": "08:00-22:00" | "closed", …}), ``lang``,
    ``heartbeat_s`` and ``repeat_s`` (seconds); and always ``reader``: the spec staff set,
    or None when they set none (the kiosk's own ``--reader``; the server leaves it out then).
    Raises ``SettingError`` naming the bad key's path (``hours.mon must be HH:MM-HH:MM or
    closed, got '9-5'``) or ValueError for a time zone this machine does not know; the
    kiosk then keeps its previous config. Keys this version does not know are in
    ``ignored`` (a newer server), to log.
    """
    values, ignored = device_settings.parse("kiosk", settings)
    out: dict = {"ignored": ignored}
    library = values.get("library") or {}
    if any(library.get(k) for k in LANGS):
        out["library_name"] = {k: library[k] for k in LANGS if library.get(k)}
    if library.get("timezone"):
        try:
            ZoneInfo(library["timezone"])
        except Exception:  # ZoneInfoNotFoundError, or a name that is not a path
            raise ValueError(f"library.timezone: unknown time zone {library['timezone']!r}") from None
        out["tz"] = library["timezone"]
    if settings.get("hours") is not None:
        out["week_hours"] = values["hours"]
    for key in ("lang", "heartbeat_s", "repeat_s"):
        if settings.get(key) is not None:
            out[key] = values[key]
    out["reader"] = values.get("reader")
    return out


def hours_today(week: dict | None, today: date, default=DEFAULT_HOURS) -> tuple[str, str] | None:
    """Today's (opens, closes) from the server's ``hours`` setting, None when closed all day.

    ``week`` is ``{"mon": "08:00-22:00", "sun": "closed", …}`` as ``broker.settings``
    checks it (so well formed); a weekday it leaves out, or no ``week`` at all, is ``default``.
    """
    span = (week or {}).get(WEEKDAYS[today.weekday()])
    if span is None:
        return default
    if span == "closed":
        return None
    opens, closes = span.split("-")
    return opens, closes


def idle_view(now: datetime, lang: str, hours=DEFAULT_HOURS, library_name: dict | None = None) -> dict:
    """The attract screen: library name, today's date, clock, hours, closing state.

    ``hours`` is today's (opens, closes), or None when the library is closed all day.
    """
    hhmm = f"{now:%H:%M}"
    if hours is None:
        hours_text, status = tr("idle.closed_today", lang), tr("idle.closed_today_status", lang)
    else:
        opens, closes = hours
        hours_text = tr("idle.hours", lang, open=opens, close=closes)
        if opens <= hhmm < closes:
            status = tr("idle.closes", lang, close=closes)
        else:
            status = tr("idle.closed", lang, open=opens)
    return {
        "library": pick(library_name, lang) if library_name else tr("library_name", lang),
        "date": format_date_long(now.date(), lang),
        "clock": hhmm,
        "hours": hours_text,
        "status": status,
        "prompt": tr("idle.prompt", lang),
        "subprompt": tr("idle.subprompt", lang),
        "thanks": tr("idle.thanks", lang),
    }


def write_view(session, lang: str) -> dict:
    """The write screen: the chosen category, the text with a caret (or the hint), the count, what is missing."""
    draft = session.draft if session else ""
    # the last 120 characters: two lines on the screen show the end of what is being typed
    shown = (("…" if len(draft) > 120 else "") + draft[-120:] + "|") if draft else tr("write.placeholder", lang)
    return {
        "category": session.category if session else None,
        "draft": draft,
        "shown": shown,
        "count": tr("write.count", lang, n=len(draft), max=MAX_FEEDBACK_TEXT),
        "error": tr(session.write_error, lang) if session and session.write_error else "",
    }
