"""The console's programme pages (admin role): the programme edited live, campaigns, draws.

Thin like :mod:`server.web.views`: each view reads a form, calls one operation of
:mod:`server.services.programme` or :mod:`server.services.draws` with ``actor=web:<user>``,
flashes the outcome in the staff's language and redirects. Activities have their own
form; every other section (hours and closures, rules, semesters, tiers, partners,
privileges, rewards, and the sections other parts add, e.g. terms) is edited as its
TOML text, validated by the programme's loader, which names a bad field.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for

from server.domain.config import LIMITS, SECTIONS
from server.services import ServiceError, known_groups
from server.web import queries
from server.web.auth import _, actor, programme_admin_required, service_error

bp = Blueprint("programme", __name__)

#: how big an uploaded programme file may be
MAX_UPLOAD = 512 * 1024


def svc():
    """The process's service layer."""
    return current_app.extensions["privcard.service"]


def _fail(exc: ServiceError) -> None:
    flash(service_error(exc), "error")


def _done(result: dict) -> None:
    n = len(result["changes"])
    if n == 1:  # English says "1 change"; the Thai reads the same either way
        flash(_("Programme version %(version)s is in force (1 change).", version=result["version"]), "ok")
    elif n:
        flash(_("Programme version %(version)s is in force (%(n)s changes).", version=result["version"], n=n), "ok")
    else:
        flash(_("Nothing changed."), "ok")


def _change(op: Callable[[], dict], **page) -> Response:
    """Make one programme change and flash its outcome (a dry run: what it would change); back to the page."""
    try:
        result = op()
        if result.get("dry_run"):
            n = len(result["changes"])
            flash(
                _("Checked: 1 change, nothing saved.") if n == 1 else _("Checked: %(n)s changes, nothing saved.", n=n),
                "ok",
            )
        else:
            _done(result)
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("programme.programme", **page))


@bp.route("/programme")
@programme_admin_required
def programme():
    """Activities (add, change, retire), a section's TOML editor, versions, export/import."""
    section = request.args.get("section", "hours")
    if section not in SECTIONS:
        section = "hours"
    s = svc()
    return render_template(
        "programme.html",
        version=s.programme.version(),
        activities=list(s.programme.document().get("activities", {}).items()),
        limits=LIMITS,
        sections=SECTIONS,
        section=section,
        section_text=s.programme.section_text(section),
        versions=s.programme.versions(20),
    )


@bp.route("/programme/activities", methods=["POST"])
@programme_admin_required
def activity_save():
    """Add an activity or change one."""
    f = request.form
    code = (f.get("code") or "").strip()
    fields = {
        "points": _int(f.get("points")),
        "limit": f.get("limit") or None,
        "th": (f.get("th") or "").strip() or None,
        "en": (f.get("en") or "").strip() or None,
        "window": (f"before_close:{f.get('window_min').strip()}" if (f.get("window_min") or "").strip() else None),
        "direction": f.get("direction") or None,
    }
    return _change(lambda: svc().programme.save_activity(code, fields, actor=actor()))


@bp.route("/programme/activities/<code>/retire", methods=["POST"])
@programme_admin_required
def activity_retire(code: str):
    """Retire an activity (or bring it back with ``undo``)."""
    return _change(lambda: svc().programme.retire_activity(code, actor=actor(), retired=not request.form.get("undo")))


@bp.route("/programme/activities/<code>/delete", methods=["POST"])
@programme_admin_required
def activity_delete(code: str):
    """Remove an activity never credited (one with ledger entries is refused: retire it)."""
    return _change(lambda: svc().programme.delete_activity(code, actor=actor()))


@bp.route("/programme/section", methods=["POST"])
@programme_admin_required
def section_save():
    """Replace one section by its TOML text."""
    section = request.form.get("section", "")
    return _change(
        lambda: svc().programme.set_section(
            section, request.form.get("text", ""), actor=actor(), dry_run=bool(request.form.get("dry_run"))
        ),
        section=section if section in SECTIONS else "hours",
    )


@bp.route("/programme.toml")
@programme_admin_required
def export():
    """Download the programme in force as TOML."""
    return Response(
        svc().programme.export(),
        mimetype="application/toml",
        headers={"Content-Disposition": "attachment; filename=programme.toml"},
    )


