"""Sign-in, sign-out, the Account page, the language toggle, and the access rules
every request passes.

Everything but the sign-in page, the language toggle and static files needs a
signed-in staff member (session cookie) or, under ``/api/``, a bearer token.
Admin-only views are marked with :func:`admin_required`. A session carries the
account's ``password_version``: a password changed anywhere ends every session
signed in under the old one. An account whose password an admin chose
(``must_change_password``) sees only the Account page until it picks its own.
"""

from __future__ import annotations

import functools
import json
from urllib.parse import urlparse

from flask import (Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session,
                   url_for)
from flask_wtf.csrf import CSRFError

from server.web import accounts, i18n

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "auth.lang", "static"}
#: what a session may still open while its account must change its password
PASSWORD_CHANGE_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.account", "auth.logout"}


def _(text: str, **values) -> str:
    """Translate for the current request's language."""
    return i18n.translate(text, getattr(g, "lang", i18n.DEFAULT_LANG), **values)


def actor() -> str:
    """The audit actor for changes made in this request."""
    return f"web:{g.staff.username}"


def is_api() -> bool:
    """True for JSON API requests."""
    return request.path.startswith("/api/")


def account_error(exc: accounts.AccountError) -> str:
    """An AccountError in the current request's language."""
    return _(exc.template, **exc.values)


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
    sid, pwv = session.get("staff_id"), session.get("pwv")
    if sid is None:
        return
    s = accounts.Staff.get_or_none(accounts.Staff.id == sid)
    # a changed password (its version moved on) or a disabled account ends existing sessions;
    # cookies from before password_version existed carry no "pwv" and end too
    if s is None or not s.active or type(pwv) is not int or pwv != s.password_version:
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        return
    g.staff = s


def _start_session(s: accounts.Staff) -> None:
    """Bind the session to ``s`` and its current password version (a fresh session: no fixation)."""
    lang = session.get("lang")
    session.clear()
    session.permanent = True
    session.update(staff_id=s.id, pwv=s.password_version)
    if lang:
        session["lang"] = lang


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
        if g.staff.must_change_password and not g.via_token and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            # bearer tokens are unaffected: scripts have no page to change a password on
            if is_api() or request.path.startswith("/api"):
                return jsonify(error="this account must change its password on the console's Account page "
                                     "first"), 403
            return redirect(url_for("auth.account"))
        return None

    @app.context_processor
    def _template_globals():
        return {"_": _, "lang": g.get("lang", i18n.DEFAULT_LANG), "staff": g.get("staff"),
                "prog": current_app.extensions["privcard.prog"], "fmt_dt": _fmt_dt, "fmt_date": _fmt_date,
                "label": _label, "sources": i18n.SOURCE_LABELS,
                "audit_detail": audit_detail}

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
        return render_template("error.html", code=413, message=_("File too large (max 5 MB)")), 413


def _fmt_dt(when) -> str:
    return i18n.fmt_datetime(when, g.get("lang", i18n.DEFAULT_LANG), current_app.extensions["privcard.prog"].tz)


def _fmt_date(day) -> str:
    return i18n.fmt_date(day, g.get("lang", i18n.DEFAULT_LANG))


def _label(value) -> str:
    """A {"th","en"} label in the current language; other values unchanged."""
    if isinstance(value, dict) and "en" in value:
        return value.get(g.get("lang", i18n.DEFAULT_LANG)) or value["en"]
    return "" if value is None else str(value)


def audit_detail(value) -> str:
    """An audit row's ``detail`` as one line of JSON that shows Thai as Thai.

    Text, not markup: the template escapes it. Jinja's ``tojson`` wrote every non-ASCII
    character as a ``\\uXXXX`` escape, so the Staff page showed Thai names as escapes.
    Rows stored with escapes are decoded when the column is read (``JSONField`` parses
    the JSON); a detail saved as JSON *text* (a string holding an object) is parsed once
    more so it reads the same as the others.
    """
    if not value:
        return ""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


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
            _start_session(s)
            if s.must_change_password:
                return redirect(url_for("auth.account"))
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


@bp.route("/account", methods=["GET", "POST"])
def account():
    """The signed-in staff member's own account: change the password.

    A wrong current password counts toward the sign-in lock-out. After a change this
    session continues under the new password version; every other session ends.
    """
    if request.method == "POST":
        f = request.form
        forced = g.staff.must_change_password
        try:
            s = accounts.change_own_password(g.staff.id, f.get("current", ""), f.get("new", ""), f.get("again", ""))
        except accounts.SignInRefused as exc:
            if exc.reason == "locked":
                flash(_("Too many failed attempts: this account is locked until %(until)s.",
                        until=_fmt_dt(exc.until)), "error")
            else:
                flash(_("The current password is wrong; the password was not changed."), "error")
        except accounts.AccountError as exc:
            flash(_("%(reason)s — the password was not changed.", reason=account_error(exc)), "error")
        else:
            _start_session(s)
            flash(_("Your password was changed. Other sessions of this account are signed out."), "ok")
            return redirect(url_for("views.dashboard") if forced else url_for("auth.account"))
        return redirect(url_for("auth.account"))
    return render_template("account.html", min_password=accounts.MIN_PASSWORD, max_password=accounts.MAX_PASSWORD)


@bp.route("/lang/<code>")
def lang(code: str):
    """Switch the console's language and go back."""
    if code in i18n.LANGS:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next") or request.referrer and urlparse(request.referrer).path))
