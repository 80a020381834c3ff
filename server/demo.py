"""``privcard demo``: the whole system on embedded defaults, in one command.

- an embedded MQTT broker (amqtt) on a free port, unless ``--mqtt`` is given;
- the points server on ``./var/privcard.db`` (``--db``), optionally with the web console;
- demo members and devices (entrance and exit gates, a circulation counter, a kiosk);
- real ``privcard gate`` processes with ``stdin`` readers and printed feedback, fed
  card taps at a realistic pace by this process (patrons arriving, borrowing, leaving);
- the kiosk window when a display is available (``--kiosk``), else how to open it;
- a live terminal view of taps, outcomes and balances until Ctrl-C.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from broker import contract
from broker.client import BrokerUrlError, BusClient, parse_mqtt_url
from server.domain.errors import TemplatedError

#: demo patrons: (name, card UID, tier, group)
MEMBERS = [
    ("สมชาย ใจดี", "04A1B2C3D4E5F6", "gold", "U1"),
    ("กิ่งตฤทัย ศรีสุข", "04B2C3D4E5F607", "silver", "U1"),
    ("ผู้ใช้บริการ ทดสอบ", "04C3D4E5F60718", "silver", "U2"),
    ("Anan Chaiyaporn", "04D4E5F6071829", "silver", "U3"),
    ("Pim Rattanakorn", "04E5F60718293A", "gold", "U2"),
    ("วิภาวรรณ ทองมา", "04F60718293A4B", "silver", "U4"),
    ("John Smith", "0418293A4B5C6D", "silver", "U5"),
    ("นภัสสร แก้วใส", "04293A4B5C6D7E", "silver", "U1"),
]
STAFF = ("บรรณารักษ์ สาธิต", "04AA55AA55AA55", "gold", "U4")
BLOCKED_CARD = "04DEADBEEF0001"
UNKNOWN_CARD = "04FFFFFFFF0002"
DEVICES = [
    ("gate-in-1", "gate", "in", None, "Main entrance / ประตูทางเข้า"),
    ("gate-out-1", "gate", "out", None, "Main exit / ประตูทางออก"),
    ("counter-1", "counter", None, "borrow", "Circulation counter / เคาน์เตอร์ยืมคืน"),
    ("kiosk-1", "kiosk", None, None, "Lobby kiosk / ตู้บริการหน้าห้องสมุด"),
]
GATES = ("gate-in-1", "gate-out-1", "counter-1")
KINDS = {dev_id: kind for dev_id, kind, *_ in DEVICES}


def seed(svc) -> None:
    """Create the demo members and devices once (idempotent)."""
    from server import store

    for dev_id, kind, direction, activity, location in DEVICES:
        if store.Device.get_or_none(store.Device.id == dev_id) is None:
            svc.devices.add(
                dev_id,
                kind,
                direction=direction,
                activity=activity,
                location=location,
                settings={"open_ms": 3000} if kind == "gate" else {},
                actor="demo",
            )
    for name, uid, tier, group in [*MEMBERS, STAFF]:
        if store.Card.get_or_none(store.Card.uid == uid) is None:
            svc.members.add(name, uid, tier=tier, group=group, staff=(uid == STAFF[1]), actor="demo")
    staff = svc.members.find(STAFF[1])
    if not staff.pin_hash:
        svc.members.set(staff.id, actor="demo", pin="1234")
    if store.Card.get_or_none(store.Card.uid == BLOCKED_CARD) is None:
        m = svc.members.add("บัตรหาย ทดลอง (lost card)", BLOCKED_CARD, actor="demo")
        svc.members.block_card(BLOCKED_CARD, "reported lost (demo)", actor="demo")
        svc.members.set(m.id, actor="demo", name="บัตรหาย ทดลอง (lost card)")


class LiveView:
    """Prints every tap's result as it happens, with names and balances."""

    COLOURS = {
        "credited": "32",
        "limit_reached": "33",
        "no_activity": "36",
        "unknown_card": "31",
        "card_blocked": "31",
        "expired": "31",
        "invalid": "35",
    }

    def __init__(self, url: str, colour: bool):
        self.colour = colour
        self.counts: dict[str, int] = {}
        self.bus = BusClient(url, f"privcard-demo-view-{os.getpid()}")
        self.bus.subscribe(contract.device_wildcard("result"), self._on_result)
        self.bus.subscribe(contract.device_wildcard("status"), self._on_status)
        self.bus.start()

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def _on_result(self, topic: str, payload: bytes, msg) -> None:
        try:
            r = contract.TapResult.parse(payload)
            dev = contract.parse_topic(topic).device_id
        except contract.ContractError:
            return
        self.counts[r.outcome] = self.counts.get(r.outcome, 0) + 1
        who = (r.name or "-")[:22]
        pts = f"+{r.points}" if r.points else " 0"
        bal = "" if r.balance is None else f"balance {r.balance:>4}"
        door = ("OPEN " if r.open else "SHUT ") if KINDS.get(dev) == "gate" else "  -  "
        line = (
            f"{datetime.now():%H:%M:%S}  {dev:<11} {door} {self._paint(f'{r.outcome:<13}', self.COLOURS[r.outcome])}"
            f" {pts:>4}  {who:<22} {bal}  {r.message['th']}"
        )
        print(line, flush=True)

    def _on_status(self, topic: str, payload: bytes, msg) -> None:
        try:
            s = contract.Status.parse(payload)
            dev = contract.parse_topic(topic).device_id
        except contract.ContractError:
            return
        if s.state == "offline" or s.extra.get("outbox"):
            print(
                f"{datetime.now():%H:%M:%S}  {dev:<11} status {s.state}, outbox {s.extra.get('outbox', 0)}", flush=True
            )


