"""The Kivy app: screens from kv files, driven by :class:`kiosk.core.KioskCore`.

Threads: paho's network thread (answers, config) and the reader thread (taps)
never touch widgets; they hand their events to the main thread with
``Clock.schedule_once``. Everything else — the core, the screens, the bus
publishes — runs on Kivy's main thread.

Import this module only after :func:`kiosk.main.configure_kivy` has set the
window size and fonts (Kivy reads its config when the window is created).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import LabelBase
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager

from broker import settings as device_settings
from broker.contract import ContractError, normalise_uid

from . import core as C
from . import widgets  # noqa: F401  (registers the kv widget classes)
from .core import KioskCore, SendFeedback, SendQuery, Timings
from .i18n import pick, tr
from .present import (
    DEFAULT_HOURS,
    DEFAULT_TZ,
    history_rows,
    hours_today,
    idle_view,
    member_view,
    message_view,
    read_config,
    seconds_to_next_minute,
    write_view,
)

log = logging.getLogger("privcard.kiosk")

HERE = Path(__file__).resolve().parent
KV_DIR = HERE / "kv"
FONT_DIR = HERE / "fonts"
FONT_REGULAR = str(FONT_DIR / "Loma.ttf")
FONT_BOLD = str(FONT_DIR / "Loma-Bold.ttf")
#: kv files, one per screen, after the shared widget rules
KV_FILES = (
    "common.kv",
    "idle.kv",
    "loading.kv",
    "member.kv",
    "history.kv",
    "message.kv",
    "feedback.kv",
    "write.kv",
    "staff.kv",
    "root.kv",
)
MESSAGE_STATES = (C.UNKNOWN, C.BLOCKED, C.EXPIRED, C.UNAVAILABLE)

#: how often the core's timers run while it has any (``KioskCore.needs_tick``)
TICK_S = 0.2
#: main-loop rate while the idle screen shows (the configured ``maxfps``, 30, on
#: every other screen). Taps and answers wake the loop at once whatever the rate
#: (interrupt clock); only a finger on the idle screen (the TH/EN button) waits
#: for the next loop, at most 1/15 s. Each loop costs ~0.4 ms of CPU on the x86
#: test VM, more on a Pi (docs/benchmarks-kiosk.md).
IDLE_MAXFPS = 15.0
#: Kivy's clock_resolution. Kivy 2.3's interrupt clock skips its sleep when the
#: next timed callback is due within 1.8 × the resolution but runs it only within
#: 1 ×, so the main loop spins in between; with the default (1/(3·maxfps), 11 ms)
#: that was ~9 ms of busy looping before every timed callback (300+ loops/s on the
#: idle screen instead of 30). At 0.2 ms the loop sleeps until the callback is due.
CLOCK_RESOLUTION_S = 0.0002


def register_fonts() -> None:
    """Make Loma (Thai + Latin in one face) the font of every label."""
    LabelBase.register("Roboto", FONT_REGULAR, FONT_REGULAR, FONT_BOLD, FONT_BOLD)
    LabelBase.register("Loma", FONT_REGULAR, FONT_REGULAR, FONT_BOLD, FONT_BOLD)


@dataclass
class KioskOptions:
    """Everything ``privcard kiosk`` was started with."""

    device_id: str
    mqtt: str
    reader: str
    lang: str = "th"
    size: tuple = (800, 480)
    fullscreen: bool = False
    prefix: str = "privcard"
    timings: Timings = field(default_factory=Timings)
    library_name: dict | None = None
    hours: tuple = DEFAULT_HOURS
    tz: str = DEFAULT_TZ
    version: str = ""
    #: called with the app once it has started (after the bus and reader): the seam
    #: for an embedding program, e.g. the UI tests' control socket (tests/ui/kiosk_launcher.py);
    #: a hook that holds resources binds the app's ``on_stop`` event to release them
    on_start: tuple = ()


class KioskScreen(Screen):
    """A screen whose words and numbers come from a presenter's dict."""

    vm = DictProperty({}, rebind=True)


