"""The patron's own page (``/me/``): sign-in, the summary, history, message preferences.

Served by the console's Flask app on its own path with its OWN cookie and sign-in:

- ``privcard_patron`` (``Path=/me``, HttpOnly, SameSite=Lax, Secure over TLS) holds only a
  random session id; the session is a ``patron_session`` row
  (:mod:`server.services.patrons`), so signing out ends it for every copy of the cookie.
  The staff console's session cookie opens nothing here (the console's gate lets ``/me``
  through untouched and this module never reads it), and this cookie opens nothing in
  the console (it is not even sent outside ``/me``, and the console reads only its own).
- Every page reads the member id from the session, never from the URL or a form.
- CSRF: every form carries a token. Signed in, it is the session's own; before sign-in it
  is an HMAC of a random ``privcard_patron_pre`` cookie with the app's secret key.
- Language: ``privcard_patron_lang`` (Thai unless the patron picks English).

No JavaScript: every page works with plain links and forms. Entry points only: each view
parses, calls one operation of ``svc.patrons`` and renders.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime
from urllib.parse import urlparse

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from broker.contract import FEEDBACK_CATEGORIES, MAX_FEEDBACK_TEXT
from server import catalogue
from server.services.errors import ServiceError
from server.services.ils import IlsUnavailable
from server.services.patrons import LINK_MINUTES, SignInRefused, SignInThrottled
from server.store import Member
from server.web import labels

bp = Blueprint("patron", __name__, url_prefix="/me")

COOKIE = "privcard_patron"
PRE_COOKIE = "privcard_patron_pre"
LANG_COOKIE = "privcard_patron_lang"
PATH = "/me"
#: pages open without a patron session
PUBLIC = {"patron.signin", "patron.link_request", "patron.link", "patron.lang"}
#: the contact and consent fields the patron edits on the settings page
CONSENTS = ("consent_notices", "consent_marketing", "consent_statement", "consent_ranking")


def svc():
    return current_app.extensions["privcard.service"]


def _(text: str, **values) -> str:
    return catalogue.translate(text, getattr(g, "lang", catalogue.DEFAULT_LANG), **values)


def is_patron_path(path: str) -> bool:
    """Whether a request path belongs to the patron pages."""
    return path == PATH or path.startswith(PATH + "/")


def patron_lang() -> str:
    """The patron pages' language from their own cookie (Thai by default)."""
    code = request.cookies.get(LANG_COOKIE)
    return code if code in catalogue.LANGS else catalogue.DEFAULT_LANG


# --------------------------------------------------------------------------- cookies and CSRF


def _secure() -> bool:
    return bool(current_app.config.get("SESSION_COOKIE_SECURE") or request.is_secure)


def _set_cookie(resp, name: str, value: str, max_age: int | None = None) -> None:
    resp.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True, samesite="Lax", secure=_secure())


def _pre_value() -> str:
    """The anonymous CSRF cookie's value (a new one is set with this response when there is none)."""
    value = request.cookies.get(PRE_COOKIE, "")
    if not 20 <= len(value) <= 100:
        value = g.get("new_pre") or secrets.token_urlsafe(24)
        g.new_pre = value
    return value


def _pre_token(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"patron-pre:" + value.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """The token this page's forms carry."""
    if g.get("patron") is not None:
        return g.patron.csrf
    return _pre_token(_pre_value())


def _csrf_ok() -> bool:
    sent = request.form.get("csrf_token", "")
    if not sent:
        return False
    if g.get("patron") is not None and hmac.compare_digest(sent, g.patron.csrf):
        return True
    value = request.cookies.get(PRE_COOKIE, "")
    return 20 <= len(value) <= 100 and hmac.compare_digest(sent, _pre_token(value))


@bp.before_request
def _load():
    g.lang = patron_lang()
    g.patron = svc().patrons.session(request.cookies.get(COOKIE))
    g.clear_session = g.patron is None and bool(request.cookies.get(COOKIE))
    if request.method == "POST" and not _csrf_ok():
        return render_template(
            "patron_error.html",
            code=400,
            message=_("The form expired; nothing was changed. Please try again."),
        ), 400
    if g.patron is None and request.endpoint not in PUBLIC:
        return redirect(url_for("patron.signin"))
    return None


@bp.after_request
def _cookies(resp):
    if g.get("new_sid"):
        _set_cookie(resp, COOKIE, g.new_sid)
    elif g.get("clear_session"):
        resp.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="Lax", secure=_secure())
    if g.get("new_pre"):
        _set_cookie(resp, PRE_COOKIE, g.new_pre)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.setdefault("Vary", "Cookie")
    return resp


