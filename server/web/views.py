"""The console's pages: dashboard, members, devices, events, reports, staff.

Thin: each view reads a form, calls one service operation with ``actor=web:<user>``,
flashes what happened in the staff's language and redirects (post/redirect/get).
Service errors are written for staff; they are shown through the Thai catalogue
(``ServiceError.template`` and ``values``, see :func:`auth.service_error`).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from broker import contract
from broker import settings as device_settings
from server import broker_accounts, catalogue, store
from server.services import NotFound, ServiceError, known_groups
from server.services.attendance import MAX_ROWS
from server.services.ils import IlsUnavailable
from server.store import Audit, Card, LedgerEntry, Member
from server.web import accounts, labels, queries, reports
from server.web.auth import (
    _,
    _fmt_date,
    _fmt_dt,
    account_error,
    actor,
    admin_required,
    every_site_required,
    programme_admin_required,
    service_error,
    staff_scope,
    too_large_message,
)

bp = Blueprint("views", __name__)


def svc():
    """The process's service layer (:class:`server.services.Services`)."""
    return current_app.extensions["privcard.service"]


def prog():
    """The programme configuration."""
    return current_app.extensions["privcard.service"].prog


def _int(value, default=None):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def _row_id(value) -> int | None:
    """A row id from a query argument (``?before=``), or None when it is not one (1 to 2**63 - 1)."""
    n = _int(value)
    return n if n is not None and 1 <= n < 2**63 else None


def _member_or_404(mid: int) -> Member:
    m = Member.get_or_none(Member.id == mid)
    if m is None:
        abort(404)
    return m


def _fail(exc: ServiceError) -> None:
    flash(service_error(exc), "error")


# --------------------------------------------------------------------------- dashboard


@bp.route("/")
def dashboard():
    """Devices, today's numbers and the live tap list."""
    s = svc()
    scope = staff_scope()  # a branch's staff: their sites' members' cards only
    genuine = {**s.cards.counts(scope), "suspects": s.cards.suspects(20, scope)}
    return render_template("dashboard.html", d=queries.dashboard(s, scope), genuine=genuine, now=store.utcnow())


@bp.route("/dashboard/live")
def dashboard_live():
    """The dashboard's live part, re-fetched every few seconds by console.js (htmx-style swap)."""
    return render_template("_dashboard_live.html", d=queries.dashboard(svc(), staff_scope()), now=store.utcnow())


# --------------------------------------------------------------------------- members


@bp.route("/members")
def members():
    """Search and the enrol form."""
    return _members_page(request.args.get("q", ""), {})


def _members_page(q: str, form):
    """The search's results for ``q`` and the enrol form filled with ``form``."""
    found = queries.search_members(q, limit=50)
    cards = queries.active_cards([m.id for m in found])
    return render_template("members.html", q=q, members=found, cards=cards, groups=_groups(), form=form)


@bp.route("/members", methods=["POST"])
def enrol():
    """Enrol a member with a card: sign-up credit and joining fee."""
    f = request.form
    try:
        m = svc().members.add(
            f.get("name", ""),
            f.get("card", ""),
            tier=f.get("tier") or None,
            group=f.get("group") or None,
            valid_until=f.get("valid_until") or None,
            email=f.get("email") or None,
            patron_id=(f.get("patron_id") or "").strip() or None,
            home_site=f.get("home_site") or None,
            scope=staff_scope(),
            actor=actor(),
        )
    except ServiceError as exc:
        _fail(exc)  # the form again with what was typed, so one wrong field costs only that field
        return _members_page("", f), 400
    flash(
        _("Member %(id)s enrolled with %(points)s sign-up points.", id=m.id, points=m.balance)
        + " "
        + _("Joining fee %(baht)s baht.", baht=prog().signup_fee_baht),
        "ok",
    )
    return redirect(url_for("views.member", mid=m.id))


@bp.route("/members/<int:mid>")
def member(mid: int):
    """The member screen: details, cards, privileges, the ledger with void buttons, counter forms."""
    return _member_page(_member_or_404(mid), {})


def _member_page(m: Member, transfer: dict):
    """The member screen, its transfer form filled with ``transfer`` (what a refused transfer typed)."""
    before = _row_id(request.args.get("before"))
    entries, older = queries.ledger_page(svc(), m.id, before=before, limit=20)
    data = svc().reads.member_dict(m, scope=staff_scope())
    counter = svc().points.counter_activities()
    level = svc().members.privilege_level(m)
    today = svc().today()
    # a stamp's date is a day of the site the award is made at (its own time zone)
    site_today = svc().sites.day_of(svc().points.site_of(m, staff_scope()))
    return render_template(
        "member.html",
        m=m,
        ils=_ils_panel(m),
        ils_flag_text=ils_flag_text,
        data=data,
        entries=entries,
        names=queries.ledger_names(entries),  # campaigns' and draws' names for their codes
        older=older,
        before=before,
        privileges=level["privileges"],
        level=level,
        term_rule=prog().terms.rule(m.group),
        words=catalogue.TERM_WORDS,
        expired=bool(m.valid_until and today > m.valid_until),
        stamp_days=(site_today - timedelta(days=prog().max_tap_age_days), site_today),
        fees=[] if data["site_only"] else queries.fees(m.id),  # money taken at its home site's counter
        counter=counter,
        groups=_groups(),
        rewards=list(prog().rewards.values()),
        sites=svc().sites.list(staff_scope()),
        own=not data["site_only"],
        patron_pin_set=svc().patrons.has_pin(m.id),
        transfer=transfer,
    )