class IdleScreen(KioskScreen):
    """Attract loop: library name, prompt, hours, clock, waves."""

    def on_enter(self, *_):
        self.ids.waves.start()

    def on_leave(self, *_):
        self.ids.waves.stop()


class LoadingScreen(KioskScreen):
    """Shown between a tap and the server's answer (never the previous patron)."""


class MemberScreen(KioskScreen):
    """Card, balance, progress, privileges."""


class HistoryScreen(KioskScreen):
    """The last 20 ledger entries."""


class MessageScreen(KioskScreen):
    """Unknown card, blocked, expired, unavailable: a title, what to do, one button."""

    accent = StringProperty("info")


class FeedbackScreen(KioskScreen):
    """1–5 faces."""


class WriteScreen(KioskScreen):
    """Category buttons, the text typed so far, the Thai keyboard, send / cancel."""

    def on_enter(self, *_):
        # every patron starts on the Thai page, whatever the previous one left
        keyboard = self.ids.keyboard
        keyboard.have_capslock = False
        keyboard.layout = "th"


class StaffScreen(KioskScreen):
    """PIN pad, then device information and reader/server tests."""

    def on_kv_post(self, *_):
        # Keep both panels alive; only one is in the tree at a time, so the hidden
        # one can neither be seen nor swallow touches (disabled widgets do).
        # ids are weak proxies: keep the widgets themselves (__self__)
        self._panels = {False: self.ids.pin_panel.__self__, True: self.ids.info_panel.__self__}
        for panel in self._panels.values():
            panel.parent.remove_widget(panel)
        self._show(False)

    def on_vm(self, *_):
        if hasattr(self, "_panels"):
            self._show(bool(self.vm.get("unlocked")))

    def _show(self, unlocked: bool):
        body = self.ids.staff_body
        panel = self._panels[unlocked]
        if panel.parent is not body:
            body.clear_widgets()
            body.add_widget(panel)


class KioskRoot(BoxLayout):
    """Top bar (library, clock, language) over the screen manager."""


