"""``privcard kiosk``: the touchscreen where patrons tap a card and see their points.

``main(argv) -> int`` parses options, configures Kivy (window size, fonts, no
argument parsing of its own) *before* Kivy is imported, then runs the app.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from broker import settings as device_settings
from broker.contract import ContractError, check_device_id

DEFAULT_MQTT = "mqtt://127.0.0.1:1883"


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 800x480, got {text!r}") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range")
    return w, h


def _lang(text: str) -> str:
    """``--lang``, checked as broker.settings declares the ``lang`` setting."""
    try:
        return device_settings.SETTINGS["lang"].check("lang", text)
    except ContractError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="privcard kiosk", description="Run the privilege-card kiosk (Kivy).")
    p.add_argument("--device-id", required=True, help="this kiosk's device id (its MQTT topic segment)")
    p.add_argument(
        "--mqtt", default=os.environ.get("PRIVCARD_MQTT", DEFAULT_MQTT), help="broker URL (default %(default)s)"
    )
    p.add_argument(
        "--reader",
        default="stdin",
        help="card reader spec: nfc:usb, nfc:udp:HOST:PORT, serial:..., hid:..., stdin, fake",
    )
    p.add_argument(
        "--size", type=_size, default=(800, 480), help='window size WxH (default 800x480, the Pi 7" display)'
    )
    p.add_argument("--fullscreen", action="store_true", help="fill the screen and hide the cursor")
    p.add_argument(
        "--lang",
        type=_lang,
        default=device_settings.defaults("kiosk")["lang"],
        help="starting language, th or en (default %(default)s; the server's config overrides it)",
    )
    p.add_argument("--prefix", default="privcard", help="topic prefix (default %(default)s)")
    p.add_argument("--tz", default="Asia/Bangkok", help="library time zone for dates (default %(default)s)")
    p.add_argument("--hours", default="08:00-22:00", help="opening hours when the device config has none")
    p.add_argument("--idle-timeout", type=float, default=20.0, help="seconds without a touch before idle (default 20)")
    p.add_argument("--server-timeout", type=float, default=2.0, help="seconds to wait for an answer (default 2)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    return p


def configure_kivy(size: tuple[int, int], fullscreen: bool, verbose: bool) -> None:
    """Set Kivy's options; must run before the first ``import kivy.*`` that opens a window."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    os.environ.setdefault("KIVY_LOG_MODE", "MIXED")
    from kivy.config import Config

    here = os.path.dirname(os.path.abspath(__file__))
    regular = os.path.join(here, "fonts", "Loma.ttf")
    bold = os.path.join(here, "fonts", "Loma-Bold.ttf")
    Config.set("kivy", "default_font", repr(["Loma", regular, regular, bold, bold]))
    Config.set("kivy", "log_level", "debug" if verbose else "warning")
    Config.set("kivy", "exit_on_escape", "0" if fullscreen else "1")
    Config.set("graphics", "width", str(size[0]))
    Config.set("graphics", "height", str(size[1]))
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "borderless", "1" if fullscreen else "0")
    Config.set("graphics", "resizable", "0")
    # 30 fps is plenty for a kiosk and halves the cost of the attract animation
    Config.set("graphics", "maxfps", "30")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # Answers and taps arrive on other threads; the "interrupt" clock wakes the
    # sleeping main loop when they are scheduled instead of waiting for the next
    # 33 ms frame slot (measured: ~35 ms off tap→screen, docs/benchmarks-kiosk.md).
    Config.set("kivy", "kivy_clock", "interrupt")


def version() -> str:
    """The installed privcard version, or the source tree's."""
    try:
        from importlib.metadata import version as dist_version

        return dist_version("privcard")
    except Exception:
        return "0.1.0+src"


def main(argv: list[str] | None = None, *, on_start=()) -> int:
    """Entry point: ``privcard kiosk --device-id ID --mqtt URL --reader SPEC``.

    ``on_start``: callables given the running :class:`kiosk.app.KioskApp` once its bus
    and reader have started (``KioskOptions.on_start``), for a program that embeds the
    kiosk; the UI tests attach their control socket this way.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        check_device_id(args.device_id)
        from hardware.readers import ReaderError, parse_spec

        parse_spec(args.reader)
        from .bus import BusError, parse_url

        parse_url(args.mqtt)
        from zoneinfo import ZoneInfo

        ZoneInfo(args.tz)
    except (ContractError, ReaderError, BusError, ValueError, KeyError) as exc:
        print(f"privcard kiosk: {exc}", file=sys.stderr)
        return 2
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and not args.fullscreen:
        print(
            "privcard kiosk: no display (DISPLAY is not set). On a desktop run it there; on a Pi "
            "use --fullscreen on the console; headless: xvfb-run -a privcard kiosk ...",
            file=sys.stderr,
        )
        return 1

    configure_kivy(args.size, args.fullscreen, args.verbose)
    from .app import KioskApp, KioskOptions
    from .core import Timings
    from .present import parse_hours

    options = KioskOptions(
        device_id=args.device_id,
        mqtt=args.mqtt,
        reader=args.reader,
        lang=args.lang,
        size=args.size,
        fullscreen=args.fullscreen,
        prefix=args.prefix,
        tz=args.tz,
        hours=parse_hours(args.hours),
        timings=Timings(idle_timeout=args.idle_timeout, server_timeout=args.server_timeout),
        version=version(),
        on_start=tuple(on_start),
    )
    try:
        KioskApp(options).run()
    except Exception as exc:
        if args.verbose:
            raise
        print(f"privcard kiosk: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
