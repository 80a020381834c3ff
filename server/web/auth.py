"""Sign-in, sign-out, the Account page, the language toggle, and the access rules
every request passes.

Everything but the sign-in page, the language toggle and static files needs a
signed-in staff member (session cookie) or, under ``/api/``, a bearer token.
Admin-only views are marked with :func:`admin_required`. The session cookie holds
only a random session id; the session itself is a ``web_session`` row
(:func:`accounts.start_session`), checked on every request, so signing out, a password
change anywhere or a disabled account ends it for every copy of the cookie. An account
whose password an admin chose (``must_change_password``) sees only the Account page
until it picks its own. Error pages (any HTTP error, and 500 for an unexpected
exception) use the console's template in the staff's language; the API answers JSON.
"""

from __future__ import annotations

import functools
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from server import catalogue
from server.services.messages import reason_label
from server.web import accounts, labels

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "auth.lang", "static", "messages.unsubscribe"}
#: what a session may still open while its account must change its password
PASSWORD_CHANGE_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.account", "auth.logout"}


def _(text: str, **values) -> str:
    """Translate for the current request's language."""
    return catalogue.translate(text, getattr(g, "lang", catalogue.DEFAULT_LANG), **values)


#: the API's own refusals (not a service's): English, and their Thai in the catalogue
API_ERRORS = (
    "sign in or send 'Authorization: Bearer <token>'",
    "this account must change its password on the console's Account page first",
    "CSRF check failed: %(reason)s",
    "admin role required",
    "not found",
    "request too large",
    "internal server error",
    "this is the whole programme's; your account works for some sites",
    # the other HTTP errors by their names (``_http_error``)
    "bad request",
    "unauthorized",
    "forbidden",
    "method not allowed",
    "not acceptable",
    "request timeout",
    "conflict",
    "gone",
    "unsupported media type",
    "too many requests",
    "service unavailable",
)


def thai(template: str | None, values: dict | None = None) -> str | None:
    """A template in Thai (dates in the Buddhist era), or None when the catalogue has none."""
    return catalogue.thai(template, values)


def error_fields(refusal, **values) -> dict:
    """``{"error": English, "error_th": Thai}`` of a refusal (``error_th`` when the catalogue has it).

    ``refusal`` is a ServiceError/AccountError (its template and values) or one of
    :data:`API_ERRORS` with ``values``. ``error`` stays the English text scripts match,
    whatever the session's language (as ``privcard admin --json`` does).
    """
    if isinstance(refusal, str):
        template, english = refusal, (refusal % values if values else refusal)
    else:
        template, values, english = getattr(refusal, "template", None), getattr(refusal, "values", {}), str(refusal)
    th = thai(template, values)
    return {"error": english, **({"error_th": th} if th else {})}


def api_error(status: int, refusal, **values):
    """An API error response with ``status``: :func:`error_fields` as JSON."""
    resp = jsonify(error_fields(refusal, **values))
    resp.status_code = status
    return resp


def actor() -> str:
    """The audit actor for changes made in this request."""
    return f"web:{g.staff.username}"


def is_api() -> bool:
    """True for JSON API requests."""
    return request.path.startswith("/api/")


def is_patron() -> bool:
    """True for the patron pages (``/me``): never the staff session, their own error page."""
    return request.path == "/me" or request.path.startswith("/me/")


def error_page(code: int, message: str) -> str:
    """The error page: the console's, or the patron pages' under ``/me``."""
    return render_template("patron_error.html" if is_patron() else "error.html", code=code, message=message)


def account_error(exc: accounts.AccountError) -> str:
    """An AccountError in the current request's language."""
    return _(exc.template, **exc.values)


def service_error(exc) -> str:
    """A ServiceError (or a service ``Message``, e.g. an import row's reason) in the request's language.

    The API does not call this: it answers with ``str(exc)``, the English text scripts match.
    """
    template = getattr(exc, "template", None)
    if template is None:
        return str(exc)
    # dates read as the console shows them elsewhere (Buddhist era in Thai); a value that is
    # itself a refusal (the "why" of "the programme was not changed: %(why)s") is translated too
    return catalogue.localize(template, exc.values, g.get("lang", catalogue.DEFAULT_LANG))


def admin_required(view):
    """Only admins; staff get 403."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.staff is None or g.staff.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    wrapper.admin_only = True
    return wrapper


def staff_scope():
    """The signed-in account's sites (:class:`server.services.sites.Scope`; every site when unscoped)."""
    from server.services.sites import EVERYTHING, Scope

    return Scope.parse(g.staff.sites) if g.get("staff") is not None else EVERYTHING


