"""The gate/counter controller: read, debounce, persist, publish, decide, actuate, buffer.

Everything here is plain Python with the hardware and the bus injected, so the unit
tests drive it with fakes (``tests/gate_fakes.py``) and ``gate.main`` wires the real
adapters. The indicator port is :class:`hardware.outputs.Indicator`; no hardware
library is imported by this module.

One tap, as :meth:`Controller.handle_read` sees it::

    card read ──debounce──> outbox.create()  (SQLite, synchronous=FULL: durable first)
        ──> publish tap ──> wait ≤ decision_timeout_ms for its result
              ├─ result:   open the door if result.open (gates only), signal granted/refused
              └─ no result: decide from the cached allow-list and offline_policy,
                            signal offline_granted/offline_refused; the tap stays queued

Independently, the *sender* thread keeps the outbox moving: at most ``window`` (20)
taps unacknowledged, oldest first, resent after ``resend_s`` without a result, and
deleted only when their result arrives. A backlog of thousands drains in order after
the bus returns, each tap with its original ``at``.

Threads: the reader loop calls ``handle_read``; paho's thread delivers results,
config and allow-list; the sender and heartbeat threads are started by ``start()``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from broker import contract
from broker import settings as device_settings
from broker.contract import Allowlist, ContractError, DeviceConfig, Status, Tap, TapResult, format_time
from broker.settings import SettingError
from gate.errors import GateError
from gate.outbox import Outbox
from hardware.outputs import Indicator, PrintIndicator

log = logging.getLogger("privcard.gate")

VERSION = "0.1.0"
KINDS = ("gate", "counter")
#: indicator outcomes (hardware.outputs speaks these)
GRANTED, REFUSED, OFFLINE_GRANTED, OFFLINE_REFUSED, ERROR = (
    "granted",
    "refused",
    "offline_granted",
    "offline_refused",
    "error",
)


# --------------------------------------------------------------------------- ports


class Bus(Protocol):
    """What the controller needs from :class:`broker.client.BusClient`."""

    connected: threading.Event

    def subscribe(self, topic_filter: str, handler, qos: int = 1) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False): ...
    def on_connect(self, hook: Callable[[bool], None]) -> None: ...


# --------------------------------------------------------------------------- settings


#: the settings the server sets in the retained config (declared in broker.settings)
SERVER_SET = ("repeat_s", "decision_timeout_ms", "open_ms", "offline_policy", "heartbeat_s", "clock_check", "pins")
_DEFAULTS = device_settings.defaults("gate")


@dataclass(frozen=True)
class GateSettings:
    """How this device behaves; command-line values, then the retained config live.

    The server-set settings (:data:`SERVER_SET`) take their defaults and ranges from
    :mod:`broker.settings`; ``pins`` left as None is the kind's default wiring there.
    ``resend_s``, ``window`` and ``prefix`` are the device's own (the server never sets them).
    """

    device_id: str
    kind: str = "gate"
    repeat_s: float = _DEFAULTS["repeat_s"]
    decision_timeout_ms: int = _DEFAULTS["decision_timeout_ms"]
    open_ms: int = _DEFAULTS["open_ms"]
    offline_policy: str = _DEFAULTS["offline_policy"]
    heartbeat_s: float = _DEFAULTS["heartbeat_s"]
    resend_s: float = 5.0
    window: int = 20
    clock_check: str = _DEFAULTS["clock_check"]
    pins: dict | None = None
    #: the ``reader`` setting: a card reader spec, or None for the device's own (``--reader``);
    #: the reader loop (:mod:`gate.reading`) switches to it live
    reader: str | None = None
    activity: str | None = None
    direction: str | None = None
    location: str | None = None
    revision: int = 0
    prefix: str = contract.DEFAULT_PREFIX

    def __post_init__(self):
        contract.check_device_id(self.device_id)
        if self.kind not in KINDS:
            raise GateError(f"kind must be gate or counter, got {self.kind!r}")
        if self.pins is None:
            object.__setattr__(self, "pins", device_settings.defaults(self.kind)["pins"])
        try:
            for key in SERVER_SET:
                device_settings.SETTINGS[key].check(key, getattr(self, key))
            if self.reader is not None:
                device_settings.SETTINGS["reader"].check("reader", self.reader)
        except SettingError as exc:
            raise GateError(str(exc)) from None
        for name, low, high in (("resend_s", 0.05, 3600), ("window", 1, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise GateError(f"{name} must be a number from {low} to {high}, got {value!r}")

    def with_config(self, cfg: DeviceConfig) -> GateSettings:
        """These settings updated from a retained config; GateError names a bad value's path.

        Settings the config leaves out keep their current value; ``pins`` set there apply
        over the kind's default wiring, as the server's own ``effective`` does. ``reader``
        is the exception: a config without it means the device's own reader (the server
        sends it only when staff set one), so leaving it out goes back to ``--reader``.
        """
        if cfg.device_id != self.device_id:
            raise GateError(f"config is for device {cfg.device_id!r}, not {self.device_id!r}")
        if cfg.kind not in KINDS:
            raise GateError(f"config kind {cfg.kind!r} cannot run on a gate controller (gate or counter)")
        try:
            values, ignored = device_settings.parse(cfg.kind, cfg.settings)
        except SettingError as exc:
            raise GateError(f"config setting {exc}") from None
        if ignored:
            log.info(
                "config revision %d: settings this version does not know ignored: %s",
                cfg.revision,
                ", ".join(sorted(ignored)),
            )
        changes: dict = {
            "kind": cfg.kind,
            "activity": cfg.activity,
            "direction": cfg.direction,
            "location": cfg.location,
            "revision": cfg.revision,
            "reader": values.get("reader"),
        }
        for key in SERVER_SET:
            if cfg.settings.get(key) is not None and key in values:
                changes[key] = values[key]
        return replace(self, **changes)


# --------------------------------------------------------------------------- clock


class ClockCheck:
    """Whether the wall clock is synchronised (what the tap's ``clock_ok`` says).

    ``auto``: systemd-timesyncd's flag (``/run/systemd/timesync/synchronized``) or
    ``timedatectl show -p NTPSynchronized --value`` == ``yes``. The controller probes once
    at start and the heartbeat re-probes when the answer is a minute old; a tap only
    reads the cached answer, so it never waits on a process or D-Bus (a Pi without time
    sync is exactly when taps must be fast). ``always-ok`` / ``never-ok`` force it.
    """

    FLAG = "/run/systemd/timesync/synchronized"

    def __init__(self, mode: str = "auto", *, ttl_s: float = 60.0, flag_path: str | None = None, runner=None):
        try:
            device_settings.SETTINGS["clock_check"].check("clock_check", mode)
        except SettingError as exc:
            raise GateError(str(exc)) from None
        self.mode = mode
        self.ttl_s = ttl_s
        self.flag_path = flag_path or self.FLAG
        self._runner = runner or self._timedatectl
        self._cached: tuple[float, bool] | None = None

    def __call__(self) -> bool:
        if self.mode == "always-ok":
            return True
        if self.mode == "never-ok":
            return False
        if self._cached is None:  # only before the first probe (start() probes)
            self._cached = (time.monotonic(), self._probe())
        return self._cached[1]

    def refresh(self, *, force: bool = True) -> bool:
        """Probe again (the heartbeat calls this off the tap path); unforced, only when stale."""
        if force or self._cached is None or time.monotonic() - self._cached[0] > self.ttl_s:
            self._cached = (time.monotonic(), self._probe())
        return self()

    def _probe(self) -> bool:
        if os.path.exists(self.flag_path):
            return True
        try:
            return self._runner() == "yes"
        except Exception:
            return False

    @staticmethod
    def _timedatectl() -> str:
        if not shutil.which("timedatectl"):
            return ""
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True, text=True, timeout=2
        )
        return out.stdout.strip()


def local_now(offset_s: float = 0.0) -> datetime:
    """The wall clock with the local UTC offset (optionally shifted, for demos and tests)."""
    now = datetime.now(UTC).astimezone()
    return now + timedelta(seconds=offset_s) if offset_s else now


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Decision:
    """What happened to one tap, for the log, the tests and the benchmarks."""

    tap: Tap
    outcome: str  # indicator outcome: granted/refused/offline_granted/offline_refused/error
    opened: bool  # the relay was pulsed
    result: TapResult | None  # the server's answer, if it came in time
    reason: str  # one line for the log
    feedback_ms: float  # read -> feedback given

    @property
    def offline(self) -> bool:
        """Decided without the server."""
        return self.result is None


class _Waiter:
    """A live tap waiting for its result."""

    __slots__ = ("event", "result")

    def __init__(self):
        self.event = threading.Event()
        self.result: TapResult | None = None


def offline_decision(uid: str, policy: str, allowlist: Allowlist | None) -> tuple[bool, str]:
    """(open?, why) without the server, per offline_policy."""
    if policy == "open":
        return True, "offline policy open"
    if policy == "closed":
        return False, "offline policy closed"
    if allowlist is None:
        return False, "no allow-list cached"
    if uid in allowlist.uids:
        return True, f"in allow-list v{allowlist.version}"
    return False, f"not in allow-list v{allowlist.version}"


def describe(result: TapResult) -> str:
    """One line about a server result: outcome, points, balance, name."""
    parts = [result.outcome]
    if result.outcome == "credited":
        parts.append(f"+{result.points}" + (f" {result.activity}" if result.activity else ""))
    if result.balance is not None:
        parts.append(f"balance={result.balance}")
    if result.name:
        parts.append(f"name={result.name!r}")
    en = (result.message or {}).get("en")
    if en:
        parts.append(f"({en})")
    return " ".join(parts)


# --------------------------------------------------------------------------- controller


class Controller:
    """One gate or counter: wire it with ports, ``start()``, then feed ``handle_read``."""

    def __init__(
        self,
        settings: GateSettings,
        *,
        outbox: Outbox,
        bus: Bus,
        indicator: Indicator,
        make_indicator: Callable[[dict], Indicator] | None = None,
        clock: Callable[[], datetime] = local_now,
        clock_ok: Callable[[], bool] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        reader_state: Callable[[], str] = lambda: "ok",
        reader_error: Callable[[], str | None] = lambda: None,
        reader_alive: Callable[[], bool] | None = None,
        state_dir: str | Path | None = None,
        notify: Callable[[str], None] = lambda _state: None,
        version: str = VERSION,
    ):
        self.settings = settings
        self.outbox = outbox
        self.bus = bus
        self.indicator = indicator
        self.make_indicator = make_indicator
        self.clock = clock
        self.clock_check = ClockCheck(settings.clock_check) if clock_ok is None else None
        self._clock_ok = clock_ok
        self.monotonic = monotonic
        self.reader_state = reader_state
        #: the status's ``error``: a ``reader`` setting that could not be opened (gate.reading)
        self.reader_error = reader_error
        #: whether the reader loop has made progress lately; the systemd watchdog is pinged
        #: only while it has (None: no reader loop is watched, ping always)
        self.reader_alive = reader_alive
        self._stalled = False
        self.state_dir = Path(state_dir) if state_dir else None
        self.notify = notify
        self.version = version
        self.allowlist: Allowlist | None = None
        self.started_at = time.monotonic()
        self.stats = {
            "taps": 0,
            "debounced": 0,
            "online": 0,
            "offline": 0,
            "results": 0,
            "late_results": 0,
            "sent": 0,
            "resent": 0,
            "bad_results": 0,
        }
        self._lock = threading.Lock()
        self._ind_lock = threading.Lock()
        self._last_seen: dict[str, float] = {}
        self._waiters: dict[str, _Waiter] = {}
        self._inflight: dict[str, float] = {}  # tap_id -> monotonic time of last send
        self._done: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        p = settings.prefix
        self.topics = {
            "tap": contract.tap_topic(settings.device_id, p),
            "result": contract.result_topic(settings.device_id, p),
            "config": contract.config_topic(settings.device_id, p),
            "status": contract.status_topic(settings.device_id, p),
            "allowlist": contract.allowlist_topic(p),
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Controller:
        """Load the cached config and allow-list, subscribe, start the sender and heartbeat."""
        self._watch_exit_button()
        self._load_cached()
        if self.clock_check is not None:
            self.clock_check.refresh()  # the first tap must not pay for the probe
        self.bus.subscribe(self.topics["result"], self._on_result, qos=1)
        self.bus.subscribe(self.topics["config"], self._on_config, qos=1)
        self.bus.subscribe(self.topics["allowlist"], self._on_allowlist, qos=1)
        self.bus.on_connect(self._on_connected)
        for target, name in ((self._send_loop, "gate-sender"), (self._heartbeat_loop, "gate-heartbeat")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        if self.bus.connected.is_set():
            self._on_connected(False)
        depth = self.outbox.depth()
        log.info(
            "%s %s ready: outbox %d, policy %s, allow-list %s",
            self.settings.kind,
            self.settings.device_id,
            depth,
            self.settings.offline_policy,
            f"v{self.allowlist.version} ({len(self.allowlist.uids)} cards)" if self.allowlist else "none",
        )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the threads and say "offline" (a graceful disconnect sends no last will)."""
        self._stopping.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        if self.bus.connected.is_set():
            try:
                info = self.bus.publish(self.topics["status"], self._status("offline").encode(), retain=True)
                if hasattr(info, "wait_for_publish"):
                    info.wait_for_publish(timeout)
            except Exception as exc:
                log.warning("could not publish offline status: %s", exc)

    @property
    def clock_ok(self) -> bool:
        """Whether the device clock is synchronised right now."""
        return self._clock_ok() if self._clock_ok else self.clock_check()

    # ------------------------------------------------------------------ the tap path

    def handle_read(self, uid: str, ndef: str | None = None) -> Decision | None:
        """Process one card read (*ndef*: the card's SUN URL, forwarded as read); None when debounced.

        Never raises for bus trouble. The gate does not check *ndef* (it has no card keys):
        online the server's result decides; offline the allow-list does, and the server
        verifies the URL when the tap arrives (a non-genuine one earns nothing).
        """
        t0 = self.monotonic()
        try:
            uid = contract.normalise_uid(uid)
        except ContractError as exc:
            log.warning("unreadable card UID ignored: %s", exc)
            return None
        s = self.settings
        with self._lock:
            last = self._last_seen.get(uid)
            self._last_seen[uid] = t0  # a card resting on the reader keeps extending its own window
            if len(self._last_seen) > 1000:
                cutoff = t0 - max(s.repeat_s, 1.0)
                self._last_seen = {u: t for u, t in self._last_seen.items() if t >= cutoff}
        if last is not None and t0 - last < s.repeat_s:
            self.stats["debounced"] += 1
            log.debug("%s debounced (%.2f s since the last read)", uid, t0 - last)
            return None

        # Durable before any feedback: a power cut after the beep must not lose the tap.
        # Created and reserved in the window under one lock, so the sender thread never
        # sees a fresh tap it could publish a second time.
        waiter = _Waiter()
        try:
            with self._lock:
                tap = self.outbox.create(s.device_id, uid, self.clock(), self.clock_ok, ndef)
                self._waiters[tap.tap_id] = waiter
                live = self.bus.connected.is_set() and len(self._inflight) < s.window
                if live:
                    self._inflight[tap.tap_id] = self.monotonic()
        except Exception as exc:
            log.error("tap %s NOT stored: %s", uid, exc)
            self._signal(ERROR)
            return Decision(
                Tap("unstored", uid, self.clock(), False),
                ERROR,
                False,
                None,
                f"outbox error: {exc}",
                (self.monotonic() - t0) * 1000,
            )
        self.stats["taps"] += 1
        try:
            sent = live and self._publish_live(tap)
            if sent and s.decision_timeout_ms > 0:
                waiter.event.wait(s.decision_timeout_ms / 1000)
        finally:
            self._waiters.pop(tap.tap_id, None)
        result = waiter.result

        if result is not None:
            self.stats["online"] += 1
            opened = bool(result.open) and s.kind == "gate"
            outcome = GRANTED if result.open else REFUSED
            reason = describe(result)
        else:
            self.stats["offline"] += 1
            allow, why = offline_decision(uid, s.offline_policy, self.allowlist)
            opened = allow and s.kind == "gate"
            outcome = OFFLINE_GRANTED if allow else OFFLINE_REFUSED
            reason = (f"no answer in {s.decision_timeout_ms:.0f} ms" if sent else "bus offline") + f", {why}"
        if opened:
            self._open_door(s.open_ms)
        self._signal(outcome)
        feedback_ms = (self.monotonic() - t0) * 1000
        log.info(
            "TAP %s %s %s%s %s [%.1f ms]", tap.tap_id, uid, outcome, " door=open" if opened else "", reason, feedback_ms
        )
        return Decision(tap, outcome, opened, result, reason, feedback_ms)

    def _publish_live(self, tap: Tap) -> bool:
        """Publish a fresh tap at once (its window slot is already reserved)."""
        try:
            self.bus.publish(self.topics["tap"], tap.encode(), qos=1)
        except Exception as exc:
            log.warning("publish of %s failed: %s", tap.tap_id, exc)
            return False  # stays in flight: the sender resends it after resend_s
        self.stats["sent"] += 1
        return True

    def _signal(self, outcome: str) -> None:
        with self._ind_lock:
            try:
                self.indicator.signal(outcome, offline=outcome.startswith("offline"))
            except Exception:
                log.exception("indicator failed to show %s", outcome)

    def _open_door(self, open_ms: int) -> None:
        with self._ind_lock:
            try:
                self.indicator.open_door(open_ms)
            except Exception:
                log.exception("relay failed to open")

    # ------------------------------------------------------------------ bus callbacks (paho's thread)

    def _on_result(self, topic: str, payload: bytes, msg=None) -> None:
        try:
            result = TapResult.parse(payload)
        except ContractError as exc:
            self.stats["bad_results"] += 1
            log.warning("unreadable result ignored: %s", exc)
            return
        self.stats["results"] += 1
        waiter = self._waiters.get(result.tap_id)
        if waiter is not None:
            waiter.result = result
            waiter.event.set()
        elif result.tap_id in self._inflight:
            self.stats["late_results"] += 1
            log.info("RESULT %s %s", result.tap_id, describe(result))
        self._done.put(result.tap_id)  # the sender deletes it from the outbox
        self._wake.set()

    def _on_config(self, topic: str, payload: bytes, msg=None) -> None:
        if not payload:
            return
        if self._apply_config(payload):
            self._save("config.json", payload)

    def _apply_config(self, payload: bytes, *, source: str = "bus") -> bool:
        try:
            cfg = DeviceConfig.parse(payload)
            new = self.settings.with_config(cfg)
        except (ContractError, GateError) as exc:
            log.error("config from %s REJECTED (%s); keeping revision %d", source, exc, self.settings.revision)
            return False
        old = self.settings
        if new.pins != old.pins and self.make_indicator is not None:
            if not self._swap_indicator(new.pins, old.pins):
                log.error(
                    "config revision %d REJECTED: pins %s unusable; keeping revision %d",
                    cfg.revision,
                    new.pins,
                    old.revision,
                )
                return False
        if new.clock_check != old.clock_check and self.clock_check is not None:
            self.clock_check = ClockCheck(new.clock_check)
        self.settings = new
        changed = {
            k: getattr(new, k)
            for k in (
                "kind",
                "repeat_s",
                "decision_timeout_ms",
                "open_ms",
                "offline_policy",
                "heartbeat_s",
                "activity",
                "clock_check",
                "reader",
            )
            if getattr(new, k) != getattr(old, k)
        }
        log.info("config revision %d applied from %s%s", new.revision, source, f": {changed}" if changed else "")
        self._wake.set()
        return True

    def _swap_indicator(self, pins: dict, old_pins: dict) -> bool:
        """Rebuild the indicator on new pins. The old one is closed first: GPIO pins are
        exclusive, so the new devices could not claim a pin the old ones still hold."""
        with self._ind_lock:
            try:
                self.indicator.close()
            except Exception:
                pass
            for attempt, use in (("new", pins), ("previous", old_pins)):
                try:
                    self.indicator = self.make_indicator(use)
                except Exception as exc:
                    log.error("indicator on %s pins %s failed: %s", attempt, use, exc)
                    continue
                self._watch_exit_button()
                return attempt == "new"
            self.indicator = PrintIndicator(name=self.settings.device_id)  # nothing works: at least log the feedback
            return False

    def _watch_exit_button(self) -> None:
        self.indicator.on_exit_button(lambda: log.info("EXIT button pressed: door opened"))

    def _on_allowlist(self, topic: str, payload: bytes, msg=None) -> None:
        if not payload:
            return
        if self._apply_allowlist(payload):
            self._save("allowlist.json", payload)

    def _apply_allowlist(self, payload: bytes, *, source: str = "bus") -> bool:
        try:
            allowlist = Allowlist.parse(payload)
        except ContractError as exc:
            current = f"v{self.allowlist.version}" if self.allowlist else "none"
            log.error("allow-list from %s REJECTED (%s); keeping %s", source, exc, current)
            return False
        if self.allowlist is not None and allowlist.version < self.allowlist.version:
            log.warning("stale allow-list v%d ignored; keeping v%d", allowlist.version, self.allowlist.version)
            return False
        self.allowlist = allowlist
        log.info("allow-list v%d from %s: %d cards", allowlist.version, source, len(allowlist.uids))
        return True

    def _on_connected(self, session_present: bool) -> None:
        now = self.monotonic()
        with self._lock:
            # paho re-sends its own unacknowledged publishes on reconnect; give them time.
            for tap_id in self._inflight:
                self._inflight[tap_id] = now
        self._publish_status()
        self._wake.set()

    # ------------------------------------------------------------------ sender thread

    def _send_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self.pump()
            except Exception:
                log.exception("outbox sender failed; retrying")
                self._stopping.wait(1.0)

    def pump(self) -> int:
        """One sender step: forget answered taps, resend overdue ones, fill the window. Returns taps sent."""
        done = []
        while True:
            try:
                done.append(self._done.get_nowait())
            except queue.Empty:
                break
        if done:
            self.outbox.remove(done)
            with self._lock:
                for tap_id in done:
                    self._inflight.pop(tap_id, None)
        if not self.bus.connected.is_set():
            return 0
        s = self.settings
        now = self.monotonic()
        with self._lock:
            overdue = [t for t, sent in self._inflight.items() if now - sent >= s.resend_s]
            inflight = set(self._inflight)
            # One slot stays free for a live tap, so a patron never waits behind the backlog.
            free = max(0, s.window - 1 - len(inflight))
            fresh = [i.tap for i in self.outbox.pending(len(inflight) + free) if i.tap_id not in inflight][:free]
            for tap in fresh:
                self._inflight[tap.tap_id] = now
        to_send: list[Tap] = []
        for tap_id in overdue:
            item = self.outbox.get(tap_id)
            if item is None:  # answered meanwhile
                with self._lock:
                    self._inflight.pop(tap_id, None)
                continue
            to_send.append(item.tap)
        resent = len(to_send)
        to_send += fresh
        if not to_send:
            return 0
        sent_ids = []
        for tap in to_send:
            if not self.bus.connected.is_set():
                break
            with self._lock:
                self._inflight[tap.tap_id] = self.monotonic()
            try:
                self.bus.publish(self.topics["tap"], tap.encode(), qos=1)
            except Exception as exc:
                log.warning("publish of %s failed: %s", tap.tap_id, exc)
                break
            sent_ids.append(tap.tap_id)
        self.stats["sent"] += len(sent_ids)
        self.stats["resent"] += min(resent, len(sent_ids))
        if sent_ids:
            self.outbox.mark_sent(sent_ids)
        return len(sent_ids)

    def inflight(self) -> int:
        """Taps published and not yet answered."""
        with self._lock:
            return len(self._inflight)

    # ------------------------------------------------------------------ status and heartbeat

    def _status(self, state: str) -> Status:
        extra = {
            "at": format_time(self.clock()),
            "version": self.version,
            "uptime_s": round(time.monotonic() - self.started_at, 1),
            "outbox": self.outbox.depth(),
            "reader": str(self.reader_state())[:200],
            "kind": self.settings.kind,
            "clock_ok": bool(self.clock_ok),
        }
        error = self.reader_error()
        if error:
            extra["error"] = str(error)[:200]
        if self.allowlist is not None:
            extra["allowlist_version"] = self.allowlist.version
        oldest = self.outbox.oldest()
        if oldest is not None:
            extra["oldest_tap_at"] = format_time(oldest.at)
        return Status(state=state, extra=extra)

    def status_changed(self) -> None:
        """Publish the status now (e.g. the reader changed), not at the next heartbeat."""
        if self.bus.connected.is_set():
            self._publish_status()

    def _publish_status(self) -> None:
        try:
            self.bus.publish(self.topics["status"], self._status("online").encode(), qos=1, retain=True)
        except Exception as exc:
            log.warning("status not published: %s", exc)

    def _heartbeat_loop(self) -> None:
        next_beat = time.monotonic() + self.settings.heartbeat_s
        while not self._stopping.wait(min(5.0, self.settings.heartbeat_s)):
            self.watchdog()
            if self.clock_check is not None:
                self.clock_check.refresh(force=False)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.settings.heartbeat_s
                if self.bus.connected.is_set():
                    self._publish_status()

    def watchdog(self) -> bool:
        """Ping the systemd watchdog if the reader loop has made progress lately; True if pinged.

        The heartbeat thread calls this every 5 s at most. A reader loop that stopped
        iterating (a driver blocked in read or open, a tap wedged on GPIO) gets no more
        pings, so systemd kills and restarts the gate ``WatchdogSec`` later, as for a hung process.
        """
        alive = self.reader_alive is None or self.reader_alive()
        if alive:
            if self._stalled:
                log.warning("the reader loop is making progress again; watchdog pings resume")
            self.notify("WATCHDOG=1")
        elif not self._stalled:
            log.error("the reader loop has made no progress lately: no more watchdog pings (systemd restarts the gate)")
        self._stalled = not alive
        return alive

    # ------------------------------------------------------------------ state dir

    def _save(self, name: str, payload: bytes) -> None:
        """Keep the last good config / allow-list so a restart while offline still has them."""
        if self.state_dir is None:
            return
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.state_dir / (name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_dir / name)
        except OSError as exc:
            log.warning("could not cache %s: %s", name, exc)

    def _load_cached(self) -> None:
        if self.state_dir is None:
            return
        for name, apply in (("config.json", self._apply_config), ("allowlist.json", self._apply_allowlist)):
            path = self.state_dir / name
            if path.exists():
                try:
                    apply(path.read_bytes(), source=f"cache {path}")
                except OSError as exc:
                    log.warning("cannot read %s: %s", path, exc)


def dump_decision(d: Decision) -> str:
    """A Decision as one JSON line (used by ``--json-log`` and tests)."""
    return json.dumps(
        {
            "tap_id": d.tap.tap_id,
            "uid": d.tap.uid,
            "at": format_time(d.tap.at),
            "outcome": d.outcome,
            "opened": d.opened,
            "offline": d.offline,
            "result": d.result.to_dict() if d.result else None,
            "feedback_ms": round(d.feedback_ms, 2),
        },
        ensure_ascii=False,
    )
