"""``privcard sip2-proxy``: a transparent SIP2 proxy that turns the ILS's checkouts into borrow events.

    privcard sip2-proxy --listen 0.0.0.0:6001 --ils sip2://ils.library.local:6001 \\
        --device-id selfcheck-1 --mqtt mqtts://selfcheck-1:SECRET@bus.library.local:8883

It sits between the self-check machines and the ILS (point each self-check's SIP2 host at
the proxy). Each self-check connection gets its own connection to the ILS, and every byte
is relayed unchanged in both directions, as it arrives: the self-check's own ``93`` login,
its sequence numbers and checksums, the ILS's answers. The proxy never logs in, never
sends a byte of its own to either side and never rewrites one::

    self-check ──bytes──> proxy ──the same bytes──> ILS
               <──bytes──       <──the same bytes──
                             │
                             └─ observes a copy: 11 Checkout → its 12 response; a 12 with
                                ok=1 (not a cancel) becomes a Checkout event:
                                outbox (SQLite, synchronous=FULL) ──> MQTT checkout topic
                                ──> the server credits ``borrow`` ──> result ──> deleted

Observation never delays the relay: the bytes are written to the other side first, then a
copy is split into frames and the few fields it needs are read (:func:`read_frame`). A frame that does not decode
(garbage, an unknown command, a bad checksum — the self-check will ask for a resend) is
logged and relayed all the same. A checkout becomes a durable event in the proxy's outbox
(the gate's :class:`gate.outbox.Outbox`, its ``checkouts`` table) on a writer thread, then
a sender thread publishes it until the server's ``result`` for it arrives: the relay goes
on while the bus or the server is down, and the events follow when they return.

Idempotency: an event's id is :func:`broker.contract.checkout_id` of (device, patron,
item, the ILS's transaction date), so a 12 seen twice (a ``97`` resend, the proxy
restarted) is stored once, and the server decides each id once (its tap inbox). A
self-check that retries a checkout gets a new 12 from the ILS; ``borrow`` earns once a
day anyway. The one window: the proxy killed in the milliseconds between relaying a 12
and committing its event loses that credit (never doubles one): the relay does not wait
for the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import queue
import re
import signal
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from broker import contract
from broker import settings as device_settings
from broker.client import BrokerError, BusClient
from broker.contract import Checkout, ContractError, DeviceConfig, Status, TapResult, format_time
from broker.settings import SettingError
from gate.controller import VERSION, ClockCheck, local_now
from gate.errors import GateError
from gate.outbox import Outbox, OutboxError
from gate.process import run_process

log = logging.getLogger("privcard.sip2proxy")

KIND = "selfcheck"
DEFAULTS = device_settings.defaults(KIND)
#: a frame longer than this without its CR is not SIP2: observation drops it (relay goes on)
MAX_FRAME = 64 * 1024
#: read size per relay step
CHUNK = 64 * 1024


class ProxyError(GateError):
    """A proxy setting that cannot work (bad --listen or --ils)."""


# --------------------------------------------------------------------------- the ILS address


@dataclass(frozen=True)
class IlsAddress:
    """Where the ILS listens: ``sip2://host:port`` or ``sip2s://host:port[?cafile=PATH]`` (TLS).

    A login or password in the URL (the server's ``[ils] url`` has one) is ignored: the
    proxy relays each self-check's own 93 login and never logs in itself.
    """

    host: str
    port: int
    tls: bool = False
    cafile: str | None = None

    @classmethod
    def parse(cls, url: str) -> IlsAddress:
        """Parse an ILS URL; ProxyError names what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("sip2", "sip2s"):
            raise ProxyError(f"--ils must be sip2://host:port or sip2s://host:port, got {url!r}")
        try:
            port = parts.port
        except ValueError:
            raise ProxyError(f"--ils has a bad port: {url!r}") from None
        if not parts.hostname or not port:
            raise ProxyError(f"--ils needs a host and a port: {url!r}")
        cafile = parse_qs(parts.query).get("cafile", [None])[0]
        if cafile and not Path(cafile).is_file():
            raise ProxyError(f"--ils cafile {cafile} does not exist")
        return cls(parts.hostname, port, parts.scheme == "sip2s", cafile)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for sip2s (the system's CAs, or ``cafile``), else None."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.cafile)

    def __str__(self) -> str:
        return f"{'sip2s' if self.tls else 'sip2'}://{self.host}:{self.port}"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6; port 0 picks a free one)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ProxyError(f"--listen must be HOST:PORT, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


# --------------------------------------------------------------------------- observation


_TRAILER = re.compile(rb"(?:AY[0-9])?AZ[0-9A-Fa-f]{4}$")


def read_frame(frame: bytes, fixed: int, encoding: str = "utf-8") -> tuple[str, dict[str, str]]:
    """A SIP2 frame's fixed part (after the 2-character command) and its first value of each field id.

    Written here rather than taken from pysip2's decoder: that decoder refuses what real
    self-checks send and ILSs accept (a blank ``nb due date``, for one), and the proxy
    must not lose a credit to a strictness the ILS does not have. It needs four fields,
    read leniently; only a frame whose checksum is present and wrong is refused (the
    other side will ask for a resend, and the resent frame is the one that counts).
    Raises ValueError.
    """
    body = frame.rstrip(b"\r\n")
    trailer = _TRAILER.search(body)
    if trailer is not None:
        az = body.rindex(b"AZ")
        if (sum(body[: az + 2]) + int(body[az + 2 :], 16)) & 0xFFFF:
            raise ValueError("bad checksum")
        body = body[: trailer.start()]
    text = body.decode(encoding)
    if len(text) < 2 + fixed:
        raise ValueError(f"a {text[:2]!r} frame shorter than its fixed fields")
    fields: dict[str, str] = {}
    for part in text[2 + fixed :].split("|"):
        if len(part) >= 2:
            fields.setdefault(part[:2], part[2:])
    return text[2 : 2 + fixed], fields


@dataclass
class _Pending:
    """The 11 Checkout a connection sent and whose 12 has not passed yet."""

    patron: str
    item: str
    date: str
    cancel: bool


@dataclass
class Observer:
    """What one connection's two streams say, frame by frame (never touches the bytes relayed).

    ``on_checkout`` receives each :class:`Checkout` the ILS accepted (a 12 with ok=1 that
    answers an 11 that was not a cancel).
    """

    device_id: str
    on_checkout: object
    encoding: str = "utf-8"
    clock: object = local_now
    clock_ok: object = lambda: True
    peer: str = "?"
    _buf: dict = field(default_factory=lambda: {"sc": bytearray(), "ils": bytearray()})
    pending: _Pending | None = None
    frames: int = 0
    undecoded: int = 0

    def feed(self, side: str, data: bytes) -> None:
        """A copy of bytes that went from ``side`` (``sc`` or ``ils``); complete frames are looked at."""
        buf = self._buf[side]
        buf += data
        while True:
            end = buf.find(b"\r")
            if end < 0:
                break
            frame = bytes(buf[: end + 1])
            del buf[: end + 1]
            # some clients end frames with CR LF: the LF starts the next "frame"
            frame = frame.lstrip(b"\n")
            if frame.strip():
                self.frames += 1
                try:
                    self._frame(side, frame)
                except Exception as exc:  # observation must never take the relay down
                    self.undecoded += 1
                    log.warning("%s: a %s frame not understood, relayed as it was: %s", self.peer, side, exc)
        if len(buf) > MAX_FRAME:
            log.warning("%s: %d bytes from %s without a CR: not SIP2, not observed", self.peer, len(buf), side)
            buf.clear()

    def _frame(self, side: str, frame: bytes) -> None:
        command = frame[:2]
        if side == "sc" and command == b"11":
            fixed, fields = read_frame(frame, 38, self.encoding)
            self.pending = _Pending(fields.get("AA", ""), fields.get("AB", ""), fixed[2:20], fields.get("BI") == "Y")
        elif side == "ils" and command == b"12":
            fixed, fields = read_frame(frame, 22, self.encoding)
            asked, self.pending = self.pending, None
            item = fields.get("AB", "")
            if fixed[0] != "1":
                log.info("%s: checkout refused by the ILS (item %s): nothing to credit", self.peer, item)
                return
            if asked is not None and asked.cancel:
                log.info("%s: a cancelled checkout (item %s): nothing to credit", self.peer, item)
                return
            self._checkout(fields.get("AA", ""), item, fixed[4:22], asked)

    def _checkout(self, patron: str, item: str, date: str, asked: _Pending | None) -> None:
        patron = patron or (asked.patron if asked else "")
        item = item or (asked.item if asked else "")
        ils_at = date if contract.SIP2_DATE_RE.match(date) else None
        now = self.clock()
        # the ILS's own date makes the id; without one, the self-check's, then the proxy's clock
        stamp = ils_at or (asked.date if asked and asked.date.strip() else format_time(now))
        try:
            event = Checkout(
                tap_id=contract.checkout_id(self.device_id, patron, item, stamp),
                patron=patron,
                item=item,
                at=now,
                clock_ok=bool(self.clock_ok()),
                ils_at=ils_at,
            )
        except ContractError as exc:
            log.warning("%s: a checkout that cannot be forwarded (item %r): %s", self.peer, item[:64], exc)
            return
        self.on_checkout(event)


# --------------------------------------------------------------------------- the relay


class Relay:
    """The asyncio side: accept self-check connections, relay each to the ILS, observe."""

    def __init__(self, listen: tuple[str, int], ils: IlsAddress, make_observer, *, connect_timeout: float = 10.0):
        self.listen = listen
        self.ils = ils
        self.make_observer = make_observer
        self.connect_timeout = connect_timeout
        self.server: asyncio.base_events.Server | None = None
        self.connections = 0
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> tuple[str, int]:
        """Start listening; the address actually bound."""
        self.server = await asyncio.start_server(self._accept, *self.listen, reuse_address=True)
        return self.server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        """Stop accepting, close every relayed connection."""
        if self.server is not None:
            self.server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, sc_reader: asyncio.StreamReader, sc_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        host, port = sc_writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        _nodelay(sc_writer)
        try:
            try:
                ils_reader, ils_writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        self.ils.host,
                        self.ils.port,
                        ssl=self.ils.ssl_context(),
                        server_hostname=self.ils.host if self.ils.tls else None,
                    ),
                    self.connect_timeout,
                )
            except (OSError, TimeoutError, ssl.SSLError) as exc:
                log.warning("self-check %s: the ILS at %s is unreachable (%s): connection closed", peer, self.ils, exc)
                return
            _nodelay(ils_writer)
            self.connections += 1
            log.info("self-check %s connected, relayed to %s", peer, self.ils)
            observer = self.make_observer(peer)
            pumps = [
                asyncio.ensure_future(_pump(sc_reader, ils_writer, observer, "sc")),
                asyncio.ensure_future(_pump(ils_reader, sc_writer, observer, "ils")),
            ]
            try:
                # either side closing ends the pair: the other side sees its close
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for p in pumps:
                    p.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
                _close(ils_writer)
            log.info(
                "self-check %s disconnected (%d frames, %d not understood)", peer, observer.frames, observer.undecoded
            )
        finally:
            _close(sc_writer)
            self._tasks.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, observer: Observer, side: str) -> None:
    """Copy bytes from ``reader`` to ``writer`` as they arrive, then show the observer a copy."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                with contextlib.suppress(OSError, RuntimeError):
                    if writer.can_write_eof():
                        writer.write_eof()  # pass the half-close on
                return
            writer.write(data)
            observer.feed(side, data)
            await writer.drain()
    except (OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        log.info("relay from %s ended: %s", side, exc)


def _nodelay(writer: asyncio.StreamWriter) -> None:
    """Small SIP2 frames must leave at once (no Nagle delay on either hop)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.close()