def _groups() -> list[str]:
    """The member groups: the programme's (``[terms.groups]``), U1-U5 by default."""
    return list(known_groups(prog()))


@bp.route("/members/<int:mid>/renew", methods=["POST"])
def member_renew(mid: int):
    """Renew a membership for the next term; the renewal fee is recorded."""
    _member_or_404(mid)
    try:
        d = svc().terms.renew(mid, until=request.form.get("until") or None, actor=actor(), scope=staff_scope())
        until = _fmt_date(date.fromisoformat(d["valid_until"])) if d["valid_until"] else "—"
        flash(
            _("Membership renewed until %(day)s; renewal fee %(baht)s baht recorded.", day=until, baht=d["fee_baht"]),
            "ok",
        )
    except NotFound:  # another site's member: as if there were none (docs/sites.md)
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid))


@bp.route("/members/<int:mid>/tier", methods=["POST"])
def member_tier(mid: int):
    """Give a member a tier by hand, with the reason recorded in their history."""
    _member_or_404(mid)
    try:
        m = svc().terms.set_tier(
            mid, request.form.get("tier", ""), reason=request.form.get("reason", ""), actor=actor(), scope=staff_scope()
        )
        flash(_("Card type is now %(tier)s.", tier=_label(prog().tiers.get(m.tier))), "ok")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid))


def _label(pair: dict | None) -> str:
    return (pair or {}).get(g.lang) or (pair or {}).get("en") or ""


@bp.route("/terms", methods=["GET", "POST"])
def terms():
    """Membership terms and tiers as configured, and the term close (admins run it; anyone previews)."""
    report = None
    if request.method == "POST":
        if g.staff.role != "admin" or g.staff.sites:  # the term close is the whole programme's
            abort(403)
        try:
            report = svc().terms.close(
                request.form.get("date") or None, dry_run=request.form.get("run") != "1", actor=actor()
            )
            if not report["dry_run"]:
                flash(_("Term close done: %(n)s member(s) lapsed.", n=len(report["lapsed"])), "ok")
                if report["tiers"]:
                    flash(
                        _("%(n)s card type(s) won by points put back: the new term has begun.", n=len(report["tiers"])),
                        "ok",
                    )
        except ServiceError as exc:
            _fail(exc)
    o = svc().terms.overview()
    o["today_d"] = date.fromisoformat(o["today"])
    for gr in o["groups"]:
        gr["until_d"] = date.fromisoformat(gr["joining_today_until"]) if gr["joining_today_until"] else None
    return render_template("terms.html", o=o, report=report, words=catalogue.TERM_WORDS)


#: the 14 SIP2 patron-status flags (message 24/64, positions 0-13), as staff read them
ILS_FLAGS = {
    "charge_privileges_denied": "may not borrow",
    "renewal_privileges_denied": "may not renew",
    "recall_privileges_denied": "may not recall",
    "hold_privileges_denied": "may not place holds",
    "card_reported_lost": "card reported lost",
    "too_many_items_charged": "too many items on loan",
    "too_many_items_overdue": "too many items overdue",
    "too_many_renewals": "too many renewals",
    "too_many_claims_of_items_returned": "too many claims of items returned",
    "too_many_items_lost": "too many items lost",
    "excessive_outstanding_fines": "excessive outstanding fines",
    "excessive_outstanding_fees": "excessive outstanding fees",
    "recall_overdue": "recall overdue",
    "too_many_items_billed": "too many items billed",
}


def ils_flag_text(name: str) -> str:
    """A patron-status flag in the staff's language (an unknown name shown as it came)."""
    text = ILS_FLAGS.get(name)
    return _(text) if text else str(name).replace("_", " ")


def _ils_panel(m: Member) -> dict | None:
    """What the library system (ILS) says of the member, for the member page's panel.

    None (no panel) when no ILS is configured or the member has no patron id;
    ``{"state": "ok", **patron}``; ``{"state": "unreachable"}`` when the ILS does not
    answer; ``{"state": "error", "error": text}`` when it refuses the question.
    """
    if not svc().ils.configured or not getattr(m, "patron_id", None):
        return None
    if not staff_scope().covers(m.home_site, prog()):  # the ILS record is site-only data (docs/sites.md)
        return None
    try:
        return {"state": "ok", **svc().ils.patron(m.id, actor=actor())}
    except IlsUnavailable as exc:
        return {"state": "unreachable", "error": service_error(exc)}
    except ServiceError as exc:
        return {"state": "error", "error": service_error(exc)}


@bp.route("/members/<int:mid>/edit", methods=["POST"])
def member_edit(mid: int):
    """Change name, tier, group, validity, status."""
    _member_or_404(mid)
    f = request.form
    keys = ("name", "tier", "group", "valid_until", "status", "email", "patron_id", "home_site")
    fields = {k: f.get(k) for k in keys if k in f}
    for key in ("email", "patron_id", "group"):  # an emptied field (or "—") clears it, as enrol does
        if key in fields and not (fields[key] or "").strip():
            fields[key] = None
    try:
        svc().members.set(mid, actor=actor(), scope=staff_scope(), **fields)
        flash(_("Member saved."), "ok")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid))


