"""The staff web console: a Flask app served by the points server process.

``privcard server ... --http HOST:PORT`` calls :func:`serve_in_thread`; tests and
other tools call :func:`create_app`. Pages are server-rendered Jinja2 templates in
Thai and English; every form carries a CSRF token (Flask-WTF); every change goes
through the service layer (:mod:`server.services`) with ``actor="web:<username>"`` so the
audit trail says who did it and when.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from urllib.parse import urlsplit

from flask import Flask, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter
from werkzeug.serving import WSGIRequestHandler, make_server

from server import catalogue, store
from server.domain.config import Programme
from server.domain.errors import TemplatedError
from server.services import Services, bootstrap
from server.web import accounts, patron

log = logging.getLogger(__name__)

DEFAULT_HTTP = "127.0.0.1:8080"
#: the largest attendance file, in bytes: "5 MB" as the service counts it (5,000,000
#: characters), and a file of that many bytes never decodes to more characters
UPLOAD_LIMIT = 5_000_000
#: what a request may carry beyond the file (multipart headers, the CSRF token)
FORM_OVERHEAD = 64 * 1024
csrf = CSRFProtect()


class WebStartError(TemplatedError, ValueError):
    """The console cannot start as configured (``--http``, ``PRIVCARD_WEB_PUBLIC_URL``).

    ``template`` and ``values`` apart, so ``privcard server`` prints the Thai line under the
    English one (``server.catalogue``); ``str(exc)`` is the English text.
    """


def public_scheme(public_url: str | None = None) -> str:
    """The scheme of ``public_url`` (default ``$PRIVCARD_WEB_PUBLIC_URL``): ``http``, ``https`` or "" (unset)."""
    public_url = public_url if public_url is not None else os.environ.get("PRIVCARD_WEB_PUBLIC_URL", "")
    scheme = urlsplit(public_url).scheme.lower() if public_url else ""
    if public_url and scheme not in ("http", "https"):
        raise WebStartError(
            "PRIVCARD_WEB_PUBLIC_URL must be an http:// or https:// address, got %(url)r", url=public_url
        )
    return scheme


def check_start(addr: str | None, public_url: str | None = None) -> None:
    """Refuse a bad ``--http`` or ``PRIVCARD_WEB_PUBLIC_URL`` before the server starts (:class:`WebStartError`)."""
    parse_http(addr)
    public_scheme(public_url)


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: a row id from 1 to 2**63 - 1 (larger ones are a 404, not a 500).

    SQLite and PostgreSQL keep ids in 64-bit integers; a bigger number in a URL used to
    reach the database driver and fail there.
    """

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies get ``Secure`` whenever the request came over TLS (directly or via a proxy)."""

    def get_cookie_secure(self, app) -> bool:
        try:
            return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
        except RuntimeError:  # outside a request
            return bool(app.config["SESSION_COOKIE_SECURE"])


def create_app(
    db_url: str | None,
    prog: Programme,
    service: Services | None = None,
    *,
    connect: bool = True,
    behind_proxy: bool | None = None,
    public_url: str | None = None,
    testing: bool = False,
) -> Flask:
    """Build the console app; binds the store to ``db_url`` unless ``connect`` is False.

    ``public_url`` (default ``$PRIVCARD_WEB_PUBLIC_URL``): the address staff open, e.g.
    ``https://points.library.example/``. When it is ``https`` the session cookie is always
    ``Secure``, whatever the proxy in front says. ``behind_proxy`` (default
    ``$PRIVCARD_WEB_PROXY=1``) trusts one proxy's ``X-Forwarded-For/-Proto/-Host``, so the
    cookie follows the scheme the browser used and sign-in throttling sees the client's
    address. docs/deployment.md, "The console behind a TLS proxy".
    """
    scheme = public_scheme(public_url)
    if connect and db_url:
        store.connect(db_url)
    else:
        store.db.connect(reuse_if_open=True)
        store.upgrade()  # the web migrations, when the server connected before importing us
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=accounts.secret_key(),
        SESSION_COOKIE_NAME="privcard_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=scheme == "https" or os.environ.get("PRIVCARD_WEB_SECURE_COOKIES", "") == "1",
        PREFERRED_URL_SCHEME=scheme or "http",
        PERMANENT_SESSION_LIFETIME=accounts.SESSION_LIFETIME,
        # an attendance file may have UPLOAD_LIMIT bytes; the request may be a little
        # larger (the multipart envelope, the CSRF token), anything more is refused (413)
        PRIVCARD_UPLOAD_LIMIT=UPLOAD_LIMIT,
        MAX_CONTENT_LENGTH=UPLOAD_LIMIT + FORM_OVERHEAD,
        WTF_CSRF_TIME_LIMIT=12 * 3600,
        WTF_CSRF_SSL_STRICT=True,
        TESTING=testing,
        JSON_SORT_KEYS=False,
    )
    app.session_interface = _SessionInterface()
    app.url_map.converters["int"] = RowIdConverter  # before any route is registered
    if behind_proxy if behind_proxy is not None else os.environ.get("PRIVCARD_WEB_PROXY") == "1":
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["privcard.service"] = service or bootstrap(prog)
    app.extensions["privcard.prog"] = prog
    from server.web.jobs import JobRunner

    # attendance previews and imports run here, off the request threads and the tap worker
    app.extensions["privcard.jobs"] = JobRunner(app.extensions["privcard.service"])
    if not testing:
        app.extensions["privcard.jobs"].resume()
        app.extensions["privcard.jobs"].start_pruning()  # old finished imports' lists ([rules] import_files_keep_days)

    @app.before_request
    def _open_db():
        store.db.connect(reuse_if_open=True)
        if patron.is_patron_path(request.path):  # the patron pages keep their own language cookie
            g.lang = patron.patron_lang()
        else:
            g.lang = session.get("lang") if session.get("lang") in catalogue.LANGS else catalogue.DEFAULT_LANG

    @app.teardown_request
    def _close_db(exc):
        # each request runs on its own thread: close its connection, never another thread's
        if not store.db.is_closed() and threading.current_thread() is not threading.main_thread():
            store.db.close()

    @app.after_request
    def _headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        if request.path.startswith(("/api/", "/members", "/staff")) or resp.mimetype == "text/html":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    from server.web import api, auth, feedback, messages, programme, views

    auth.init_app(app)
    csrf.init_app(app)  # after the sign-in gate: anonymous requests are sent to sign in first
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(programme.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(messages.bp)
    csrf.exempt(messages.unsubscribe)  # RFC 8058 one-click POST from mail clients: the token is the proof
    app.register_blueprint(api.bp, url_prefix="/api")
    csrf.exempt(api.bp)  # the API checks CSRF itself for cookie sessions; bearer tokens need none
    app.register_blueprint(patron.bp)
    csrf.exempt(patron.bp)  # the patron pages check their own tokens (their own session, not the staff one)
    return app


#: a one-time sign-in link's token in a request line (docs/patrons.md): kept out of the access log
_LINK_TOKEN = re.compile(r"(/me/link/)[^/?\s]+")


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, with one-time link tokens hidden in the access log."""

    def log_request(self, code="-", size="-") -> None:
        path, line = getattr(self, "path", None), getattr(self, "requestline", "")
        if path is not None:
            self.path = _LINK_TOKEN.sub(r"\1***", path)
        self.requestline = _LINK_TOKEN.sub(r"\1***", line)
        try:
            super().log_request(code, size)
        finally:
            if path is not None:
                self.path = path
            self.requestline = line


class WebServer:
    """The console's HTTP server running on a background thread."""

    def __init__(self, app: Flask, host: str, port: int):
        self.app = app
        self.httpd = make_server(host, port, app, threaded=True, request_handler=_RequestHandler)
        self.host, self.port = host, self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="privcard-web", daemon=True)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> WebServer:
        """Start serving."""
        self.thread.start()
        log.info("web console on %s", self.url)
        return self

    def shutdown(self) -> None:
        """Stop serving and wait for the thread."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def parse_http(addr: str | None) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, or ``PORT``) to a pair; default 127.0.0.1:8080."""
    addr = (addr or DEFAULT_HTTP).strip()
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise WebStartError("--http must be HOST:PORT, got %(addr)r", addr=addr)
    return host, int(port)


def serve_in_thread(addr: str | None, db_url: str | None, prog: Programme, srv=None) -> WebServer:
    """Serve the console on ``addr`` in a thread; reuses the points server's service layer when given."""
    host, port = parse_http(addr)
    # the points server already bound the store to db_url (and its service layer caches devices)
    app = create_app(db_url, prog, srv.service if srv is not None else None, connect=srv is None)
    return WebServer(app, host, port).start()
