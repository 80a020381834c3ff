"""The console's feedback desk (issue 14): the queue, one item, recording counter/phone/e-mail feedback.

Thin like :mod:`server.web.views`: each view reads a form, calls one operation of
:mod:`server.services.feedback` with ``actor=web:<user>`` and the account's sites
(``staff_scope``: another site's item is 404, as a missing id), flashes the outcome in the
staff's language and redirects. Patron text is shown through Jinja's autoescaping only.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from broker.contract import FEEDBACK_CATEGORIES, MAX_FEEDBACK_TEXT
from server import catalogue
from server.domain.feedback import CHANNELS, DECISIONS, STAFF_CHANNELS, STATUSES
from server.services import NotFound, ServiceError
from server.web import accounts
from server.web.auth import _, actor, service_error, staff_scope

bp = Blueprint("feedback", __name__)


def svc():
    """The process's service layer."""
    return current_app.extensions["privcard.service"]


def _fail(exc: ServiceError) -> None:
    flash(service_error(exc), "error")


def _staff_names() -> list[str]:
    active = accounts.Staff.select().where(accounts.Staff.active == True)  # noqa: E712 (SQL, not Python truth)
    return [s.username for s in active.order_by(accounts.Staff.username)]


def _times(d: dict) -> dict:
    """The item with its instants as datetimes (``fmt_dt`` shows them in the library's zone, B.E. in Thai)."""
    for key in ("received_at", "answered_at"):
        d[f"{key}_dt"] = datetime.fromisoformat(d[key]) if d.get(key) else None
    return d


def _context(**extra) -> dict:
    return {
        "words": catalogue.FEEDBACK_WORDS,
        "categories": FEEDBACK_CATEGORIES,
        "channels": CHANNELS,
        "staff_channels": STAFF_CHANNELS,
        "statuses": STATUSES,
        "decisions": DECISIONS,
        "max_text": MAX_FEEDBACK_TEXT,
        "pledge_points": svc().prog.book_request_points,
        "sites": svc().sites.list(staff_scope()),
        **extra,
    }


@bp.route("/feedback")
def queue():
    """The queue with filters (status, category, channel, assignee), and the counter's form."""
    f = request.args
    filters = {k: f.get(k) or None for k in ("status", "category", "channel", "assignee", "site")}
    status = 200
    try:
        rows = [_times(d) for d in svc().feedback.list(**filters, open_only=f.get("open") == "1", scope=staff_scope())]
    except NotFound:  # ?site= of another site
        abort(404)
    except ServiceError as exc:
        _fail(exc)
        rows, status = [], 400
    return render_template("feedback.html", **_context(rows=rows, filters=filters, staff_names=_staff_names())), status


@bp.route("/feedback", methods=["POST"])
def record():
    """Staff record feedback taken at the counter, by e-mail or by phone."""
    f = request.form
    channel = f.get("channel", "")
    if channel not in STAFF_CHANNELS:
        flash(
            _(
                "channel must be one of %(known)s, got %(channel)r",
                known=", ".join(STAFF_CHANNELS),
                channel=channel[:40],
            ),
            "error",
        )
        return redirect(url_for("feedback.queue"))
    rating = f.get("rating", "").strip()
    try:
        d = svc().feedback.submit(
            channel=channel,
            category=f.get("category", ""),
            text=f.get("text", ""),
            member=f.get("member", "").strip() or None,
            rating=int(rating) if rating.isdigit() else (None if not rating else rating),
            pledge=f.get("pledge") == "1",
            actor=actor(),
            site=f.get("site") or None,
            scope=staff_scope(),
        )
    except ServiceError as exc:
        _fail(exc)
        return redirect(url_for("feedback.queue"))
    flash(_("Feedback %(id)s recorded.", id=d["id"]), "ok")
    return redirect(url_for("feedback.item", fid=d["id"]))


@bp.route("/feedback/<int:fid>")
def item(fid: int):
    """One item: the patron's text, assign, status, the answer form."""
    try:
        d = _times(svc().feedback.get(fid, staff_scope()))
    except NotFound:
        abort(404)
    return render_template("feedback_item.html", **_context(f=d, staff_names=_staff_names()))


def _act(fid: int, operation, done: str):
    try:
        operation()
    except NotFound:
        abort(404)
    except ServiceError as exc:
        _fail(exc)
    else:
        flash(_(done, id=fid), "ok")
    return redirect(url_for("feedback.item", fid=fid))


@bp.route("/feedback/<int:fid>/assign", methods=["POST"])
def assign(fid: int):
    """Give the item to a staff account (or nobody)."""
    who = request.form.get("assignee", "")
    return _act(
        fid, lambda: svc().feedback.assign(fid, who, actor=actor(), scope=staff_scope()), "Feedback %(id)s assigned."
    )


@bp.route("/feedback/<int:fid>/status", methods=["POST"])
def status(fid: int):
    """Move the item: in progress, closed (answered only by answering)."""
    new = request.form.get("status", "")
    return _act(
        fid, lambda: svc().feedback.set_status(fid, new, actor=actor(), scope=staff_scope()), "Feedback %(id)s updated."
    )


@bp.route("/feedback/<int:fid>/answer", methods=["POST"])
def answer(fid: int):
    """Write the answer and the action taken (and a book request's decision)."""
    f = request.form
    return _act(
        fid,
        lambda: svc().feedback.answer(
            fid,
            f.get("answer", ""),
            f.get("action", ""),
            decision=f.get("decision") or None,
            actor=actor(),
            scope=staff_scope(),
        ),
        "Feedback %(id)s answered.",
    )