@bp.route("/members/<int:mid>/patron-pin", methods=["POST"])
def member_patron_pin(mid: int):
    """Set or remove the PIN the member signs in to their own page with (never shown, never logged)."""
    _member_or_404(mid)
    clear = request.form.get("action") == "clear"
    try:
        svc().patrons.set_pin(
            mid, None if clear else request.form.get("patron_pin", ""), actor=actor(), scope=staff_scope()
        )
        flash(_("PIN removed.") if clear else _("PIN set; the member's open sessions on their page ended."), "ok")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid) + "#patron-pin-card")


@bp.route("/members/<int:mid>/replace-card", methods=["POST"])
def replace_card(mid: int):
    """A lost card: new card, old ones blocked, fee recorded."""
    _member_or_404(mid)
    try:
        svc().members.replace_card(mid, request.form.get("card", ""), actor=actor(), scope=staff_scope())
        flash(_("Card replaced; the old card is blocked and the fee recorded."), "ok")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid))


@bp.route("/members/<int:mid>/block-card", methods=["POST"])
def block_card(mid: int):
    """Block one of the member's cards."""
    _member_or_404(mid)
    uid = request.form.get("card", "")
    card = Card.get_or_none(Card.uid == uid)
    if card is None or card.member_id != mid:
        abort(404)
    try:
        svc().members.block_card(
            uid, request.form.get("reason") or "blocked by staff", actor=actor(), scope=staff_scope()
        )
        flash(_("Card %(uid)s blocked.", uid=uid), "ok")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid))


@bp.route("/members/<int:mid>/credit", methods=["POST"])
def credit(mid: int):
    """Manual credit for a counter activity (borrowing, partner shop, volunteer session...)."""
    m = _member_or_404(mid)
    f = request.form
    activity = f.get("activity", "")
    item = {"partner_purchase": f.get("shop"), "volunteer": f.get("session")}.get(activity, f.get("session"))
    act = prog().activities.get(activity)
    # a partner-shop stamp card is credited for the stamp's date (within the maximum tap age)
    at = (f.get("stamp_date") or "").strip() or None if activity == "partner_purchase" else None
    if at == svc().sites.day_of(svc().points.site_of(m, staff_scope())).isoformat():
        at = None  # today's stamp (the day of the site the award is made at): now (noon may be still to come)
    elif at and re.fullmatch(r"\d{4}-\d{2}-\d{2}", at):
        at += "T12:00"  # an earlier day's stamp: its noon, in the site's time zone
    try:
        outcome, entry = svc().points.award(
            mid, activity, item=(item or "").strip() or None, at=at, actor=actor(), scope=staff_scope()
        )
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.member", mid=mid, activity=activity or None))
    name = (g.lang == "th" and act.th) or act.en
    if outcome == "credited":
        flash(_("Credited %(points)s points for %(activity)s.", points=entry.points, activity=name), "ok")
    else:
        flash(_("Already credited today: %(activity)s earns once per day.", activity=name), "error")
    return redirect(url_for("views.member", mid=mid, activity=activity or None))


@bp.route("/members/<int:mid>/transfer", methods=["POST"])
def transfer(mid: int):
    """Move points to another member."""
    m = _member_or_404(mid)
    points = _int(request.form.get("points"), 0)
    target = request.form.get("to", "")
    try:
        _out, in_e = svc().points.transfer(
            mid, target, points, actor=actor(), note=request.form.get("note") or None, scope=staff_scope()
        )
    except NotFound as exc:
        if not staff_scope().covers(m.home_site, prog()):
            abort(404)
        _fail(exc)  # the other member: unknown, or of another site (the same answer)
        return _member_page(m, request.form), 400  # the form again with what was typed
    except ServiceError as exc:
        _fail(exc)
        return _member_page(m, request.form), 400
    flash(_("Transferred %(points)s points to member %(to)s.", points=points, to=in_e.member_id), "ok")
    return redirect(url_for("views.member", mid=mid))


@bp.route("/members/<int:mid>/redeem", methods=["POST"])
def redeem(mid: int):
    """Spend points on a reward from the catalogue; never below zero."""
    _member_or_404(mid)
    f = request.form
    reward = f.get("reward", "")
    r = prog().rewards.get(reward)
    try:
        if r is not None and r.step_points:
            out = svc().points.redeem(mid, reward, points=_int(f.get("points"), 0), actor=actor(), scope=staff_scope())
        else:
            units = 1 if not (f.get("units") or "").strip() else _int(f.get("units"), 0)  # "0", "abc": refused
            out = svc().points.redeem(mid, reward, units=units, actor=actor(), scope=staff_scope())
        extra = f" ({out['baht']} {_('baht')})" if "baht" in out else f" × {out.get('units', 1)}"
        ils = out.get("ils")
        if ils and ils.get("status") == "refused":
            _flash_ils(ils, "error")  # the points came back: nothing was redeemed
        else:
            flash(
                _("Redeemed %(points)s points: %(reward)s.", points=out["points"], reward=out["label"][g.lang]) + extra,
                "ok",
            )
            if ils:
                _flash_ils(ils, "ok" if ils.get("status") == "confirmed" else "warn")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.member", mid=mid, reward=reward or None))


#: what staff read for each outcome of a fine-discount payment sent to the ILS
ILS_OUTCOMES = {
    "confirmed": "The library system confirmed the payment (%(transaction)s).",
    "refused": "The library system refused the payment (%(transaction)s); the points were given back.",
    "pending": "The library system did not answer: the payment (%(transaction)s) is pending and will be sent again "
    "until it is settled.",
}