def programme_admin_required(view):
    """Only programme administrators (admins whose scope is every site); others get 403.

    The programme, campaigns, draws, terms and staff accounts are the whole programme's:
    an admin scoped to some sites manages their devices, not these.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.staff is None or g.staff.role != "admin" or g.staff.sites:
            abort(403)
        return view(*args, **kwargs)

    wrapper.admin_only = True
    return wrapper


def every_site_required(view):
    """Only accounts that work for every site (any role); an account scoped to sites gets 403.

    For pages that show every site's members at once (pending ILS payments with patron ids),
    which the admin CLI refuses under ``--as`` a site's account too.
    """

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if g.staff is None or g.staff.sites:
            abort(403)
        return view(*args, **kwargs)

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
    if not session.get("sid"):
        if "staff_id" in session:  # a cookie from before server-side sessions: sign in again
            _clear_session()
        return
    s = accounts.session_staff(session["sid"])
    if s is None:  # signed out, ended by a password change or a disabled account, or idle too long
        _clear_session()
        return
    g.staff = s


def _clear_session() -> None:
    """Forget who is signed in; keep the language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _start_session(s: accounts.Staff) -> None:
    """A fresh ``web_session`` row for ``s`` and a cookie holding only its id (no fixation).

    Raises AccountError when ``s`` changed its password or was disabled meanwhile.
    """
    sid = accounts.start_session(s)
    _clear_session()
    session.permanent = True
    session["sid"] = sid


def init_app(app) -> None:
    """Install the access gate and error pages."""

    @app.before_request
    def _gate():
        if is_patron():  # the patron pages have their own cookie and sign-in (server.web.patron)
            g.staff, g.via_token = None, False
            return None
        _load_staff()
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        if g.staff is None:
            if is_api() or (request.endpoint is None and request.path.startswith("/api")):
                return api_error(401, "sign in or send 'Authorization: Bearer <token>'")
            flash(_("Please sign in."), "info")
            nxt = request.full_path if request.method == "GET" else None
            return redirect(url_for("auth.login", next=nxt))
        if g.staff.must_change_password and not g.via_token and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            # bearer tokens are unaffected: scripts have no page to change a password on
            if is_api() or request.path.startswith("/api"):
                return api_error(403, "this account must change its password on the console's Account page first")
            return redirect(url_for("auth.account"))
        return None

    @app.context_processor
    def _template_globals():
        return {
            "_": _,
            "lang": g.get("lang", catalogue.DEFAULT_LANG),
            "staff": g.get("staff"),
            "prog": current_app.extensions["privcard.service"].prog,
            "fmt_dt": _fmt_dt,
            "fmt_minute": _fmt_minute,
            "fmt_date": _fmt_date,
            "label": _label,
            "sources": catalogue.SOURCE_LABELS,
            # codes in words (server/web/labels.py): windows, sites, readers, versions, audit details
            "window_text": labels.window_text,
            "activity_name": labels.activity_name,
            "site_activity_name": labels.site_activity_name,
            "activity_at_sites": labels.activity_at_sites,
            "site_name": labels.site_name,
            "device_name": labels.device_name,
            "site_list": labels.site_list,
            "reader_state": labels.reader_state,
            "version_reason": labels.version_reason,
            "section_title": labels.section_title,
            "tier_change": labels.tier_change,
            "campaign_badges": labels.campaign_badges,
            "reward_name": labels.reward_name,
            "group_name": labels.group_name,
            "draw_criteria": labels.draw_criteria,
            "eligibility": labels.eligibility,
            "audit_pairs": labels.audit_pairs,
            "audit_action": labels.audit_action,
            "actor_name": labels.actor_name,
            "audit_target": labels.audit_target,
            "reason_label": reason_label,  # a message's reason: template, values, detail
            # the nav links the pending ILS payments page only when a library system is configured
            "ils_configured": current_app.extensions["privcard.service"].ils.configured,
        }

    @app.errorhandler(CSRFError)
    def _csrf_error(exc):
        if is_api():
            return api_error(400, "CSRF check failed: %(reason)s", reason=exc.description)
        return error_page(
            400,
            _("The form expired or was not sent by this console; nothing was changed. Please try again."),
        ), 400

    @app.errorhandler(403)
    def _forbidden(exc):
        if is_api():
            return api_error(403, "admin role required")
        return error_page(403, _("Only administrators can open this page.")), 403

    @app.errorhandler(404)
    def _not_found(exc):
        if is_api():
            return api_error(404, "not found")
        return error_page(404, _("Not found")), 404

    @app.errorhandler(413)
    def _too_large(exc):
        if is_api():
            return api_error(413, "request too large")
        return error_page(413, too_large_message()), 413

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        # every other HTTP error (405, 400, 429, ...): not Werkzeug's English page
        code = exc.code or 500
        if is_api():
            resp = api_error(code, exc.name.lower())
        else:
            message = (
                _(ERROR_MESSAGES[code])
                if code in ERROR_MESSAGES
                else _("The request could not be handled (error %(code)s).", code=code)
            )
            resp = current_app.make_response(error_page(code, message))
        resp.status_code = code
        for name, value in exc.get_headers():  # e.g. Allow on a 405
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(InternalServerError)
    def _internal_error(exc):
        # an unexpected exception: Flask has logged it with its traceback; the page says
        # only that something failed, never what (no traceback, no exception text)
        if is_api():
            return api_error(500, "internal server error")
        message = _(
            "Something went wrong on the server. The error was logged; please try again, "
            "and tell the administrator if it happens again."
        )
        try:
            return error_page(500, message), 500
        except Exception:  # the page itself failed (e.g. the database is gone): plain text, still no details
            current_app.logger.exception("the error page failed")
            return message, 500, {"Content-Type": "text/plain; charset=utf-8"}


