"""``privcard gate``: run a gate or counter controller on real adapters.

    privcard gate --device-id gate-1 --mqtt mqtt://10.0.0.2:1883 --reader nfc:usb
    privcard gate --device-id desk-1 --kind counter --reader serial:/dev/ttyUSB0?format=line --no-gpio
    echo 04A1B2C3 | privcard gate --device-id dev-1 --reader stdin --no-gpio --state-dir ./var/dev-1

Wiring only: the behaviour lives in :mod:`gate.controller`. The outbox, the cached
config and the cached allow-list live in ``--state-dir`` (default
``$STATE_DIRECTORY`` under systemd, else ``./var/{device_id}``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from broker import contract
from broker import settings as device_settings
from broker.client import BrokerError, BusClient
from broker.contract import ContractError, Status
from broker.settings import SettingError
from gate.controller import KINDS, VERSION, Controller, GateError, GateSettings, local_now
from gate.outbox import Outbox, OutboxError
from gate.process import run_process
from hardware.errors import HardwareError
from hardware.outputs import make_indicator

log = logging.getLogger("privcard.gate")


#: the defaults of the settings the server can override (broker.settings declares them)
DEFAULTS = device_settings.defaults("gate")


def _setting(key: str, convert):
    """An argparse type that checks a value as broker.settings declares ``key``."""

    def parse(text: str):
        try:
            return device_settings.SETTINGS[key].check(key, convert(text))
        except SettingError as exc:  # a ValueError too: first
            raise argparse.ArgumentTypeError(str(exc)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{key} must be a {'whole number' if convert is int else 'number'}, got {text!r}"
            ) from None

    parse.__name__ = key  # argparse names the type in its messages
    return parse


def _help(key: str) -> str:
    """The setting's help text, with its default; the retained config overrides it."""
    return device_settings.SETTINGS[key].help_en + " (default %(default)s; the server's config overrides it)"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="privcard gate", description="Run a gate or counter controller.")
    p.add_argument("--device-id", required=True, help="this device's id (its MQTT topic segment)")
    p.add_argument(
        "--mqtt",
        default=os.environ.get("PRIVCARD_MQTT", "mqtt://127.0.0.1:1883"),
        help="broker URL (default %(default)s)",
    )
    p.add_argument(
        "--reader",
        default="stdin",
        help="card reader spec: nfc:usb, nfc:tty:AMA0:pn532, nfc:udp:HOST:PORT, serial:DEV?format=rdm6300, "
        "hid:/dev/input/eventN, stdin (default), fake; the server's reader setting, when staff set one, "
        "replaces it live",
    )
    p.add_argument("--state-dir", default=None, help="outbox and cached config (default $STATE_DIRECTORY or ./var/ID)")
    p.add_argument(
        "--kind",
        choices=KINDS,
        default="gate",
        help="gate (with relay) or counter (no relay); the server's config overrides it",
    )
    p.add_argument("--no-gpio", action="store_true", help="print the feedback instead of driving GPIO")
    p.add_argument(
        "--clock-check", type=_setting("clock_check", str), default=DEFAULTS["clock_check"], help=_help("clock_check")
    )
    p.add_argument(
        "--offline-policy",
        type=_setting("offline_policy", str),
        default=DEFAULTS["offline_policy"],
        help=_help("offline_policy"),
    )
    p.add_argument(
        "--decision-timeout-ms",
        type=_setting("decision_timeout_ms", int),
        default=DEFAULTS["decision_timeout_ms"],
        help=_help("decision_timeout_ms"),
    )
    p.add_argument("--open-ms", type=_setting("open_ms", int), default=DEFAULTS["open_ms"], help=_help("open_ms"))
    p.add_argument("--repeat-s", type=_setting("repeat_s", float), default=DEFAULTS["repeat_s"], help=_help("repeat_s"))
    p.add_argument(
        "--heartbeat-s", type=_setting("heartbeat_s", float), default=DEFAULTS["heartbeat_s"], help=_help("heartbeat_s")
    )
    p.add_argument("--resend-s", type=float, default=5.0, help="resend an unanswered tap after this long")
    p.add_argument("--window", type=int, default=20, help="max taps in flight without a result (default 20)")
    p.add_argument("--prefix", default=contract.DEFAULT_PREFIX, help=argparse.SUPPRESS)
    p.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        help="shift the device clock by SECONDS (demos and tests of business-day attribution)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return p


def _make_indicator_factory(no_gpio: bool, name: str = "gate"):
    """``pins -> Indicator`` from hardware.outputs (gpiozero, or printed lines with ``--no-gpio``)."""
    return lambda pins: make_indicator(pins or {}, no_gpio=no_gpio, name=name)


def _notify():
    try:
        from hardware.systemd import notify
    except ImportError:
        return lambda _state: None
    return notify


def main(argv: list[str] | None = None) -> int:
    """Entry point: wire the adapters, run the reader loop until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    return run_process(
        "privcard gate",
        args,
        _run,
        (GateError, BrokerError, OutboxError, ContractError, HardwareError, ValueError, OSError),
    )


def _run(args) -> int:
    settings = GateSettings(
        device_id=contract.check_device_id(args.device_id),
        kind=args.kind,
        repeat_s=args.repeat_s,
        decision_timeout_ms=args.decision_timeout_ms,
        open_ms=args.open_ms,
        offline_policy=args.offline_policy,
        heartbeat_s=args.heartbeat_s,
        resend_s=args.resend_s,
        window=args.window,
        clock_check=args.clock_check,
        prefix=args.prefix,
    )
    state_dir = Path(
        args.state_dir or os.environ.get("STATE_DIRECTORY", "").split(":")[0] or Path("var") / settings.device_id
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(state_dir / "outbox.db")

    try:
        from hardware.readers import ReaderError, open_reader
    except ImportError as exc:
        raise GateError(f"card readers are unavailable: {exc}") from None
    try:
        reader = open_reader(args.reader)
    except ReaderError as exc:
        raise GateError(str(exc)) from None
    from gate.reading import ReaderLoop

    make_indicator = _make_indicator_factory(args.no_gpio, settings.device_id)
    indicator = make_indicator(settings.pins)
    offline = Status("offline", {"kind": settings.kind, "version": VERSION}).encode()
    bus = BusClient(
        args.mqtt,
        f"privcard-gate-{settings.device_id}",
        will=(contract.status_topic(settings.device_id, settings.prefix), offline, True),
    )
    notify = _notify()
    offset = args.clock_offset
    ctl = Controller(
        settings,
        outbox=outbox,
        bus=bus,
        indicator=indicator,
        make_indicator=make_indicator,
        clock=lambda: local_now(offset),
        reader_state=lambda: loop.state(),
        reader_error=lambda: loop.error(),
        reader_alive=lambda: loop.alive(),
        state_dir=state_dir,
        notify=notify,
    )
    # the reader in use follows the retained config's reader setting; the watchdog, the loop's progress
    loop = ReaderLoop(ctl, reader, own_spec=args.reader, opener=open_reader)
    ctl.start()
    bus.start()

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    notify("READY=1")
    log.info("gate %s: reader %s, broker %s, state %s", settings.device_id, args.reader, bus.url, state_dir)
    try:
        loop.run(done)
    finally:
        notify("STOPPING=1")
        loop.close()
        ctl.stop()
        bus.stop()
        try:
            ctl.indicator.close()
        except Exception:
            pass
        outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
