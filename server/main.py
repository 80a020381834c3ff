"""``privcard server``: the points server process (MQTT consumer, optional web console)."""

from __future__ import annotations

import argparse
import errno
import gc
import json
import logging
import os
import signal
import socket
import sys
from collections import deque

from broker.client import BrokerError
from server import catalogue
from server.cli_support import add_ils_smtp_options
from server.domain.config import ConfigError, load
from server.ils.config import load_config as load_ils_config
from server.messages.config import load_config as load_mail_config
from server.store import StoreError
from server.sun import CardKeyError, Keyring

DEFAULT_DB = "sqlite:///var/privcard.db"
DEFAULT_MQTT = "mqtt://127.0.0.1:1883"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="privcard server", description="Run the privcard points server.")
    p.add_argument(
        "--db",
        default=os.environ.get("PRIVCARD_DB", DEFAULT_DB),
        help="sqlite:///PATH or postgresql://USER@HOST/DB (default %(default)s)",
    )
    p.add_argument(
        "--mqtt", default=os.environ.get("PRIVCARD_MQTT", DEFAULT_MQTT), help="broker URL (default %(default)s)"
    )
    p.add_argument(
        "--config", default=os.environ.get("PRIVCARD_CONFIG"), help="programme TOML merged over the defaults"
    )
    p.add_argument("--client-id", default=None, help="MQTT client id (persistent session); default privcard-server")
    p.add_argument(
        "--shared",
        metavar="GROUP",
        default=None,
        help="share the work with other replicas via MQTT v5 shared subscriptions ($share/GROUP/...)",
    )
    p.add_argument(
        "--http", metavar="HOST:PORT", default=None, help="serve the staff web console (e.g. 127.0.0.1:8080)"
    )
    p.add_argument(
        "--card-keys",
        metavar="PATH",
        default=None,
        help="card key file (NTAG 424 DNA master key and key-encryption key; default $PRIVCARD_CARD_KEYS)",
    )
    add_ils_smtp_options(
        p,
        smtp_help="send messages to patrons through smtp://USER:PASS@HOST:587?starttls=1 or smtps://USER:PASS@HOST:465 "
        "(default $PRIVCARD_SMTP, else [mail] url in --config; docs/messages.md)",
    )
    p.add_argument("--batch", type=int, default=256, help="max taps per group commit")
    p.add_argument(
        "--timings",
        metavar="PATH",
        default=None,
        help="at exit, write the tap worker's own figures (batch time p50/p99, CPU per message) and each "
        "tap's times through it (read, batch taken, committed, answered) to PATH as JSON",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return p


def _why(exc: OSError) -> str:
    """The system's reason alone (``Address already in use``), without what Python adds to it."""
    return os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc))


def _cannot_listen(addr: str, error: str) -> Exception:
    """The refusal for a console address that cannot be listened on (its Thai is in server.catalogue)."""
    from server.web import WebStartError  # only with --http: the console's packages are an extra

    return WebStartError(
        "the web console cannot listen on %(addr)s: %(error)s (ss -ltnp names the program that holds it: "
        "stop it, or give --http a free HOST:PORT; for the service, PRIVCARD_SERVER_ARGS in /etc/privcard/server.env)",
        addr=addr,
        error=error,
    )


def check_http_free(addr: str) -> None:
    """Refuse a console address another program holds, before the server touches the database or the broker.

    Without this the server migrated the database and connected to the broker — with the
    default client id, taking over the running server's MQTT session — and only then did
    werkzeug print an English-only "Address already in use" and ``sys.exit(1)`` from the
    web thread's start.
    """
    from server.web import parse_http

    host, port = parse_http(addr)
    if port == 0:
        return
    try:  # SO_REUSEADDR, as werkzeug's own bind: a port in TIME_WAIT is free for both
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as exc:
        raise _cannot_listen(addr, _why(exc)) from None