def _flash_ils(ils: dict, category: str) -> None:
    """One line for the ILS's outcome of a fine-discount payment, with the ILS's own message."""
    text = _(ILS_OUTCOMES.get(ils.get("status"), ILS_OUTCOMES["pending"]), transaction=ils.get("transaction") or "—")
    if ils.get("message"):
        text += " " + _("The library system says: %(message)s", message=ils["message"])
    flash(text, category)


@bp.route("/members/<int:mid>/entries/<int:eid>/void", methods=["GET", "POST"])
def void(mid: int, eid: int):
    """Confirm and void one ledger entry with a reason (a reversal entry is appended)."""
    m = _member_or_404(mid)
    try:  # the service's rule: an entry made at one of the account's sites (a visitor's too), or of its member
        e = svc().points.entry_for_void(eid, staff_scope())
    except NotFound:
        abort(404)
    if e.member_id != mid:
        abort(404)
    error = None
    # a fine discount paid in the library system: its points come back only by what the ILS did
    paid = svc().ils.for_entry(eid) if e.activity == "redeem" else None
    if request.method == "POST":
        reason = (request.form.get("reason") or "").strip()
        if not reason:
            error = _("A reason is required.")
        elif paid and request.form.get("reversed") == "1":
            if g.staff.sites:  # like ils resolve: the library system's payments are every site's
                abort(403)
            try:
                out = svc().ils.reverse(paid["transaction"], reason, actor())
                flash(
                    _(
                        "Payment %(transaction)s reversed in the library system: the %(points)s points are back.",
                        transaction=out["transaction"],
                        points=out["points"],
                    ),
                    "ok",
                )
                return redirect(url_for("views.member", mid=mid))
            except ServiceError as exc:
                error = service_error(exc)
        else:
            try:
                svc().points.void(eid, reason, actor=actor(), scope=staff_scope())
                flash(_("Entry %(id)s voided.", id=eid), "ok")
                return redirect(url_for("views.member", mid=mid))
            except NotFound:
                abort(404)
            except ServiceError as exc:
                error = service_error(exc)
    shown = dict(svc().ledger.entry_dict(e), at_dt=e.at)  # the date as every page shows it (B.E. in Thai)
    return render_template("void.html", m=m, e=shown, paid=paid, error=error), (400 if error else 200)


# --------------------------------------------------------------------------- devices


def _device_form(f) -> tuple[dict, dict]:
    """Fields and settings from the device form; '' means "use the default"."""
    fields = {k: (f.get(k) or None) for k in ("kind", "direction", "activity", "location", "site") if k in f}
    settings: dict = {}
    for row in device_settings.describe():  # the form shows every staff setting broker.settings declares
        key = row["key"]
        if key not in f:
            continue
        raw = (f.get(key) or "").strip()
        if not raw:
            settings[key] = None
        elif row["type"] == "object":
            settings[key] = parse_pins(raw)
        elif row["type"] in ("integer", "number"):
            try:
                value = float(raw)
            except ValueError:
                raise ServiceError("%(field)s must be a number, got %(value)r", field=key, value=raw) from None
            # a whole number stays an int, so "3000.5" is refused for an integer setting, not rounded
            settings[key] = int(value) if value == int(value) else value
        else:
            settings[key] = raw
    return fields, settings