DEMO_STAFF = "demo"


def demo_login() -> tuple[str, str]:
    """A demo admin login for the console, with a fresh password each run (printed by ``make demo``)."""
    import secrets

    from server.web import accounts

    password = "demo-" + secrets.token_urlsafe(9)
    if accounts.Staff.get_or_none(accounts.Staff.username == DEMO_STAFF) is None:
        accounts.add_staff(DEMO_STAFF, "admin", password, actor="demo")
    else:
        accounts.set_password(DEMO_STAFF, password, actor="demo")
    return DEMO_STAFF, password


class DemoError(TemplatedError):
    """The demo cannot start: a port taken, a broker out of reach, a database or directory it
    cannot write, a gate process that stopped. Printed in English then Thai, exit code 1."""


def _say(exc: Exception) -> None:
    """``privcard demo: English`` then ``privcard demo: Thai``, as privcard admin says a refusal."""
    from server import catalogue

    print(f"privcard demo: {exc}", file=sys.stderr)
    if thai := catalogue.thai_of(exc):
        print(f"privcard demo: {thai}", file=sys.stderr)


def _why(exc: OSError) -> str:
    """The system's reason alone (``Address already in use``), without what Python adds to it."""
    if isinstance(exc, socket.gaierror) or not exc.errno:  # a name that does not resolve, a timeout
        return exc.strerror or str(exc)
    return os.strerror(exc.errno)


def _check_http_free(addr: str) -> None:
    """Refuse a console address another program holds before anything starts (werkzeug would exit later)."""
    from server.web import parse_http

    host, port = parse_http(addr)
    if port == 0:
        return
    try:
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):
            pass
    except OSError as exc:
        raise DemoError(
            "the web console cannot listen on %(addr)s: %(error)s (give --http HOST:PORT with a free port, "
            "or --http '' for no console)",
            addr=addr,
            error=_why(exc),
        ) from None


def _check_broker(url: str) -> None:
    """Refuse a ``--mqtt`` broker that is not there, rather than retry for ever with no taps."""
    try:
        settings = parse_mqtt_url(url)
    except BrokerUrlError as exc:
        raise DemoError("--mqtt is not a broker URL: %(error)s", error=str(exc)) from None
    try:
        socket.create_connection((settings.host, settings.port), timeout=3).close()
    except OSError as exc:
        raise DemoError(
            "cannot reach the MQTT broker at %(address)s (--mqtt): %(error)s",
            address=f"{settings.host}:{settings.port}",
            error=_why(exc),
        ) from None