@bp.route("/programme/import", methods=["POST"])
@programme_admin_required
def import_file():
    """Upload a TOML file: merged over the defaults, it becomes the next version (or is only checked)."""
    upload = request.files.get("file")
    data = upload.read(MAX_UPLOAD + 1) if upload else b""

    def import_upload() -> dict:
        if not data or len(data) > MAX_UPLOAD:
            raise ServiceError("choose a TOML file of at most %(kb)s KB", kb=MAX_UPLOAD // 1024)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError("the file is not UTF-8 text") from None
        return svc().programme.import_toml(text, actor=actor(), dry_run=bool(request.form.get("dry_run")))

    return _change(import_upload)


def _int(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return value if value not in (None, "") else None


# --------------------------------------------------------------------------- campaigns


@bp.route("/campaigns")
@programme_admin_required
def campaigns():
    """Every campaign with what it gave, and the add form."""
    s = svc()
    acts = [(c, a) for c, a in s.prog.activities.items() if c != "signup" and not a.retired]
    return render_template(
        "campaigns.html",
        campaigns=s.campaigns.list(),
        activities=acts,
        groups=known_groups(s.prog),  # the programme's, a library's own included
        tiers=s.prog.tiers,
        limits=LIMITS,
    )


@bp.route("/campaigns", methods=["POST"])
@programme_admin_required
def campaign_add():
    """Add a campaign."""
    f = request.form
    spec = {
        k: (f.get(k) or "").strip() or None
        for k in ("code", "kind", "starts", "ends", "multiplier", "bonus", "points", "limit", "th", "en")
    }
    for k in ("activities", "groups", "tiers"):
        spec[k] = f.getlist(k) or None
    try:
        d = svc().campaigns.add(spec, actor=actor())
        flash(_("Campaign %(code)s added.", code=d["code"]), "ok")
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("programme.campaigns"))


@bp.route("/campaigns/<code>/end", methods=["POST"])
@programme_admin_required
def campaign_end(code: str):
    """End a campaign now."""
    try:
        svc().campaigns.end(code, actor=actor())
        flash(_("Campaign %(code)s ended.", code=code), "ok")
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("programme.campaigns"))


# --------------------------------------------------------------------------- draws and rankings


@bp.route("/draws")
@programme_admin_required
def draws():
    """Draws and rankings, the create form, and a ranking preview."""
    s = svc()
    term = request.args.get("term") or s.draws.current_term()
    kind = request.args.get("ranking", "active")
    preview, error = None, None
    try:
        preview = s.draws.ranking("", kind=kind, term=term, top=10, actor=actor(), record=False)
    except ServiceError as exc:
        error = service_error(exc)
    return render_template(
        "draws.html",
        draws=s.draws.list(),
        groups=known_groups(s.prog),  # the programme's, a library's own included
        tiers=s.prog.tiers,
        rewards=s.prog.rewards,
        term=term,
        kind=kind,
        preview=preview,
        # the page is a programme administrator's (every site): each ranked member by name
        names=queries.member_names([t["member"] for t in preview["top"]]) if preview else {},
        preview_error=error,
    )


@bp.route("/draws", methods=["POST"])
@programme_admin_required
def draw_create():
    """Record a draw (its seed is generated and stored now)."""
    f = request.form
    try:
        d = svc().draws.create(
            f.get("name", ""),
            winners=_int(f.get("winners")),
            group=f.get("group") or None,
            tier=f.get("tier") or None,
            term=(f.get("term") or "").strip() or None,
            min_points=_int(f.get("min_points")) or 0,
            tickets=f.get("tickets") or "one",
            prize_points=_int(f.get("prize_points")),
            prize_reward=f.get("prize_reward") or None,
            actor=actor(),
        )
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("programme.draws"))
    flash(_("Draw %(id)s recorded with its seed; run it when ready.", id=d["id"]), "ok")
    return redirect(url_for("programme.draw", draw_id=d["id"]))


@bp.route("/rankings", methods=["POST"])
@programme_admin_required
def ranking_record():
    """Record a ranking's top N (to award them)."""
    f = request.form
    try:
        d = svc().draws.ranking(
            f.get("name", ""),
            kind=f.get("ranking", "active"),
            term=(f.get("term") or "").strip(),
            top=_int(f.get("top")),
            prize_points=_int(f.get("prize_points")),
            prize_reward=f.get("prize_reward") or None,
            actor=actor(),
        )
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("programme.draws"))
    return redirect(url_for("programme.draw", draw_id=d["id"]))


@bp.route("/draws/<int:draw_id>")
@programme_admin_required
def draw(draw_id: int):
    """One draw or ranking: filters, seed, eligible list, winners, and how to verify it."""
    s = svc()
    try:
        d = s.draws.show(draw_id)
    except ServiceError:
        abort(404)
    check = s.draws.verify(draw_id) if d["kind"] == "draw" and d["state"] != "created" else None
    # the page is a programme administrator's (every site): each eligible member by name
    names = queries.member_names([e[0] for e in d["eligible"] or []])
    return render_template("draw.html", d=d, check=check, rewards=s.prog.rewards, names=names)


@bp.route("/draws/<int:draw_id>/<action>", methods=["POST"])
@programme_admin_required
def draw_action(draw_id: int, action: str):
    """Run a draw, or award its winners."""
    s = svc()
    try:
        if action == "run":
            s.draws.run(draw_id, actor=actor())
            flash(_("Draw %(id)s run.", id=draw_id), "ok")
        elif action == "award":
            s.draws.award(draw_id, actor=actor())
            flash(_("Prizes of %(id)s awarded.", id=draw_id), "ok")
    except ServiceError as exc:
        _fail(exc)
    return redirect(url_for("programme.draw", draw_id=draw_id))