#: the error page's text per HTTP status (403, 404, 413 and CSRF have their own handlers)
ERROR_MESSAGES = {
    400: "The request was not understood; nothing was changed.",
    405: "This address cannot be used this way (for example, signing out is a button, not a link).",
    429: "Too many requests; please wait a moment and try again.",
}


def too_large_message() -> str:
    """The refusal of a request or file over the upload limit, in the staff's language."""
    return _("File too large (max %(mb)s MB)", mb=current_app.config["PRIVCARD_UPLOAD_LIMIT"] // 1_000_000)


def _fmt_dt(when) -> str:
    return catalogue.fmt_datetime(
        when, g.get("lang", catalogue.DEFAULT_LANG), current_app.extensions["privcard.service"].prog.tz
    )


def _fmt_minute(when) -> str:
    return catalogue.fmt_minute(
        when, g.get("lang", catalogue.DEFAULT_LANG), current_app.extensions["privcard.service"].prog.tz
    )


def _fmt_date(day) -> str:
    return catalogue.fmt_date(day, g.get("lang", catalogue.DEFAULT_LANG))


def _label(value) -> str:
    """A {"th","en"} label in the current language; other values unchanged."""
    if isinstance(value, dict) and "en" in value:
        return value.get(g.get("lang", catalogue.DEFAULT_LANG)) or value["en"]
    return "" if value is None else str(value)


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect a sign-in to another site."""
    if not target:
        return url_for("views.dashboard")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("views.dashboard")
    return target


#: every refused sign-in says this, whatever the reason: it must not tell which usernames exist
SIGN_IN_REFUSED = "Wrong username or password, or too many failed attempts: wait a few minutes and try again."


def throttled_message(exc: accounts.SignInThrottled) -> str:
    """A 429's reason in the staff's language."""
    if exc.reason == "busy":
        return _("The server is busy checking other sign-ins; try again in a few seconds.")
    return _(
        "Too many failed sign-ins from this address; try again in %(minutes)s minutes.",
        minutes=max(1, -(-exc.retry_after // 60)),
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in page (the policy against guessing: :mod:`server.web.accounts`)."""
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            s = accounts.authenticate(username, request.form.get("password", ""), source=request.remote_addr)
        except accounts.SignInThrottled as exc:
            resp = current_app.make_response((render_template("login.html", error=throttled_message(exc)), 429))
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        except accounts.SignInRefused:
            error = _(SIGN_IN_REFUSED)
        else:
            try:
                _start_session(s)
            except accounts.AccountError:  # the password changed or the account was disabled meanwhile
                return render_template("login.html", error=_(SIGN_IN_REFUSED)), 401
            if s.must_change_password:
                return redirect(url_for("auth.account"))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST with CSRF, so another site cannot sign staff out).

    Ends the session's row: a copy of this cookie is refused from now on. The account's
    other sessions (other browsers) go on.
    """
    accounts.end_session(session.get("sid"))
    _clear_session()
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account():
    """The signed-in staff member's own account: change the password.

    A wrong current password counts toward the sign-in lock-out. A change ends every
    session of the account; this browser continues in a new one.
    """
    if request.method == "POST":
        f = request.form
        forced = g.staff.must_change_password
        try:
            s = accounts.change_own_password(
                g.staff.id, f.get("current", ""), f.get("new", ""), f.get("again", ""), source=request.remote_addr
            )
        except accounts.SignInThrottled as exc:
            flash(throttled_message(exc), "error")
        except accounts.SignInRefused as exc:
            if exc.reason == "locked":
                flash(
                    _("Too many failed attempts: this account is locked until %(until)s.", until=_fmt_dt(exc.until)),
                    "error",
                )
            else:
                flash(_("The current password is wrong; the password was not changed."), "error")
        except accounts.AccountError as exc:
            flash(_("%(reason)s — the password was not changed.", reason=account_error(exc)), "error")
        else:
            try:
                _start_session(s)
            except accounts.AccountError as exc:  # changed again (an admin's reset) meanwhile
                _clear_session()
                flash(account_error(exc), "error")
                return redirect(url_for("auth.login"))
            flash(_("Your password was changed. Other sessions of this account are signed out."), "ok")
            return redirect(url_for("views.dashboard") if forced else url_for("auth.account"))
        return redirect(url_for("auth.account"))
    return render_template(
        "account.html",
        min_password=accounts.MIN_PASSWORD,
        max_password=accounts.MAX_PASSWORD,
        tokens=accounts.list_tokens(g.staff.username),
    )


@bp.route("/lang/<code>")
def lang(code: str):
    """Switch the console's language and go back."""
    if code in catalogue.LANGS:
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next") or (request.referrer and urlparse(request.referrer).path)))