def parse_pins(text: str) -> dict | None:
    """``relay=17, green=22`` (or a JSON object) to ``{"relay": 17, "green": 22}``."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            pins = json.loads(text)
        except ValueError:
            raise ServiceError("pins: not valid JSON") from None
        if not isinstance(pins, dict):
            raise ServiceError("pins must be name=number pairs")
        return pins
    pins: dict = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise ServiceError("pins: write name=number, got %(part)r", part=part.strip())
        pins[name] = int(value) if value.lstrip("-").isdigit() else value
    return pins


def pins_text(pins) -> str:
    """The pins setting as the form shows it."""
    return ", ".join(f"{k}={v}" for k, v in (pins or {}).items())


@bp.route("/devices")
@admin_required
def devices():
    """All devices with status, and the add form."""
    return render_template(
        "devices.html",
        devices=queries.device_rows(svc().devices.visible(staff_scope())),
        sites=svc().sites.list(staff_scope()),
        activities=prog().activities,
        kinds=contract.DEVICE_KINDS,
        setting_rows=device_settings.describe(),
    )


@bp.route("/devices", methods=["POST"])
@admin_required
def device_add():
    """Register a device; the server publishes its retained config."""
    f = request.form
    try:
        fields, settings = _device_form(f)
        settings = {k: v for k, v in settings.items() if v is not None}
        d = svc().devices.add(
            (f.get("id") or "").strip(),
            fields.get("kind") or "",
            direction=fields.get("direction"),
            activity=fields.get("activity"),
            location=fields.get("location"),
            settings=settings,
            site=fields.get("site"),
            actor=actor(),
            scope=staff_scope(),
        )
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.devices"))
    flash(_("Device %(id)s added; its config is published to the device.", id=d.id), "ok")
    return redirect(url_for("views.device", device_id=d.id))


@bp.route("/devices/<device_id>", methods=["GET", "POST"])
@admin_required
def device(device_id: str):
    """Edit a device, see its status, config and recent taps (only a device of the staff's sites)."""
    try:
        d = svc().devices.get(device_id, staff_scope())
    except NotFound:
        abort(404)
    if request.method == "POST":
        try:
            fields, settings = _device_form(request.form)
            current = d.settings or {}
            changes = dict(fields)
            for k, v in settings.items():
                if v != current.get(k):
                    changes[k] = v
            changed = svc().devices.change(device_id, actor=actor(), scope=staff_scope(), **changes)[1]
            if changed:
                flash(
                    _("Device %(id)s saved; the device receives the new config within a few seconds.", id=device_id),
                    "ok",
                )
            else:  # the form sends every field: a save that changes none writes nothing, and says so
                flash(_("Device %(id)s: nothing changed.", id=device_id), "ok")
        except ServiceError as exc:
            _fail(exc)
        return redirect(url_for("views.device", device_id=device_id))
    row = next(r for r in queries.device_rows() if r["id"] == device_id)
    config = svc().devices.config(d).to_dict()
    return render_template(
        "device.html",
        d=row,
        config=json.dumps(config, ensure_ascii=False, indent=1),
        taps=queries.latest_taps(20, device=device_id),
        pins=pins_text(d.settings.get("pins")),
        activities=svc().sites.view_of(d).activities,  # as its site names them (its own late-stay window)
        kinds=contract.DEVICE_KINDS,
        setting_rows=device_settings.describe(),
        sites=svc().sites.list(staff_scope()),
    )


@bp.route("/devices/<device_id>/retire", methods=["POST"])
@admin_required
def device_retire(device_id: str):
    """Retire a device (lost, stolen, replaced): the server refuses everything it sends."""
    try:
        svc().devices.retire(device_id, actor=actor(), scope=staff_scope())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.device", device_id=device_id))
    flash(_("Device %(id)s retired: the server refuses everything it sends.", id=device_id), "ok")
    _flash_broker(broker_accounts.sync_if_configured(), device_id)
    return redirect(url_for("views.device", device_id=device_id))


@bp.route("/devices/<device_id>/reactivate", methods=["POST"])
@admin_required
def device_reactivate(device_id: str):
    """Bring a retired device back."""
    try:
        svc().devices.reactivate(device_id, actor=actor(), scope=staff_scope())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.device", device_id=device_id))
    flash(_("Device %(id)s is active again; issue it new broker credentials.", id=device_id), "ok")
    _flash_broker(broker_accounts.sync_if_configured(), device_id)
    return redirect(url_for("views.device", device_id=device_id))


def _flash_broker(done: dict | None, device_id: str) -> None:
    """Say whether the broker's files were updated, or what is left to do on the broker host."""
    if done and "error" not in done:
        flash(_("Broker account files updated; reload Mosquitto to apply them."), "ok")
    else:
        flash(
            _(
                "On the broker host, run `privcard admin device acl` and reload Mosquitto to update %(id)s's account.",
                id=device_id,
            ),
            "error" if done else "ok",
        )


# --------------------------------------------------------------------------- sites


def _site_row(site) -> dict:
    row = svc().reads.site_dict(site)
    today = svc().sites.day_of(site.code)  # the site's own day, in its own time zone
    hours = (
        "closed" if today.isoformat() in row["closures"] else row["hours"][device_settings.WEEKDAYS[today.weekday()]]
    )
    row["today"] = _("closed") if hours == "closed" else hours
    return row


@bp.route("/sites")
def sites():
    """The sites the signed-in account works for (every site for a programme administrator)."""
    return render_template("sites.html", rows=[_site_row(x) for x in svc().sites.list(staff_scope())])


@bp.route("/sites/<code>")
def site(code: str):
    """One site: hours, closures, own rules, devices (404 outside the account's sites)."""
    try:
        found = svc().sites.get(code.upper(), staff_scope())
    except NotFound:
        abort(404)
    row = _site_row(found)
    shown = set(row["devices"])
    return render_template(
        "site.html",
        s=row,
        closures=[date.fromisoformat(d) for d in row["closures"]],
        devices=[d for d in queries.device_rows(shown)],
    )


# --------------------------------------------------------------------------- the library system (ILS)


def _ils_or_404():
    """The ILS part of the service layer; the pages exist only when a library system is configured."""
    if not svc().ils.configured:
        abort(404)
    return svc().ils


@bp.route("/ils/pending")
@every_site_required
def ils_pending():
    """Fine-discount payments sent to the ILS and not yet answered, oldest first, with "settle now"."""
    rows = _ils_or_404().pending()
    for r in rows:  # ISO-8601 from the service; the page shows it as every date (B.E. in Thai)
        try:
            r["created_at"] = contract.parse_time(r["created_at"])
        except (contract.ContractError, TypeError):
            pass
    return render_template("ils_pending.html", rows=rows)


@bp.route("/ils/settle", methods=["POST"])
@every_site_required
def ils_settle():
    """Send every pending payment again now (same BK each time: never paid twice)."""
    try:
        results = _ils_or_404().settle(actor=actor())
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.ils_pending"))
    counts = {k: sum(1 for r in results if r.get("status") == k) for k in ("confirmed", "refused", "pending")}
    if not results:
        flash(_("No payment was pending."), "ok")
    else:
        flash(
            _(
                "Sent again: %(confirmed)s confirmed, %(refused)s refused (points given back), %(pending)s still pending.",
                **counts,
            ),
            "warn" if counts["pending"] or counts["refused"] else "ok",
        )
    return redirect(url_for("views.ils_pending"))


@bp.route("/ils/resolve", methods=["POST"])
@every_site_required
def ils_resolve():
    """Staff settle one pending payment by the library system's own records: paid, or not (points back)."""
    transaction, paid = request.form.get("transaction", ""), request.form.get("paid")
    if paid not in ("1", "0"):
        abort(400)
    try:
        out = _ils_or_404().resolve(transaction, paid == "1", actor())
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.ils_pending"))
    if out["status"] == "confirmed":
        flash(_("Payment %(transaction)s marked paid in the library system.", transaction=transaction), "ok")
    else:
        flash(_("Payment %(transaction)s marked not paid: the points are given back.", transaction=transaction), "ok")
    return redirect(url_for("views.ils_pending"))


# --------------------------------------------------------------------------- events


@bp.route("/events", methods=["GET", "POST"])
def events():
    """The list of events and the create form."""
    if request.method == "POST":
        f = request.form
        try:
            ev = svc().attendance.add_event(
                f.get("name") or "",
                f.get("activity", ""),
                f.get("day") or "",
                created_by=g.staff.username,
                actor=actor(),
                site=f.get("site") or None,
                scope=staff_scope(),
            )
        except ServiceError as exc:
            _fail(exc)
            return redirect(url_for("views.events"))
        flash(_("Event created."), "ok")
        return redirect(url_for("views.event", event_id=ev.id))
    rows = svc().attendance.events(staff_scope())
    counts = {}
    for ev in rows:
        counts[ev.id] = (
            LedgerEntry.select()
            .where(
                (LedgerEntry.activity == ev.activity)
                & (LedgerEntry.item == ev.name)
                & (LedgerEntry.day == ev.day)
                & (LedgerEntry.source == "import")
            )
            .count()
        )
    return render_template(
        "events.html",
        events=rows,
        counts=counts,
        activities=svc().attendance.event_activities(),
        # an event's date may be its site's today (the latest of the account's sites'); the date offered
        # is that of the site an event goes to by default (the account's one site, else the default site)
        today=svc().sites.today(staff_scope()),
        day=_default_event_day(),
        sites=svc().sites.list(staff_scope()),
    )


def _default_event_day() -> date:
    """Today at the site a new event goes to when none is chosen: the account's one site, else the default site."""
    scope = staff_scope()
    return svc().sites.day_of(next(iter(scope.sites)) if scope.sites is not None and len(scope.sites) == 1 else None)


def _event_or_404(event_id: int):
    """An event of the signed-in account's sites (another site's: 404, like a missing id)."""
    try:
        return svc().attendance.event(event_id, staff_scope())
    except NotFound:
        abort(404)


#: how long an upload or credit request waits for its job before showing the progress page
#: (a list of a few hundred rows is done by then; the request thread only waits, it holds nothing)
SMALL_WAIT_S = 2.0


def jobs():
    """The process's attendance job runner (:class:`server.web.jobs.JobRunner`)."""
    return current_app.extensions["privcard.jobs"]


@bp.route("/events/<int:event_id>")
def event(event_id: int):
    """One event: its uploads, the upload form, a preview or result (with a job's progress)."""
    ev = _event_or_404(event_id)
    uploads = list(
        store.Upload.select(
            store.Upload.id,
            store.Upload.filename,
            store.Upload.created_at,
            store.Upload.created_by,
            store.Upload.credited_at,
            store.Upload.event,
        )
        .where(store.Upload.event == ev.id)
        .order_by(store.Upload.id.desc())
    )
    shown = job = None
    sel = _int(request.args.get("upload"))
    if sel and any(u.id == sel for u in uploads):
        shown = (
            store.Upload.select(
                store.Upload.id,
                store.Upload.filename,
                store.Upload.preview,
                store.Upload.result,
                store.Upload.credited_at,
                store.Upload.event,
            )
            .where(store.Upload.id == sel)
            .first()
        )
        job = svc().attendance.upload_job(sel)
    if shown is not None:  # for this page only, never saved
        shown.preview, shown.result = _in_language(shown.preview), _in_language(shown.result)
    credited = (
        LedgerEntry.select(LedgerEntry, Member.id, Member.name)
        .join(Member)
        .where(
            (LedgerEntry.activity == ev.activity)
            & (LedgerEntry.item == ev.name)
            & (LedgerEntry.day == ev.day)
            & (LedgerEntry.source == "import")
        )
        .order_by(LedgerEntry.id)
        .limit(500)
    )
    return render_template(
        "event.html",
        ev=ev,
        act=prog().activities.get(ev.activity),
        uploads=uploads,
        shown=shown,
        job=job,
        job_failure=catalogue.localize(  # its values in the page's language too (a name in both languages too)
            job.failure["template"],
            {k: _stored_value(v) for k, v in job.failure["values"].items()},
            getattr(g, "lang", catalogue.DEFAULT_LANG),
        )
        if job and job.failure
        else None,
        credited=list(credited),
        upload_mb=current_app.config["PRIVCARD_UPLOAD_LIMIT"] // 1_000_000,
        max_rows=MAX_ROWS,
    )


@bp.route("/events/<int:event_id>/upload", methods=["POST"])
def event_upload(event_id: int):
    """Upload a registration CSV and start its preview (a dry run in the background: nothing is credited)."""
    ev = _event_or_404(event_id)
    fh = request.files.get("file")
    if fh is None or not fh.filename:
        flash(_("Choose a file."), "error")
        return redirect(url_for("views.event", event_id=ev.id))
    limit = current_app.config["PRIVCARD_UPLOAD_LIMIT"]
    data = fh.read(limit + 1)
    if len(data) > limit:  # under the request limit (413) but over the file limit
        flash(too_large_message(), "error")
        return redirect(url_for("views.event", event_id=ev.id))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        flash(_("The file is not UTF-8 text."), "error")
        return redirect(url_for("views.event", event_id=ev.id))
    try:
        up = svc().attendance.preview_upload(
            ev, fh.filename, text, created_by=g.staff.username, role=g.staff.role, actor=actor(), scope=staff_scope()
        )
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.event", event_id=ev.id))  # a role over its limit: the flash says so
    job_id = svc().attendance.upload_job(up.id).id
    jobs().submit(job_id)
    jobs().wait(job_id, SMALL_WAIT_S)  # a small list's preview is there when the page opens
    return redirect(url_for("views.event", event_id=ev.id, upload=up.id))


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _stored_value(value):
    """A reason's value as a stored row keeps it (JSON): a day is kept as ``YYYY-MM-DD`` and read back as a date."""
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _in_language(rows):
    """Stored preview/result rows with each error reason in the request's language (a day in Thai: Buddhist era)."""
    if rows is None:
        return None
    return [
        {
            **r,
            "error": catalogue.localize(
                r["why"]["template"],
                {k: _stored_value(v) for k, v in r["why"]["values"].items()},
                getattr(g, "lang", catalogue.DEFAULT_LANG),
            ),
        }
        if r.get("why")
        else r
        for r in rows
    ]


@bp.route("/events/<int:event_id>/uploads/<int:upload_id>/credit", methods=["POST"])
def event_credit(event_id: int, upload_id: int):
    """Start crediting a previewed list; the service's accrual key makes a second credit a no-op."""
    ev = _event_or_404(event_id)
    up = store.Upload.get_or_none((store.Upload.id == upload_id) & (store.Upload.event == ev.id))
    if up is None:
        abort(404)
    try:
        job = svc().attendance.credit_upload(
            ev, up, started_by=g.staff.username, role=g.staff.role, actor=actor(), scope=staff_scope()
        )
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("views.event", event_id=ev.id, upload=up.id))
    jobs().submit(job.id)
    job = jobs().wait(job.id, SMALL_WAIT_S)
    if job.status == "done":
        flash(
            _(
                "%(n)s credited, %(already)s already credited, %(errors)s errors.",
                n=job.credited,
                already=job.already,
                errors=job.errors,
            ),
            "ok" if not job.errors else "error",
        )
    else:
        flash(_("Crediting started: this page shows its progress."), "ok")
    return redirect(url_for("views.event", event_id=ev.id, upload=up.id))