@bp.app_context_processor
def _patron_globals():
    return {"patron_csrf": csrf_token if is_patron_path(request.path) else None, "entry_detail": entry_detail}


def entry_detail(e: dict) -> str:
    """What an entry's item says to its patron: a reward's or card type's name, not its code; nothing for
    another member's id (a transfer) or a record's reference (``draw:3``, ``feedback:7``)."""
    item = e.get("item") or ""
    if e.get("activity") == "redeem" and item in svc().prog.rewards:
        return labels.reward_name(item)
    if e.get("activity") == "prize":
        return labels.reward_name(e.get("note"))
    if e.get("source") == "tier" and "→" in item:
        return labels.tier_change(item)
    if e.get("activity") in ("transfer_in", "transfer_out", "book_request") or e.get("source") == "feedback":
        return ""
    return item


def _start(member_id: int, method: str):
    """A fresh session (the old one of this browser, if any, ends): no fixation."""
    svc().patrons.end_session(request.cookies.get(COOKIE))
    sid, session = svc().patrons.start_session(member_id, method)
    g.new_sid, g.patron = sid, session
    return redirect(url_for("patron.home"))


def _throttled(exc: SignInThrottled, template: str = "patron_signin.html"):
    if exc.reason == "busy":
        message = _("The server is busy; try again in a few seconds.")
    else:
        message = _(
            "Too many failed attempts from this connection; try again in %(minutes)s minutes.",
            minutes=max(1, -(-exc.retry_after // 60)),
        )
    resp = current_app.make_response((render_template(template, error=message, **_signin_context()), 429))
    resp.headers["Retry-After"] = str(exc.retry_after)
    return resp


def _signin_context() -> dict:
    return {"ils_configured": svc().ils.configured, "link_minutes": LINK_MINUTES}


def _fmt_until(when: datetime | None) -> str:
    return catalogue.fmt_datetime(when, g.lang, svc().prog.tz)[:-3] if when else "—"


# --------------------------------------------------------------------------- sign-in and out


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """Card number and PIN (checked by the ILS when it is linked, else the counter PIN); the link form."""
    if request.method == "GET":
        if g.patron is not None:
            return redirect(url_for("patron.home"))
        notice = _("You are signed out.") if request.args.get("bye") else None
        return render_template("patron_signin.html", notice=notice, **_signin_context())
    card, pin = request.form.get("card", ""), request.form.get("pin", "")
    try:
        m, method = svc().patrons.sign_in(card, pin, source=request.remote_addr)
    except SignInThrottled as exc:
        return _throttled(exc)
    except IlsUnavailable:
        error = _(
            "The library system is not reachable, so your PIN cannot be checked now. "
            "Try again later, or ask for a sign-in link by e-mail below."
        )
        return render_template("patron_signin.html", error=error, card=card, **_signin_context()), 503
    except SignInRefused as exc:
        if exc.reason == "locked":
            error = _(
                "Too many wrong PINs: signing in with this card is locked until %(until)s.",
                until=_fmt_until(exc.until),
            )
            status = 429
        else:
            error = _("The card number or PIN is wrong.")
            status = 401
        return render_template("patron_signin.html", error=error, card=card, **_signin_context()), status
    return _start(m.id, method)


@bp.route("/link", methods=["POST"])
def link_request():
    """Send a one-time sign-in link to the member's e-mail address (same answer whether or not one went)."""
    card = request.form.get("card", "")
    try:
        svc().patrons.request_link(card, source=request.remote_addr)
    except SignInThrottled as exc:
        return _throttled(exc)
    except ServiceError:  # e.g. the outbox refused: say the same as always, staff see the log
        current_app.logger.exception("could not queue a sign-in link")
    return render_template("patron_sent.html", minutes=LINK_MINUTES)


@bp.route("/link/<token>", methods=["GET", "POST"])
def link(token: str):
    """A one-time link: GET asks to confirm (mail scanners that open links use nothing up); POST signs in."""
    if request.method == "GET":
        return render_template("patron_link.html", token=token)
    try:
        m = svc().patrons.redeem_link(token, source=request.remote_addr)
    except SignInThrottled as exc:
        return _throttled(exc)
    except SignInRefused:
        error = _("This sign-in link has been used or has expired. Ask for a new one.")
        return render_template("patron_signin.html", error=error, **_signin_context()), 400
    return _start(m.id, "link")


@bp.route("/signout", methods=["POST"])
def signout():
    """Sign out: the session ends for every copy of its cookie."""
    svc().patrons.end_session(request.cookies.get(COOKIE))
    g.patron, g.clear_session = None, True
    return redirect(url_for("patron.signin", bye=1))


@bp.route("/lang/<code>")
def lang(code: str):
    """Switch the patron pages' language and go back."""
    nxt = request.args.get("next") or ""
    parsed = urlparse(nxt)
    if parsed.scheme or parsed.netloc or not is_patron_path(parsed.path) or nxt.startswith("//"):
        nxt = url_for("patron.home")
    resp = redirect(nxt)
    if code in catalogue.LANGS:
        _set_cookie(resp, LANG_COOKIE, code, max_age=365 * 86400)
    return resp


# --------------------------------------------------------------------------- the pages


@bp.route("/")
def home():
    """Balance, privilege level and the next, points this term, fines, promotions, rank, the latest entries,
    my feedback and its answers."""
    return _home()


def _home(status: int = 200, **feedback_form):
    me = g.patron.member_id
    o = svc().patrons.overview(me)
    return render_template(
        "patron_home.html",
        o=o,
        m=o["member"],
        ils=svc().patrons.ils_status(me),
        as_date=_as_date,
        my_feedback=svc().feedback.of_member(me),
        feedback_words=catalogue.FEEDBACK_WORDS,
        feedback_categories=FEEDBACK_CATEGORIES,
        max_feedback=MAX_FEEDBACK_TEXT,
        pledge_points=svc().prog.book_request_points,
        feedback_sent=request.args.get("sent"),
        **feedback_form,
    ), status


@bp.route("/feedback", methods=["POST"])
def feedback():
    """The "My feedback" form: a complaint, suggestion, compliment, question or book request (issue 14)."""
    f = request.form
    try:
        d = svc().feedback.submit(
            channel="patron_page",
            category=f.get("category", ""),
            text=f.get("text", ""),
            member=g.patron.member_id,
            pledge=f.get("pledge") == "1",
            actor=f"patron:{g.patron.member_id}",
        )
    except ServiceError as exc:
        return _home(400, feedback_error=_(exc.template, **exc.values), feedback_form=f)
    return redirect(url_for("patron.home", sent=d["id"], _anchor="feedback"))


@bp.route("/history")
def history():
    """The last 100 entries."""
    me = g.patron.member_id
    return render_template("patron_history.html", entries=svc().patrons.history(me), m=_me())


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Contact data and which messages the patron wants."""
    me = g.patron.member_id
    error = None
    if request.method == "POST":
        f = request.form
        fields = {k: f.get(k, "") for k in ("email", "phone", "language") if k in f}
        fields.update({k: k in f for k in CONSENTS})
        try:
            svc().patrons.set_preferences(me, fields)
        except ServiceError as exc:
            error = _(exc.template, **exc.values)
        else:
            return redirect(url_for("patron.settings", saved=1))
    return render_template(
        "patron_settings.html",
        prefs=svc().patrons.preferences(me),
        m=_me(),
        error=error,
        saved=bool(request.args.get("saved")) and error is None,
        form=request.form if error else None,
    ), (400 if error else 200)


def _me() -> Member:
    return Member.get_by_id(g.patron.member_id)


def _as_date(value) -> date | None:
    """A date from an ISO date or date-time string (campaign ends), None when empty."""
    if not value:
        return None
    if isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
