"""The console's message pages (admin role) and the public unsubscribe page (no sign-in).

Thin like :mod:`server.web.views`: each view reads a form, calls one operation of
:mod:`server.services.messages` and renders. ``/u/<token>`` is outside the staff
console's sign-in (:data:`server.web.auth.PUBLIC_ENDPOINTS`): the signed token is the
only thing it trusts.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from server.messages.templates import SEGMENT_FIELDS
from server.services import NotFound, ServiceError, known_groups
from server.web.auth import _, actor, programme_admin_required, service_error, staff_scope

bp = Blueprint("messages", __name__)

SEGMENT_FORM = ("group", "tier", "term", "active_days", "lapsed")


def svc():
    return current_app.extensions["privcard.service"]


def _segment(form) -> dict:
    return {k: form.get(k).strip() for k in SEGMENT_FORM if (form.get(k) or "").strip()}


def _texts(form) -> tuple[dict, dict]:
    return (
        {lang: form.get(f"subject_{lang}", "") for lang in ("th", "en")},
        {lang: form.get(f"body_{lang}", "") for lang in ("th", "en")},
    )


@bp.route("/messages", methods=["GET", "POST"])
@programme_admin_required
def messages():
    """Write a message to a segment, preview its recipients, send it; the outbox at a glance."""
    s = svc()
    form = request.form if request.method == "POST" else request.args
    preview = None
    if request.method == "POST":
        subject, body = _texts(form)
        segment = _segment(form)
        try:
            if form.get("do") == "send":
                d = s.messages.send_segment(subject, body, segment, actor=actor())
                flash(
                    _(
                        "Message queued for %(n)s member(s); %(out)s opted out, %(none)s without an address.",
                        n=d["counts"]["queued"],
                        out=d["counts"]["opted_out"],
                        none=d["counts"]["no_address"],
                    ),
                    "ok",
                )
                return redirect(url_for("messages.batch", batch_id=d["batch"]))
            # a preview checks the text too (an unknown placeholder is refused before anything is sent)
            from server.messages import templates

            for text in (*subject.values(), *body.values()):
                templates.check_text(text, SEGMENT_FIELDS)
            preview = s.messages.preview(segment)
        except ServiceError as exc:
            flash(service_error(exc), "error")
        except ValueError as exc:  # a TemplateError from the preview's check
            flash(service_error(ServiceError.of(exc)), "error")
    return render_template(
        "messages.html",
        form=form,
        preview=preview,
        fields=SEGMENT_FIELDS,
        groups=known_groups(s.prog),
        tiers=s.prog.tiers,
        summary=s.messages.summary(),
        batches=s.messages.batches(20),
        pending=s.messages.list(status="pending", limit=20),
        failed=s.messages.list(status="failed", limit=20),
        mail=s.messages.config,
    )


@bp.route("/messages/<int:batch_id>")
@programme_admin_required
def batch(batch_id: int):
    """One segment message: its text, counts, and the delivery log of each recipient."""
    s = svc()
    try:
        b = s.messages.batch(batch_id)
    except NotFound:
        abort(404)
    status = request.args.get("status") or None
    try:
        rows = s.messages.list(batch=batch_id, status=status, limit=500)
    except ServiceError as exc:
        flash(service_error(exc), "error")
        rows = []
    return render_template("message_batch.html", b=b, rows=rows, status=status)


@bp.route("/members/<int:mid>/contact", methods=["POST"])
def member_contact(mid: int):
    """Staff change a member's contact data and consent (any signed-in staff of the member's home site,
    like the member form; another site's member is 404)."""
    f = request.form
    fields = {"email": f.get("email") or None, "phone": f.get("phone") or None, "language": f.get("language") or "th"}
    for key in ("consent_notices", "consent_marketing", "consent_statement", "consent_ranking"):
        fields[key] = f.get(key) == "1"
    try:
        svc().messages.set_preferences(mid, actor=actor(), scope=staff_scope(), **fields)
        flash(_("Contact and message preferences saved."), "ok")
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(service_error(exc), "error")
    return redirect(url_for("views.member", mid=mid) + "#contact")


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """The unsubscribe link in every message: no sign-in, a signed token; Thai and English."""
    try:
        d = svc().messages.unsubscribe(token)
    except NotFound:
        return render_template("unsubscribe.html", ok=False), 404
    return render_template("unsubscribe.html", ok=True, kind=d["kind"])