# --------------------------------------------------------------------------- reports


def _range() -> tuple[date, date, str]:
    """The reports' date range from ``?from=&to=`` (ServiceError for a bad one)."""
    start, end, label = reports.default_range(svc(), staff_scope())
    start, end = reports.parse_range(request.args.get("from"), request.args.get("to"), (start, end))
    return start, end, label


REPORT_TITLES = {
    "entries_daily": "Entries per day",
    "entries_hourly": "Entries per hour",
    "top_borrowers": "Top borrowers of the semester",
    "top_users": "Top library users of the semester",
    "points": "Points earned and redeemed per activity",
    "segments": "Members by segment",
    "feedback": "Kiosk feedback ratings",
    "feedback_desk": "Feedback by category and channel",
    "feedback_answer_time": "Time to the first answer",
    "feedback_satisfaction": "Satisfaction per month",
    "clock_anomalies": "Devices with doubtful tap times",
    "campaigns": "Points given by each campaign",
}


@bp.route("/reports")
def reports_page():
    """All reports for a date range (default: this semester to date); 400 for a bad range."""
    status = 200
    try:
        start, end, label = _range()
    except ServiceError as exc:
        _fail(exc)
        start, end, label = reports.default_range(svc(), staff_scope())
        status = 400
    try:
        sites = svc().sites.report_sites(staff_scope(), request.args.get("site"))
    except NotFound:
        abort(404)
    built = [(name, _(REPORT_TITLES[name]), reports.build(name, svc(), start, end, sites)) for name in reports.REPORTS]
    charts = {
        name: Markup(
            (reports.hbar_chart if name.startswith("top_") else reports.bar_chart)(
                r.chart or [], title=title, lang=g.lang
            )
        )
        for name, title, r in built
        if name not in ("points",) and any(v for _, v in (r.chart or []))
    }
    return (
        render_template(
            "reports.html",
            built=built,
            charts=charts,
            start=start,
            end=end,
            semester=label,
            sites=svc().sites.list(staff_scope()),
            site=sites[0] if sites and request.args.get("site") else "",
            combined=staff_scope().everything,
        ),
        status,
    )