def _connect(db_url: str) -> None:
    """Open the demo's database (a path that cannot be made is a refusal, as a locked file is)."""
    from server import store

    try:
        store.connect(db_url)
    except OSError as exc:
        raise DemoError("cannot open database %(url)s: %(error)s", url=store.redact(db_url), error=_why(exc)) from None


def _start_gate(dev: str, url: str, state: Path, env: dict) -> subprocess.Popen:
    """A real ``privcard gate`` process with a stdin reader and its log in ``state``."""
    kind = "counter" if dev.startswith("counter") else "gate"
    cmd = [
        sys.executable,
        "-m",
        "broker.dispatcher",
        "gate",
        "--device-id",
        dev,
        "--mqtt",
        url,
        "--reader",
        "stdin",
        "--kind",
        kind,
        "--no-gpio",
        "--state-dir",
        str(state / dev),
        "--clock-check",
        "always-ok",
    ]
    log = state / f"{dev}.log"
    try:
        state.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            return subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=out, env=env, text=True
            )
    except OSError as exc:
        raise DemoError(
            "gate %(id)s could not start: %(path)s: %(error)s",
            id=dev,
            path=exc.filename or log,
            error=_why(exc),
        ) from None


def _check_gates(gates: dict[str, subprocess.Popen], state: Path) -> None:
    """Refuse to go on when a gate process stopped at start (its log says why)."""
    for dev, proc in gates.items():
        if proc.poll() is not None:
            raise DemoError(
                "gate %(id)s stopped at start (exit code %(code)s): see %(log)s",
                id=dev,
                code=proc.returncode,
                log=state / f"{dev}.log",
            )


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="privcard demo", description="Run the whole system on embedded defaults.")
    p.add_argument("--mqtt", help="use this broker instead of starting the embedded one")
    p.add_argument("--db", default="sqlite:///var/privcard.db", help="database URL (default %(default)s)")
    p.add_argument("--http", default="127.0.0.1:8080", help="web console address ('' to disable)")
    p.add_argument("--pace", type=float, default=1.5, help="mean seconds between taps (default %(default)s)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument(
        "--kiosk",
        choices=["auto", "yes", "no"],
        default="auto",
        help="open the kiosk window (auto: when a display is available)",
    )
    p.add_argument("--no-colour", action="store_true")
    args = p.parse_args(argv)

    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from server import store
    from server.domain.config import ConfigError

    console = False
    if args.http:  # a bad --http or PRIVCARD_WEB_PUBLIC_URL is refused before anything starts, as by privcard server
        try:
            from server.web import WebStartError, check_start
        except ImportError:
            pass  # the console's packages are missing: said where it would start
        else:
            console = True
            try:
                check_start(args.http)
            except WebStartError as exc:
                _say(exc)
                return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        return _run(args, stop, console)
    except (DemoError, ConfigError, store.StoreError) as exc:
        _say(exc)
        return 1