class KioskApp(App):
    """The kiosk application. ``lang`` and ``scale`` are bound from every kv file."""

    lang = StringProperty("th")
    #: 1.0 at 800×480; every size in kv is multiplied by it
    scale = NumericProperty(1.0)
    state = StringProperty(C.IDLE)
    clock_text = StringProperty("")
    library_text = StringProperty("")
    online = BooleanProperty(False)
    #: the Thai font's path (the on-screen keyboard draws its keys with it)
    font_regular = StringProperty(FONT_REGULAR)

    def __init__(self, options: KioskOptions, **kwargs):
        super().__init__(**kwargs)
        self.title = "privcard kiosk"
        self.options = options
        self.lang = options.lang
        self.library_name = options.library_name
        #: (opens, closes) on a day the server's week does not name (``--hours``)
        self.hours = options.hours
        #: the server's ``hours`` setting: {"mon": "08:00-22:00" | "closed", …}
        self.week_hours: dict | None = None
        self.tz = options.tz
        self.zone = ZoneInfo(options.tz)
        self.core = KioskCore(
            time.monotonic,
            timings=options.timings,
            lang=options.lang,
        )
        self.bus = None
        self.reader = None
        self._rendered = (None, None, None)
        self._tap_started: float | None = None
        self._tap_id = 0
        #: tap → member screen drawn, seconds (benchmark)
        self.latencies: deque = deque(maxlen=20000)
        self.breakdown: deque = deque(maxlen=20000)
        self.frames = 0
        self._tick_event = Clock.create_trigger(self._tick, TICK_S, interval=True)
        self._minute_event = None
        #: the status heartbeat's period (the ``heartbeat_s`` setting) and its clock event
        self.heartbeat_s = device_settings.defaults("kiosk")["heartbeat_s"]
        self._heartbeat_event = None
        self._minute_every_second = False
        self._active_maxfps = Clock._max_fps

    # ------------------------------------------------------------------ Kivy lifecycle

    def t(self, key: str, lang: str | None = None, **values) -> str:
        """Translate for kv: ``app.t('idle.prompt', app.lang)`` re-evaluates on toggle."""
        return tr(key, lang or self.lang, **values)

    def build(self):
        register_fonts()
        Clock.clock_resolution = CLOCK_RESOLUTION_S
        for name in KV_FILES:
            Builder.load_file(str(KV_DIR / name))
        self._rescale()
        Window.bind(size=lambda *_: self._rescale())
        root = KioskRoot()
        self.sm: ScreenManager = root.ids.sm
        self.sm.transition = NoTransition()
        self.screens = {
            C.IDLE: IdleScreen(name=C.IDLE),
            C.LOADING: LoadingScreen(name=C.LOADING),
            C.MEMBER: MemberScreen(name=C.MEMBER),
            C.HISTORY: HistoryScreen(name=C.HISTORY),
            C.FEEDBACK: FeedbackScreen(name=C.FEEDBACK),
            C.WRITE: WriteScreen(name=C.WRITE),
            C.STAFF: StaffScreen(name=C.STAFF),
        }
        for state, accent in zip(MESSAGE_STATES, ("info", "warn", "warn", "error"), strict=False):
            self.screens[state] = MessageScreen(name=state, accent=accent)
        for screen in self.screens.values():
            self.sm.add_widget(screen)
        self.sm.current = C.IDLE
        Window.bind(on_touch_down=self._any_touch, on_flip=self._flipped)
        if self.options.fullscreen:
            Window.show_cursor = False
        return root

    def on_start(self):
        self._minute()
        self._start_io()
        self._schedule_heartbeat(self.heartbeat_s)
        self.render(force=True)

    def on_stop(self):
        if self.reader is not None:
            self.reader.stop()
        if self.bus is not None:
            self.bus.stop()

    def _rescale(self):
        w, h = Window.size
        self.scale = max(0.75, min(w / 800.0, h / 480.0))

    # ------------------------------------------------------------------ I/O wiring

    def _start_io(self):
        from .bus import KioskBus
        from .reader import ReaderThread

        o = self.options
        self.bus = KioskBus(
            o.mqtt,
            o.device_id,
            prefix=o.prefix,
            version=o.version,
            on_answer=lambda payload: Clock.schedule_once(partial(self._answer, payload, time.perf_counter()), -1),
            on_config=lambda cfg: Clock.schedule_once(partial(self._config, cfg), 0),
            on_connection=lambda up: Clock.schedule_once(partial(self._connection, up), 0),
        )
        self.bus.start()
        self.reader = ReaderThread.from_spec(
            o.reader, self.card_read, on_change=lambda: Clock.schedule_once(self._reader_changed, 0)
        )
        self.reader.start()
        for hook in o.on_start:
            hook(self)

    def card_read(self, uid: str, technology: str, t_read: float, ndef: str | None = None) -> None:
        """Called on the reader thread (or an on_start hook's): hand the tap (and the card's SUN URL) to the UI thread."""
        Clock.schedule_once(partial(self._tap, uid, technology, t_read, ndef), -1)

    def _tap(self, uid, technology, t_read, ndef=None, *_):
        try:
            uid = normalise_uid(uid)  # the contract's, the one normaliser (readers only format)
        except ContractError as exc:
            log.warning("unreadable card UID ignored: %s", exc)
            return
        self._tap_started = t_read
        self._t_tap_main = time.perf_counter()
        self._tap_id += 1
        revision = self.core.revision
        self._run(self.core.tap(uid, technology, ndef))
        if self.core.revision == revision:  # the same tap again (repeat_s): nothing to time
            self._tap_started = None

    def _answer(self, payload, t_arrived=0.0, *_):
        self._t_arrived = t_arrived
        self._t_answer = time.perf_counter()
        self._run(self.core.answer_received(payload))

    def _config(self, cfg, *_):
        """Apply the retained config: the library's name and time zone, the week's hours, the language,
        the heartbeat's period, the same-card window (``repeat_s``) and the card reader.

        Read by :func:`kiosk.present.read_config` with ``broker.settings`` (the server's
        own definition); a bad value is logged with its key's path and the previous config stays.
        """
        try:
            new = read_config(cfg.settings)
        except (ContractError, ValueError) as exc:  # SettingError is a ContractError
            log.error("config revision %s REJECTED (%s); keeping the previous one", cfg.revision, exc)
            return
        if new["ignored"]:
            log.info(
                "config revision %s: settings this version does not know ignored: %s",
                cfg.revision,
                ", ".join(sorted(new["ignored"])),
            )
        self.library_name = new.get("library_name", self.library_name)
        if "tz" in new:
            self.tz, self.zone = new["tz"], ZoneInfo(new["tz"])
        self.week_hours = new.get("week_hours", self.week_hours)
        if "lang" in new and self.core.state == C.IDLE:
            self.core.set_lang(new["lang"])
        if "repeat_s" in new:
            self.core.timings.repeat_s = new["repeat_s"]
        if new.get("heartbeat_s", self.heartbeat_s) != self.heartbeat_s:
            self._schedule_heartbeat(new["heartbeat_s"])
        if self.reader is not None:  # switched on the reader thread, between two reads
            retry = cfg.revision != self._config_revision
            self.reader.want(new["reader"], retry=retry)
        self._config_revision = cfg.revision
        self.render(force=True)

    _config_revision = None

    def _schedule_heartbeat(self, period: float) -> None:
        """Send the status every ``period`` seconds from now on (the ``heartbeat_s`` setting)."""
        if self._heartbeat_event is not None:
            self._heartbeat_event.cancel()
            log.info("status heartbeat every %s s (was %s s)", period, self.heartbeat_s)
        self.heartbeat_s = period
        self._heartbeat_event = Clock.schedule_interval(self._heartbeat, period)

    def _reader_changed(self, *_):
        """The reader thread changed its reader, or could not: say so in the status and on the staff screen."""
        self._heartbeat()
        if self.core.state == C.STAFF:
            self.render(force=True)

    def _connection(self, up, *_):
        self.online = bool(up)
        if self.core.state == C.IDLE:
            self.render(force=True)

    def _heartbeat(self, *_):
        if self.bus is not None:
            reader = self.reader
            self.bus.publish_status(
                reader=reader.state if reader else None, error=reader.switch.status_error() if reader else None
            )

    def _run(self, effects) -> None:
        """Carry out the core's effects, then redraw if anything changed."""
        for effect in effects or ():
            if isinstance(effect, SendQuery):
                self.bus.query(effect.query_id, effect.uid, ndef=effect.ndef, pin=effect.pin)
            elif isinstance(effect, SendFeedback):
                self.bus.feedback(effect.feedback_id, effect.rating, effect.uid, effect.category, effect.text)
        self.render()

    # ------------------------------------------------------------------ UI events

    def _any_touch(self, window, touch):
        self.core.touch()
        return False

    def _tick(self, *_):
        self._run(self.core.tick())

    def _minute(self, *_):
        """Show the time; runs again when the displayed minute changes."""
        now = datetime.now(self.zone)
        text = f"{now:%H:%M}"
        if text != self.clock_text:
            self.clock_text = text
            if self.core.state == C.IDLE:
                self.render(force=True)
        if self.core.state == C.STAFF:
            self.render(force=True)  # "answered 3 s ago" keeps counting
        self._schedule_minute(now)

    def _schedule_minute(self, now: datetime | None = None) -> None:
        """Run :meth:`_minute` at the next whole minute, or in 1 s on the staff screen."""
        every_second = self.core.state == C.STAFF
        if every_second:
            delay = 1.0
        else:
            # a little after the minute turns; a wall-clock step (NTP on a Pi
            # without a real-time clock) is caught at the next call
            delay = seconds_to_next_minute(now or datetime.now(self.zone)) + 0.05
        if self._minute_event is not None:
            self._minute_event.cancel()
        self._minute_every_second = every_second
        self._minute_event = Clock.schedule_once(self._minute, delay)

    def _timers(self) -> None:
        """Wake the main loop only as often as the screen needs.

        The idle screen has no core timer (no 0.2 s tick), redraws its clock once a
        minute and polls input at ``IDLE_MAXFPS``; every other screen ticks the
        core every 0.2 s at the configured frame rate.
        """
        core = self.core
        if core.needs_tick:
            if not self._tick_event.is_triggered:
                self._tick_event()
        elif self._tick_event.is_triggered:
            self._tick_event.cancel()
        if (core.state == C.STAFF) != self._minute_every_second:
            self._schedule_minute()
        Clock._max_fps = IDLE_MAXFPS if core.state == C.IDLE else self._active_maxfps

    def toggle_lang(self):
        """The TH/EN button."""
        self.core.toggle_lang()
        self.render()

    def press(self, action: str, arg=None):
        """Buttons in kv call ``app.press('history')`` etc.; the core decides."""
        core = self.core
        effects = []
        if action == "history":
            core.show_history()
        elif action == "back":
            core.back()
        elif action == "done":
            core.done()
        elif action == "rate":
            effects = core.rate(int(arg))
        elif action == "skip":
            core.skip_feedback()
        elif action == "write":
            core.open_write()
        elif action == "category":
            core.choose_category(str(arg))
        elif action == "send":
            effects = core.send_written()
        elif action == "cancel_write":
            core.cancel_write()
        elif action == "staff":
            core.open_staff()
        elif action == "pin":
            core.pin_digit(str(arg))
        elif action == "pin_clear":
            core.pin_clear()
        elif action == "pin_ok":
            effects = core.pin_submit()
        elif action == "reader_test":
            core.toggle_reader_test()
        elif action == "test_server":
            effects = core.test_server()
        elif action == "exit":
            core.back() if core.state != C.STAFF else core._go_idle()
        self._run(effects)

    def keyboard_text(self, text: str) -> None:
        """A character key of the on-screen keyboard (its text)."""
        self.core.type_text(text)
        self.render()

    def keyboard_key(self, keycode, text) -> None:
        """A key the keyboard sends as a key press: backspace, or text on windows without text input."""
        if keycode == "backspace":
            self.core.backspace()
        elif keycode in ("capslock", "shift", "layout", "special"):
            return
        elif text:
            self.core.type_text(text)
        self.render()

    # ------------------------------------------------------------------ drawing

    def render(self, force: bool = False) -> None:
        """Show the core's state: pick the screen, fill its view model."""
        core = self.core
        self._timers()
        key = (core.revision, core.lang, core.state)
        if key == self._rendered and not force:
            return
        self._rendered = key
        self.lang = core.lang
        self.library_text = pick(self.library_name, core.lang) if self.library_name else tr("library_name", core.lang)
        state = core.state
        screen = self.screens[state]
        try:
            screen.vm = self.view_for(state)
        except Exception:  # a presenter bug must show a screen, not kill the kiosk
            log.exception("could not present state %s", state)
            state, screen = C.UNAVAILABLE, self.screens[C.UNAVAILABLE]
            screen.vm = message_view(C.UNAVAILABLE, "bad_answer", None, core.lang)
        self.state = state
        if self.sm.current != state:
            self.sm.current = state
        if state == C.MEMBER and self._tap_started is not None:
            self._await_flip = self._tap_started
            self._t_rendered = time.perf_counter()
            self._tap_started = None

    _await_flip = None

    def _flipped(self, *_):
        self.frames += 1
        if self._await_flip is not None:
            started, self._await_flip = self._await_flip, None
            drawn = time.perf_counter()
            # on_flip handlers run just before the buffer swap; the next clock
            # callback runs after it, when the frame is on the display.
            Clock.schedule_once(partial(self._shown, started, drawn), 0)

    def _shown(self, started, drawn, *_):
        now = time.perf_counter()
        self.latencies.append(now - started)
        # where the time went (benchmark): read→UI thread, query→answer arrived,
        # answer→UI thread, →screen filled, →frame drawn, →swapped
        self.breakdown.append(
            (
                self._t_tap_main - started,
                self._t_arrived - self._t_tap_main,
                self._t_answer - self._t_arrived,
                self._t_rendered - self._t_answer,
                drawn - self._t_rendered,
                now - drawn,
            )
        )

    _t_answer = _t_rendered = _t_arrived = _t_tap_main = 0.0

    def view_for(self, state: str) -> dict:
        """The presenter output for one screen in the current language."""
        core, lang = self.core, self.core.lang
        if state == C.IDLE:
            now = datetime.now(self.zone)
            view = idle_view(now, lang, hours_today(self.week_hours, now.date(), self.hours), self.library_name)
            view["offline"] = tr("idle.offline", lang) if (not self.online or core.health.down) else ""
            return view
        if state == C.MEMBER:
            return member_view(core.answer, lang)
        if state == C.HISTORY:
            view = member_view(core.answer, lang)
            view["rows"] = history_rows(core.answer, lang, self.tz)
            view["empty"] = "" if view["rows"] else tr("history.empty", lang)
            return view
        if state in MESSAGE_STATES:
            reason = core.session.reason if core.session else None
            return message_view(state, reason, core.answer, lang)
        if state == C.FEEDBACK:
            s = core.session
            return {"thanks": bool(s and s.rated), "written": bool(s and s.written)}
        if state == C.WRITE:
            return write_view(core.session, lang)
        if state == C.STAFF:
            return self.staff_view()
        return {}

    def _pin_line(self, lang: str) -> str:
        """The line under the PIN field; a lock-out counts its minutes down."""
        s = self.core.session
        if s is None or not s.pin_error:
            return ""
        if s.pin_error == "staff.pin_locked":
            return tr("staff.pin_locked", lang, minutes=max(1, self.core.pin_locked_minutes))
        return tr(s.pin_error, lang, **s.pin_error_args)

    def staff_view(self) -> dict:
        """Device information for the staff screen."""
        core, lang = self.core, self.core.lang
        s = core.session
        view = {
            "unlocked": bool(s and s.staff_unlocked),
            "pin_mask": "•" * len(s.pin) if s else "",  # U+2022: Loma has it (U+25CF it has not)
            "error": self._pin_line(lang),
            "name": s.member.get("name", "") if s else "",
            "reader_test": bool(s and s.reader_test),
        }
        h = core.health
        if h.down:
            server = tr("staff.server_down", lang)
        elif h.last_answer_at is not None and h.last_rtt_ms is not None:
            ago = tr("staff.ago", lang, s=int(time.monotonic() - h.last_answer_at))
            server = tr("staff.server_ok", lang, ms=f"{h.last_rtt_ms:.0f}", ago=ago)
        else:
            server = tr("staff.server_unknown", lang)
        bus = self.bus
        broker = f"{bus.host}:{bus.port} · " if bus else ""
        broker += tr("staff.connected" if bus and bus.connected else "staff.disconnected", lang)
        rd = self.reader
        reader = f"{rd.spec} · {rd.state}" if rd else f"{self.options.reader} · —"
        if rd is not None and rd.failed is not None:
            bad = rd.failed[0] if len(rd.failed[0]) <= 24 else rd.failed[0][:23] + "…"
            reader += " · " + tr("staff.reader_failed", lang, spec=bad)
        view["info"] = [
            (tr("staff.device", lang), self.options.device_id),
            (tr("staff.broker", lang), broker),
            (tr("staff.server", lang), server),
            (tr("staff.reader", lang), reader),
            (tr("staff.version", lang), self.options.version or "—"),
        ]
        read = s.reader_read if s else None
        if view["reader_test"]:
            if read:
                when = datetime.now(self.zone).strftime("%H:%M:%S")
                view["reader_result"] = tr("staff.reader_got", lang, uid=read[0], tech=read[1] or "?", time=when)
            else:
                view["reader_result"] = tr("staff.reader_wait", lang)
        else:
            view["reader_result"] = ""
        return view