@bp.route("/reports/<name>.csv")
def report_csv(name: str):
    """One report as CSV."""
    if name not in reports.BUILDERS:
        abort(404)
    try:
        start, end, _label = _range()
    except ServiceError as exc:
        return Response(service_error(exc), status=400, mimetype="text/plain; charset=utf-8")
    try:
        sites = svc().sites.report_sites(staff_scope(), request.args.get("site"))
    except NotFound:
        abort(404)
    rep = reports.build(name, svc(), start, end, sites)
    return Response(
        rep.csv(g.lang),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{start}-{end}.csv"'},
    )


# --------------------------------------------------------------------------- staff (admin)


@bp.route("/staff", methods=["GET", "POST"])
@programme_admin_required
def staff():
    """Staff accounts, API tokens and the audit trail."""
    token = None
    if request.method == "POST":
        f = request.form
        try:
            if f.get("action") == "token":
                token, row = accounts.issue_token(
                    g.staff.username, f.get("label", ""), actor=actor(), days=f.get("days")
                )
                flash(
                    _("API token %(id)s created; it expires on %(day)s.", id=row.id, day=_fmt_dt(row.expires_at)), "ok"
                )
            else:
                # the admin chose this password: the person picks their own at the first sign-in
                scope = svc().sites.scope(f.getlist("sites"))  # checked: unknown codes refused
                accounts.add_staff(
                    f.get("username", ""),
                    f.get("role", "staff"),
                    f.get("password", ""),
                    actor=actor(),
                    must_change_password=True,
                    sites=scope.text(),
                )
                flash(
                    _("Staff account %(name)s added.", name=f.get("username", "").strip().lower())
                    + " "
                    + _("They must choose their own password at the first sign-in."),
                    "ok",
                )
                return redirect(url_for("views.staff"))
        except accounts.AccountError as exc:
            flash(account_error(exc), "error")
            return redirect(url_for("views.staff"))
        except ServiceError as exc:
            _fail(exc)
            return redirect(url_for("views.staff"))
    people = list(accounts.Staff.select().order_by(accounts.Staff.username))
    audit = list(Audit.select().order_by(Audit.id.desc()).limit(50))
    return render_template(
        "staff.html",
        people=people,
        audit=audit,
        targets=queries.audit_targets(
            [(labels.audit_target_kind(a.action), a.target) for a in audit]
            + [ref for a in audit for ref in labels.audit_detail_refs(a.action, a.detail)],
            svc().ledger,
        ),
        token=token,
        tokens=accounts.list_tokens(limit=200),  # revoked and expired ones stay listed: the newest 200
        token_days=accounts.TOKEN_DAYS,
        token_max_days=accounts.TOKEN_MAX_DAYS,
        roles=accounts.ROLES,
        now=store.utcnow(),
        sites=svc().sites.list(),
        pin_lockouts=svc().staff.lockouts(),
    )