def _run(args, stop: threading.Event, console: bool) -> int:
    """Start everything, tap until ``stop`` or ``--duration``; stop everything (a refusal raises DemoError)."""
    from server import store
    from server.app import PointsServer
    from server.domain.config import load
    from server.services import bootstrap

    # what another program holds or what is missing, refused before anything starts
    if console:
        _check_http_free(args.http)
    if args.mqtt:
        _check_broker(args.mqtt)
    prog = load(os.environ.get("PRIVCARD_CONFIG"))
    embedded = server = view = web = None
    procs: list[subprocess.Popen] = []
    try:
        _connect(args.db)
        seed(bootstrap(prog))
        url = args.mqtt
        if not url:
            from broker.embedded import EmbeddedBroker, EmbeddedBrokerError

            try:
                embedded = EmbeddedBroker("127.0.0.1", 0).start()
            except EmbeddedBrokerError as exc:
                raise DemoError("the embedded MQTT broker did not start: %(error)s", error=str(exc)) from None
            url = embedded.url
            print(f"embedded MQTT broker (amqtt) at {url}")
        server = PointsServer(args.db, url, prog, client_id="privcard-demo-server").start()
        print(f"points server on {args.db}")
        if args.http:
            try:
                from server.web import serve_in_thread

                web = serve_in_thread(args.http, args.db, prog, server)
                user, password = demo_login()
                print(f"web console at http://{args.http}/  sign in as {user} / {password} (a demo admin login)")
            except ImportError as exc:
                print(f"web console not available: {exc}")
            except (OSError, SystemExit) as exc:  # werkzeug exits when the port was taken since the check
                raise DemoError(
                    "the web console cannot listen on %(addr)s: %(error)s (give --http HOST:PORT with a free "
                    "port, or --http '' for no console)",
                    addr=args.http,
                    error=_why(exc) if isinstance(exc, OSError) else os.strerror(errno.EADDRINUSE),
                ) from None
        view = LiveView(url, colour=sys.stdout.isatty() and not args.no_colour)
        env = dict(os.environ, GPIOZERO_PIN_FACTORY="mock", PYTHONUNBUFFERED="1")
        state = Path("var")
        gates = {}
        for dev in GATES:
            gates[dev] = _start_gate(dev, url, state, env)
            procs.append(gates[dev])
        print(f"gates: {', '.join(GATES)} (real `privcard gate` processes, stdin readers, logs in var/)")
        _kiosk(args, url, procs, env)
        print("taps follow; Ctrl-C to stop\n")
        time.sleep(1.5)
        _check_gates(gates, state)
        rng = random.Random()
        inside: set[str] = set()
        cards = [m[1] for m in MEMBERS]
        end = time.monotonic() + args.duration if args.duration else None
        while not stop.is_set() and (end is None or time.monotonic() < end):
            roll = rng.random()
            if roll < 0.05:
                dev, uid = "gate-in-1", rng.choice([BLOCKED_CARD, UNKNOWN_CARD])
            elif roll < 0.45 or not inside:
                uid = rng.choice(cards)
                dev = "gate-in-1"
                inside.add(uid)
            elif roll < 0.65:
                dev, uid = "counter-1", rng.choice(sorted(inside))
            else:
                uid = rng.choice(sorted(inside))
                dev = "gate-out-1"
                inside.discard(uid)
            proc = gates[dev]
            if proc.poll() is None:
                try:
                    proc.stdin.write(uid + "\n")
                    proc.stdin.flush()
                except BrokenPipeError:
                    pass
            stop.wait(rng.expovariate(1 / args.pace))
        print("\nstopping; outcomes:", json.dumps(view.counts))
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if view is not None:
            view.bus.stop()
        if server is not None:
            server.stop()
        if web is not None:
            web.shutdown()
        if embedded is not None:
            embedded.stop()
        if store.db.obj is not None:
            store.db.close()


def _kiosk(args, url: str, procs: list, env: dict) -> None:
    """Open the kiosk window when there is a display, else say how."""
    cmd = [
        sys.executable,
        "-m",
        "broker.dispatcher",
        "kiosk",
        "--device-id",
        "kiosk-1",
        "--mqtt",
        url,
        "--reader",
        "stdin",
        "--size",
        "800x480",
    ]
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if args.kiosk == "no" or (args.kiosk == "auto" and not display):
        print(
            "kiosk: no display here. To open it on a machine with a screen:\n  "
            + " ".join(cmd[2:]).replace("broker.dispatcher ", "privcard ")
            + "\n  then type a card UID (e.g. 04A1B2C3D4E5F6) and Enter to tap it"
        )
        return
    procs.append(
        subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=open("var/kiosk-1.log", "w")
        )
    )
    print("kiosk: window opened (device kiosk-1)")