# --------------------------------------------------------------------------- the bus side


class Forwarder:
    """Store each checkout durably, publish it, forget it when its result arrives.

    Threads: a writer thread stores what the relay hands over (the relay never waits on
    the disk), a sender thread publishes the outbox (each event again after ``resend_s``
    without a result), paho's thread delivers results.
    """

    def __init__(
        self,
        device_id: str,
        outbox: Outbox,
        bus: BusClient,
        *,
        prefix: str = contract.DEFAULT_PREFIX,
        resend_s: float = 5.0,
        heartbeat_s: float = DEFAULTS["heartbeat_s"],
        clock_check: ClockCheck | None = None,
    ):
        self.device_id = device_id
        self.outbox = outbox
        self.bus = bus
        self.prefix = prefix
        self.resend_s = resend_s
        self.heartbeat_s = heartbeat_s
        self.clock_check = clock_check
        self.started = time.monotonic()
        self.stats = {"checkouts": 0, "repeats": 0, "credited": 0, "answered": 0}
        self._queue: queue.Queue[Checkout | None] = queue.Queue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Forwarder:
        """Subscribe to results and config, start the writer, sender and heartbeat threads."""
        self.bus.subscribe(contract.result_topic(self.device_id, self.prefix), self._on_result)
        self.bus.subscribe(contract.config_topic(self.device_id, self.prefix), self._on_config)
        self.bus.on_connect(lambda *_: (self._publish_status(), self._wake.set()))
        for target, name in ((self._write_loop, "writer"), (self._send_loop, "sender"), (self._beat_loop, "heartbeat")):
            t = threading.Thread(target=target, name=f"sip2proxy-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        """Store what is queued, stop the threads."""
        self._queue.put(None)
        self._stopping.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=10)

    def submit(self, event: Checkout) -> None:
        """Called by the relay (any thread): hand a checkout to the writer."""
        self._queue.put(event)

    # ------------------------------------------------------------------ threads

    def _write_loop(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                stored = self.outbox.add_checkout(event)
            except OutboxError as exc:  # a full or broken disk: say so loudly, keep relaying
                log.error("checkout %s NOT stored (%s): it will not be credited", event.tap_id, exc)
                continue
            if stored:
                self.stats["checkouts"] += 1
                log.info(
                    "checkout %s (item %s) stored; outbox %d", event.tap_id, event.item, self.outbox.checkout_depth()
                )
                self._wake.set()
            else:
                self.stats["repeats"] += 1
                log.info("checkout %s seen again: already stored", event.tap_id)

    def _send_loop(self) -> None:
        topic = contract.checkout_topic(self.device_id, self.prefix)
        while not self._stopping.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if not self.bus.connected.is_set():
                continue
            try:
                now = time.time()
                due = [
                    (c, sent)
                    for c, sent in self.outbox.pending_checkouts(200)
                    if sent is None or now - sent >= self.resend_s
                ]
                for event, sent in due:
                    self.bus.publish(topic, event.encode(), qos=1)
                    if sent is not None:
                        log.info("checkout %s sent again: no result yet", event.tap_id)
                self.outbox.mark_checkouts_sent([c.tap_id for c, _ in due], now)
            except Exception as exc:  # the bus dropped meanwhile, or the disk: try again shortly
                log.warning("sending checkouts failed (will retry): %s", exc)

    def _beat_loop(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_s
        while not self._stopping.wait(min(5.0, self.heartbeat_s)):
            if self.clock_check is not None:
                self.clock_check.refresh(force=False)
            self._wake.set()  # resends fall due even when nothing new happens
            if time.monotonic() >= next_beat and self.bus.connected.is_set():
                next_beat = time.monotonic() + self.heartbeat_s
                self._publish_status()

    # ------------------------------------------------------------------ bus callbacks (paho's thread)

    def _on_result(self, topic: str, payload: bytes, msg) -> None:
        try:
            result = TapResult.parse(payload)
        except ContractError as exc:
            log.warning("a result that does not parse ignored: %s", exc)
            return
        if not result.tap_id.startswith("co:"):
            return
        if self.outbox.remove_checkout(result.tap_id):
            self.stats["answered"] += 1
            if result.outcome == "credited":
                self.stats["credited"] += 1
            log.info("checkout %s: %s (%d points)", result.tap_id, result.outcome, result.points)

    def _on_config(self, topic: str, payload: bytes, msg) -> None:
        if not payload:
            return
        try:
            cfg = DeviceConfig.parse(payload)
            values, ignored = device_settings.parse(KIND, cfg.settings)
        except (ContractError, SettingError) as exc:
            log.warning("config ignored: %s", exc)
            return
        if cfg.kind != KIND:
            log.warning("config says this device is a %s, not a %s: registered with the wrong kind?", cfg.kind, KIND)
        self.heartbeat_s = values.get("heartbeat_s", self.heartbeat_s)
        if (
            self.clock_check is not None
            and values.get("clock_check")
            and self.clock_check.mode != values["clock_check"]
        ):
            self.clock_check = ClockCheck(values["clock_check"])
        if ignored:
            log.info("config settings this version does not know ignored: %s", ", ".join(sorted(ignored)))

    def status(self, state: str = "online") -> Status:
        """The retained status: state, outbox depth, clock."""
        return Status(
            state,
            {
                "at": format_time(local_now()),
                "version": VERSION,
                "kind": KIND,
                "uptime_s": round(time.monotonic() - self.started, 1),
                "outbox": self.outbox.checkout_depth(),
                "clock_ok": bool(self.clock_check()) if self.clock_check is not None else True,
            },
        )

    def _publish_status(self) -> None:
        try:
            self.bus.publish(contract.status_topic(self.device_id, self.prefix), self.status().encode(), retain=True)
        except Exception as exc:
            log.warning("status not published: %s", exc)


# --------------------------------------------------------------------------- the process


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="privcard sip2-proxy",
        description="Relay self-check machines' SIP2 to the ILS unchanged; credit borrow points for their checkouts.",
    )
    p.add_argument("--listen", required=True, help="HOST:PORT the self-check machines connect to (port 0: any free)")
    p.add_argument("--ils", required=True, help="the ILS's SIP2 server: sip2://host:port, or sip2s://host:port for TLS")
    p.add_argument("--device-id", required=True, help="this proxy's device id (registered with --kind selfcheck)")
    p.add_argument(
        "--mqtt",
        default=os.environ.get("PRIVCARD_MQTT", "mqtt://127.0.0.1:1883"),
        help="broker URL (default %(default)s)",
    )
    p.add_argument("--state-dir", default=None, help="the outbox (default $STATE_DIRECTORY or ./var/ID)")
    p.add_argument("--encoding", default="utf-8", help="the ILS's character set, to read patron ids (default utf-8)")
    p.add_argument(
        "--clock-check",
        default=DEFAULTS["clock_check"],
        choices=("auto", "always-ok", "never-ok"),
        help="is this machine's clock synchronised? (default %(default)s; the server's config overrides it)",
    )
    p.add_argument("--resend-s", type=float, default=5.0, help="resend an unanswered checkout after this long")
    p.add_argument("--port-file", default=None, help="write the port actually listened on to this file (tests)")
    p.add_argument("--prefix", default=contract.DEFAULT_PREFIX, help=argparse.SUPPRESS)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: relay until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    return run_process(
        "privcard sip2-proxy", args, _run, (GateError, BrokerError, OutboxError, ContractError, ValueError, OSError)
    )


#: how long a Python thread may hold the interpreter before another gets it (default 5 ms):
#: the relay's event loop must not wait behind the outbox writer or paho's thread
SWITCH_INTERVAL_S = 0.0005


def _run(args) -> int:
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    device_id = contract.check_device_id(args.device_id)
    listen = parse_listen(args.listen)
    ils = IlsAddress.parse(args.ils)
    try:
        "".encode(args.encoding)
    except LookupError:
        raise ProxyError(f"--encoding {args.encoding!r} is not a character set Python knows") from None
    state_dir = Path(args.state_dir or os.environ.get("STATE_DIRECTORY", "").split(":")[0] or Path("var") / device_id)
    state_dir.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(state_dir / "outbox.db")
    clock_check = ClockCheck(args.clock_check)
    offline = Status("offline", {"kind": KIND, "version": VERSION}).encode()
    bus = BusClient(
        args.mqtt, f"privcard-{KIND}-{device_id}", will=(contract.status_topic(device_id, args.prefix), offline, True)
    )
    forwarder = Forwarder(device_id, outbox, bus, prefix=args.prefix, resend_s=args.resend_s, clock_check=clock_check)
    forwarder.start()
    bus.start()

    def make_observer(peer: str) -> Observer:
        return Observer(device_id, forwarder.submit, args.encoding, local_now, clock_check, peer=peer)

    try:
        asyncio.run(_serve(Relay(listen, ils, make_observer), args, bus, device_id))
    finally:
        forwarder.stop()
        with contextlib.suppress(Exception):
            bus.publish(
                contract.status_topic(device_id, args.prefix), forwarder.status("offline").encode(), retain=True
            )
        bus.stop()
        outbox.close()
    return 0


async def _serve(relay: Relay, args, bus: BusClient, device_id: str) -> None:
    host, port = await relay.start()
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(port))
        tmp.replace(args.port_file)
    log.info("sip2-proxy %s: listening on %s:%d, relaying to %s, broker %s", device_id, host, port, relay.ils, bus.url)
    try:
        from hardware.systemd import notify
    except ImportError:  # the gate extra brings hardware; a bare install just has no sd_notify
        notify = None
    if notify:
        notify("READY=1")
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    if notify:
        notify("STOPPING=1")
    await relay.close()


if __name__ == "__main__":
    sys.exit(main())
