"""Sign-in, sign-out, the language toggle, and the access rules every request passes.

Everything but the sign-in page, the language toggle and static files needs a
signed-in staff member (session cookie) or, under ``/api/``, a bearer token.
Admin-only views are marked with :func:`admin_required`.
"""

from __future__ import annotations

import functools
from urllib.parse import urlparse

from flask import (Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError

from server.web import accounts, i18n

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "auth.lang", "static"}


def _(text: str, **values) -> str:
    """Translate for the current request's language."""
    return i18n.translate(text, getattr(g, "lang", i18n.DEFAULT_LANG), **values)


def actor() -> str:
    """The audit actor for changes made in this request."""
    return f"web:{g.staff.username}"


def is_api() -> bool:
    """True for JSON API requests."""
    return request.path.startswith("/api/")


def admin_required(view):
    """Only admins; staff get 403."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.staff is None or g.staff.role != "admin":
            abort(403)
        return view(*args, **kwargs)
    wrapper.admin_only = True
    return wrapper


def _load_staff():
    g.staff = None
    g.via_token = False
    header = request.headers.get("Authorization", "")
    if is_api() and header.lower().startswith("bearer "):
        s = accounts.staff_for_token(header[7:].strip())
        if s is not None:
            g.staff, g.via_token = s, True
        return
    sid, ver = session.get("staff_id"), session.get("ver")
    if sid is None:
        return
    s = accounts.Staff.get_or_none(accounts.Staff.id == sid)
    # a changed password or a disabled account ends existing sessions
    if s is None or not s.active or ver != s.password_hash[-16:]:
        session.clear()
        return
    g.staff = s


def init_app(app) -> None:
    """Install the access gate and error pages."""

    @app.before_request
    def _gate():
        _load_staff()
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if g.staff is None:
            if is_api() or request.endpoint is None and request.path.startswith("/api"):
                return jsonify(error="sign in or send 'Authorization: Bearer <token>'"), 401
            flash(_("Please sign in."), "info")
            nxt = request.full_path if request.method == "GET" else None
            return redirect(url_for("auth.login", next=nxt))
        return None

    @app.context_processor
    def _template_globals():
        return {"_": _, "lang": g.get("lang", i18n.DEFAULT_LANG), "staff": g.get("staff"),
                "prog": current_app.extensions["privcard.prog"], "fmt_dt": _fmt_dt, "fmt_date": _fmt_date,
                "label": _label, "sources": i18n.SOURCE_LABELS}

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        if is_api():
            return jsonify(error=f"CSRF check failed: {exc.description}"), 400
        return render_template("error.html", code=400,
                               message=_("The form expired or was not sent by this console; nothing was changed. "
                                         "Please try again.")), 400

    @app.errorhandler(403)
    def _forbidden(exc):
        if is_api():
            return jsonify(error="admin role required"), 403
        return render_template("error.html", code=403, message=_("Only administrators can open this page.")), 403

    @app.errorhandler(404)
    def _not_found(exc):
        if is_api():
            return jsonify(error="not found"), 404
        return render_template("error.html", code=404, message=_("Not found")), 404

    @app.errorhandler(413)
    def _too_large(exc):
        if is_api():
            return jsonify(error="request too large"), 413
        return render_template("error.html", code=413, message="File too large (max 5 MB)"), 413


def _fmt_dt(when) -> str:
    return i18n.fmt_datetime(when, g.get("lang", i18n.DEFAULT_LANG), current_app.extensions["privcard.prog"].tz)


def _fmt_date(day) -> str:
    return i18n.fmt_date(day, g.get("lang", i18n.DEFAULT_LANG))


def _label(value) -> str:
    """A {"th","en"} label in the current language; other values unchanged."""
    if isinstance(value, dict) and "en" in value:
        return value.get(g.get("lang", i18n.DEFAULT_LANG)) or value["en"]
    return "" if value is None else str(value)


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a sign-in to another site."""
    if not target:
        return url_for("views.dashboard")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("views.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in page."""
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            s = accounts.authenticate(username, request.form.get("password", ""))
        except accounts.SignInRefused as exc:
            if exc.reason == "locked":
                error = _("Too many failed attempts: this account is locked until %(until)s.",
                          until=_fmt_dt(exc.until))
            else:
                error = _("Wrong username or password.")
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session on sign-in (no fixation)
            session.permanent = True
            session.update(staff_id=s.id, ver=s.password_hash[-16:])
            if lang:
                session["lang"] = lang
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST with CSRF, so another site cannot sign staff out)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>")
def lang(code: str):
    """Switch the console's language and go back."""
    if code in i18n.LANGS:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next") or request.referrer and urlparse(request.referrer).path))