@bp.route("/staff/<int:staff_id>/sites", methods=["POST"])
@programme_admin_required
def staff_sites(staff_id: int):
    """Change the sites a staff account works for (none ticked: every site)."""
    try:
        scope = svc().sites.scope(request.form.getlist("sites"))
        person = accounts.set_sites(staff_id, scope.text(), actor=actor())
        flash(_("Sites of %(name)s saved.", name=person.username), "ok")
    except accounts.AccountError as exc:
        flash(account_error(exc), "error")
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.staff"))


@bp.route("/staff/tokens/<int:token_id>/revoke", methods=["POST"])
@programme_admin_required
def staff_token_revoke(token_id: int):
    """Revoke any account's API token."""
    try:
        accounts.revoke_token(token_id, actor=actor())
    except accounts.AccountError:
        abort(404)
    flash(_("API token %(id)s revoked.", id=token_id), "ok")
    return redirect(url_for("views.staff"))


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def account_token_revoke(token_id: int):
    """Revoke one of your own API tokens (the Account page)."""
    try:
        accounts.revoke_token(token_id, actor=actor(), owner=g.staff.id)
    except accounts.AccountError:
        abort(404)
    flash(_("API token %(id)s revoked.", id=token_id), "ok")
    return redirect(url_for("auth.account"))


@bp.route("/staff/password", methods=["POST"])
@programme_admin_required
def staff_password():
    """Give another account a temporary password it must change at its next sign-in."""
    f = request.form
    s = accounts.Staff.get_or_none(accounts.Staff.id == _int(f.get("staff")))
    try:
        if s is None:
            raise accounts.AccountError("choose an account")
        if s.id == g.staff.id:
            raise accounts.AccountError("change your own password on the Account page")
        if f.get("password", "") != f.get("again", ""):
            raise accounts.AccountError("the two new passwords differ")
        accounts.set_password(s.username, f.get("password", ""), actor=actor(), must_change=True)
    except accounts.AccountError as exc:
        flash(_("%(reason)s — the password was not changed.", reason=account_error(exc)), "error")
        return redirect(url_for("views.staff"))
    flash(
        _(
            "Temporary password set for %(name)s: they must change it at their next sign-in; "
            "their open sessions are signed out.",
            name=s.username,
        ),
        "ok",
    )
    return redirect(url_for("views.staff"))


@bp.route("/staff/<int:staff_id>/unlock", methods=["POST"])
@programme_admin_required
def staff_unlock(staff_id: int):
    """Lift a lock-out."""
    s = accounts.Staff.get_or_none(accounts.Staff.id == staff_id)
    if s is None:
        abort(404)
    accounts.set_staff(s.username, unlock=True, actor=actor())
    flash(_("Account unlocked."), "ok")
    return redirect(url_for("views.staff"))


@bp.route("/staff/pin-unlock", methods=["POST"])
@programme_admin_required
def staff_pin_unlock():
    """Lift a kiosk staff PIN lock-out (a member's card on one kiosk) before its time."""
    f = request.form
    try:
        cleared = svc().staff.clear(f.get("member", ""), device=f.get("device") or None, actor=actor())
        devices = ", ".join(sorted({c["device"] for c in cleared}))
        flash(
            _("Staff PIN lock-out of member #%(id)s lifted on %(devices)s.", id=f.get("member"), devices=devices), "ok"
        )
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("views.staff"))


__all__ = ["NotFound", "bp"]