def _say(exc: Exception) -> None:
    """``privcard server: English`` then ``privcard server: Thai``, as privcard admin says a refusal."""
    print(f"privcard server: {exc}", file=sys.stderr)
    if thai := catalogue.thai_of(exc):  # a config error's Thai, as privcard admin prints it
        print(f"privcard server: {thai}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from server.app import TIMINGS_KEPT, PointsServer

    web_console = None
    if args.http:
        try:
            import server.web as web_console
        except ImportError as exc:
            print(f"privcard server: web console unavailable: {exc}", file=sys.stderr)
            return 1
    try:
        if web_console is not None:
            web_console.check_start(args.http)  # a bad --http or PRIVCARD_WEB_PUBLIC_URL, before anything starts
            check_http_free(args.http)  # a port another program holds, likewise
        prog = load(args.config)
        keyring = Keyring.load(args.card_keys)
        ils = load_ils_config(args.config, args.ils)
        mail = load_mail_config(args.config, args.smtp)
        client_id = args.client_id or (f"privcard-server-{os.getpid()}" if args.shared else "privcard-server")
        # A replica with a made-up client id cannot resume its session after a restart; a
        # persistent one would stay behind as an orphan that Mosquitto keeps handing its
        # share of the taps to (until the session expires). So: a clean session then
        # (the gates' outboxes resend what it had not answered); a persistent one with
        # an explicit --client-id.
        persistent = not (args.shared and not args.client_id)
        if not persistent:
            logging.getLogger("privcard.server").warning(
                "--shared without --client-id: clean MQTT session; give each replica a stable --client-id "
                "so a restart resumes its persistent session"
            )
        srv = PointsServer(
            args.db,
            args.mqtt,
            prog,
            client_id=client_id,
            shared_group=args.shared,
            batch_max=args.batch,
            persistent=persistent,
            keyring=keyring,
            ils=ils,
            mail=mail,
        )
        if args.timings:  # and each tap's way through the worker (privcard bench's tail breakdown)
            srv.trace = deque(maxlen=TIMINGS_KEPT)
        srv.start()
    except (ConfigError, StoreError, BrokerError, CardKeyError, ValueError) as exc:
        if args.verbose:
            raise
        _say(exc)
        return 1
    web = None
    if web_console is not None:
        try:
            web = web_console.serve_in_thread(args.http, args.db, prog, srv)
        except (OSError, SystemExit) as exc:  # werkzeug exits when the port was taken since the check
            srv.stop()
            error = _why(exc) if isinstance(exc, OSError) else os.strerror(errno.EADDRINUSE)
            _say(_cannot_listen(args.http, error))
            return 1
    done = srv.halt  # set by SIGINT/SIGTERM, or by the worker when it stops on a bug
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        from hardware.systemd import notify
    except ImportError:  # pragma: no cover - hardware package is part of the distribution

        def notify(_state: str) -> None:
            return None

    # What is loaded by now lives as long as the process: take it out of the collector's
    # reach. Otherwise each full collection walks all of it again, in whichever thread
    # triggers it — mostly the tap worker: 20-100 ms stalls, two or three every few
    # seconds under load (docs/benchmarks.md, "SQLite with 20 devices").
    gc.collect()
    gc.freeze()
    notify("READY=1")
    logging.getLogger("privcard.server").info("server running: db=%s mqtt=%s", args.db, srv.bus.url)
    while not done.wait(10):
        notify("WATCHDOG=1")
        srv.health.watch()  # a background job's round running too long is logged from here, not from its stuck thread
    srv.stop()
    if web is not None:
        web.shutdown()
    if args.timings:
        with open(args.timings, "w") as fh:
            json.dump(srv.timings(), fh)
    if srv.failed is not None:
        print(
            f"privcard server: the tap worker stopped on a bug ({type(srv.failed).__name__}); exiting", file=sys.stderr
        )
        print(
            f"privcard server: ตัวประมวลผลการแตะบัตรหยุดทำงานเพราะข้อผิดพลาด ({type(srv.failed).__name__}); ปิดโปรแกรม",
            file=sys.stderr,
        )
        return 1
    return 0
