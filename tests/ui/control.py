"""A control socket for UI tests and the benchmark, attached by :mod:`tests.ui.kiosk_launcher`.

JSON lines over TCP on 127.0.0.1: each request is run on Kivy's main thread
after the next frame has been drawn, and answered with one JSON line. Taps go
through :meth:`KioskApp.card_read`, the same path the reader thread uses;
presses are simulated touches dispatched through the window like a finger's.

Test code: the product kiosk never imports it. The launcher hands
:func:`attach` to ``kiosk.main.main(on_start=…)``; it listens on loopback only.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
import time

from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label


class SimTouch(MotionEvent):
    """A finger at window coordinates (x, y), as kivy.tests' UnitTestTouch."""

    def __init__(self, x, y):
        win = EventLoop.window
        super().__init__(
            "SimTouch", 77, {"x": x / (win.width - 1.0), "y": y / (win.height - 1.0)}, is_touch=True, type_id="touch"
        )
        self.profile = ["pos"]

    def depack(self, args):
        self.sx, self.sy = args["x"], args["y"]
        super().depack(args)


def _visible(widget) -> bool:
    w = widget
    while w is not None and w is not Window:
        if getattr(w, "opacity", 1) <= 0.01 or w.width < 1 or w.height < 1:
            return False
        w = w.parent
    return w is Window  # detached widgets are not on screen


def _walk(widget):
    yield widget
    for child in widget.children:
        yield from _walk(child)


class ControlServer:
    """Serve control commands for one app on 127.0.0.1:port (0 = any free port)."""

    def __init__(self, app, port: int):
        self.app = app
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:
                    try:
                        request = json.loads(line)
                        reply = outer.call(request)
                    except Exception as exc:  # report, keep serving
                        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                    self.wfile.write((json.dumps(reply, ensure_ascii=False) + "\n").encode())
                    self.wfile.flush()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]

    def start(self):
        threading.Thread(target=self.server.serve_forever, name="kiosk-control", daemon=True).start()
        print(f"privcard-kiosk-control {self.port}", flush=True)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ dispatch

    def call(self, request: dict) -> dict:
        cmd = request.get("cmd")
        if cmd == "tap":  # from this (non-UI) thread, exactly like the reader thread
            self.app.card_read(
                request["uid"], request.get("tech", "iso14443a"), time.perf_counter(), request.get("ndef")
            )
            return {"ok": True}
        handler = getattr(self, f"cmd_{cmd}", None)
        if handler is None:
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        return self._on_main(handler, request, frames=int(request.get("frames", 1)))

    def _on_main(self, fn, request, frames=1, timeout=15.0) -> dict:
        """Run fn(request) on the main thread just before the frame after next is shown."""
        done = threading.Event()
        box: dict = {}
        left = [max(1, frames)]

        def on_flip(*_):
            left[0] -= 1
            if left[0] > 0:
                Window.canvas.ask_update()
                return
            Window.unbind(on_flip=on_flip)
            try:
                box["reply"] = fn(request)
            except Exception as exc:
                box["reply"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            done.set()

        def arm(*_):
            Window.bind(on_flip=on_flip)
            Window.canvas.ask_update()

        Clock.schedule_once(arm, 0)
        if not done.wait(timeout):
            return {"ok": False, "error": "UI thread did not draw a frame in time (frozen?)"}
        return box["reply"]

    # ------------------------------------------------------------------ commands

    def _screen(self):
        return self.app.sm.current_screen

    def _find(self, wid: str):
        screen = self._screen()
        for ids in (screen.ids, self.app.root.ids):
            if wid in ids:
                return ids[wid]
        for widget in _walk(screen):  # ids inside nested kv rules (e.g. a FaceChoice's face)
            if wid in getattr(widget, "ids", {}):
                return widget.ids[wid]
        raise KeyError(f"no widget with id {wid!r} on screen {screen.name!r}")

    def cmd_ping(self, request):
        return {"ok": True, "frames": self.app.frames}

    def cmd_state(self, request):
        core = self.app.core
        return {
            "ok": True,
            "state": core.state,
            "screen": self.app.sm.current,
            "lang": core.lang,
            "online": self.app.online,
            "server_down": core.health.down,
            "size": list(Window.size),
        }

    def cmd_texts(self, request):
        """Visible texts of the current screen and top bar, and texts by kv id."""
        screen = self._screen()
        texts = []
        for root in (self.app.root.ids.topbar, screen):
            for widget in _walk(root):
                if isinstance(widget, Label) and widget.text and _visible(widget):
                    texts.append(widget.text)
        by_id, dead = {}, []
        for ids in (self.app.root.ids, screen.ids):
            for key, widget in ids.items():
                try:
                    if isinstance(widget, Label):
                        by_id[key] = widget.text if _visible(widget) else None
                except ReferenceError:  # a kv id whose widget was dropped from the tree
                    dead.append(key)
        extra = {"dead_ids": dead} if dead else {}
        if screen.name == "history":
            extra["rows"] = list(screen.vm.get("rows", []))
        if screen.name == "member":
            extra["tier"] = screen.ids.card.tier
            extra["progress"] = screen.vm.get("progress")
        return {
            "ok": True,
            "screen": screen.name,
            "lang": self.app.core.lang,
            "texts": texts[::-1],
            "ids": by_id,
            **extra,
        }

    def cmd_press(self, request):
        """Touch the centre of the widget with kv id ``id`` (must be visible and enabled)."""
        widget = self._find(request["id"])
        if widget.disabled or not _visible(widget):
            return {"ok": False, "error": f"{request['id']} is not visible/enabled"}
        x, y = widget.to_window(*widget.center)
        touch = SimTouch(x, y)
        EventLoop.post_dispatch_input("begin", touch)
        EventLoop.post_dispatch_input("end", touch)
        return {"ok": True, "at": [x, y]}

    def cmd_vkey(self, request):
        """Touch one key of the on-screen keyboard (kv id ``id``, default ``keyboard``) on the page it shows now.

        ``key`` is the key's face (``ก``, ``⇧``), the text it types, or its key code
        (``backspace``, ``capslock``, ``layout``, ``spacebar``). A key that is not on the
        current page (the shifted one, or the other language) is an error: the caller
        presses ``capslock`` or ``layout`` first, as a patron would.
        """
        kb = self._find(request.get("id", "keyboard"))
        if kb.disabled or not _visible(kb):
            return {"ok": False, "error": "the keyboard is not visible/enabled"}
        layout = kb.available_layouts[kb.layout]
        want = request["key"]
        for line in range(1, layout["rows"] + 1):
            for index, (face, text, code, _w) in enumerate(layout[f"{kb.layout_mode}_{line}"]):
                if want in (face, text, code):
                    (x, y), (w, h) = kb.layout_geometry[f"LINE_{line}"][index]
                    wx, wy = kb.to_window(x + w / 2, y + h / 2, initial=False)
                    on = {"layout": kb.layout, "page": kb.layout_mode}  # where the key was
                    touch = SimTouch(wx, wy)
                    EventLoop.post_dispatch_input("begin", touch)
                    EventLoop.post_dispatch_input("end", touch)
                    return {"ok": True, **on, "at": [wx, wy]}
        return {"ok": False, "error": f"key {want!r} is not on the {kb.layout} keyboard's {kb.layout_mode} page"}

    def cmd_screenshot(self, request):
        """Save what the window shows now as PNG at ``path``."""
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels

        path = os.path.abspath(request["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        width, height = Window.size
        data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
        Window._win.save_bytes_in_png(path, data, width, height)
        return {"ok": True, "path": path}

    def cmd_layout(self, request):
        """Layout problems on the current screen: clipped labels, small touch targets, off-window."""
        screen = self._screen()
        problems = []
        win_w, win_h = Window.size
        for root in (self.app.root.ids.topbar, screen):
            for widget in _walk(root):
                if not _visible(widget) or widget.disabled:
                    continue
                x, y = widget.to_window(widget.x, widget.y)
                if x < -1 or y < -1 or x + widget.width > win_w + 1 or y + widget.height > win_h + 1:
                    if not _inside_scroll(widget):
                        problems.append(f"off-window: {_describe(widget)}")
                if isinstance(widget, ButtonBehavior) and min(widget.width, widget.height) < 48:
                    problems.append(f"touch target under 48 px: {_describe(widget)} {widget.size}")
                if isinstance(widget, Label) and widget.text:
                    tw, th = widget.texture_size
                    if th > widget.height + 2 and not _inside_scroll(widget):
                        problems.append(f"clipped vertically: {_describe(widget)} text {th}px in {widget.height:.0f}px")
                    if tw > widget.width + 2 and not widget.shorten:
                        problems.append(
                            f"clipped horizontally: {_describe(widget)} text {tw}px in {widget.width:.0f}px"
                        )
                    if widget.shorten and widget.text_size[0] and _shortened(widget):
                        problems.append(f"shortened: {_describe(widget)}")
        return {"ok": True, "problems": problems}

    def cmd_metrics(self, request):
        """Tap→drawn latencies (s), resident memory (bytes), CPU seconds, frames drawn."""
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        times = os.times()
        lat = list(self.app.latencies)
        parts = [list(b) for b in self.app.breakdown]
        if request.get("reset"):
            self.app.latencies.clear()
            self.app.breakdown.clear()
        return {
            "ok": True,
            "latencies": lat,
            "breakdown": parts,
            "rss": rss,
            "cpu": times.user + times.system,
            "frames": self.app.frames,
            "monotonic": time.monotonic(),
        }

    def cmd_clock(self, request):
        """Kivy's clock: main-loop iterations so far, and the callbacks scheduled right now."""
        events = []
        for event in Clock.get_events():
            callback = event.get_callback()
            if callback is None:
                continue
            func = getattr(callback, "func", callback)  # functools.partial
            name = getattr(func, "__qualname__", None) or repr(func)
            events.append({"callback": name, "timeout": event.timeout, "repeat": bool(event.loop)})
        return {
            "ok": True,
            "iterations": Clock.frames,
            "frames_drawn": self.app.frames,
            "max_fps": Clock._max_fps,
            "monotonic": time.monotonic(),
            "events": events,
        }

    def cmd_clock_shift(self, request):
        """Move the kiosk app's wall clock so that it reads ``second`` seconds past a minute now
        (``second`` None: back to the real clock); the app then shows the time and schedules its
        next minute itself, as it does at start-up. Replies with the shifted time (epoch seconds).

        For the idle clock's test: the next minute turns in a few seconds instead of up to a
        minute. Only :mod:`kiosk.app`'s ``datetime`` moves (what the clock, the idle view and the
        minute's schedule read); Kivy's clock runs on monotonic time, unchanged.
        """
        from datetime import timedelta

        import kiosk.app as kiosk_app

        real = getattr(kiosk_app, "_real_datetime", None) or kiosk_app.datetime
        kiosk_app._real_datetime = real
        second = request.get("second")
        if second is None:
            kiosk_app.datetime, shift = real, timedelta(0)
        else:
            now = real.now(self.app.zone)
            shift = timedelta(seconds=(float(second) - now.second - now.microsecond / 1e6) % 60)

            class Shifted(real):
                @classmethod
                def now(cls, tz=None):
                    return real.now(tz) + shift

            kiosk_app.datetime = Shifted
        self.app._minute()
        return {"ok": True, "epoch": time.time() + shift.total_seconds()}

    def cmd_vm(self, request):
        """The current screen's view model (what the presenter produced)."""
        return {"ok": True, "screen": self._screen().name, "vm": _jsonable(dict(self._screen().vm))}

    def cmd_gc(self, request):
        import gc

        gc.collect()
        return {"ok": True}

    def cmd_quit(self, request):
        Clock.schedule_once(lambda *_: self.app.stop(), 0)
        return {"ok": True}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _inside_scroll(widget) -> bool:
    from kivy.uix.scrollview import ScrollView

    w = widget.parent
    while w is not None and w is not w.parent:
        if isinstance(w, ScrollView):
            return True
        w = w.parent
    return False


def _shortened(label) -> bool:
    """True when a shorten=True label had to cut its text (an ellipsis was drawn)."""
    from kivy.core.text import Label as CoreLabel
    from kivy.core.text.markup import MarkupLabel

    core = (MarkupLabel if label.markup else CoreLabel)(
        text=label.text, font_size=label.font_size, font_name=label.font_name, bold=label.bold
    )
    core.refresh()
    return core.texture.size[0] > label.text_size[0] + 2


def _describe(widget) -> str:
    text = getattr(widget, "text", "")
    ident = next((k for k, v in getattr(_owner(widget), "ids", {}).items() if v is widget), None)
    return f"{type(widget).__name__}{'#' + ident if ident else ''}{(' ' + repr(text[:40])) if text else ''}"


def _owner(widget):
    w = widget
    while w is not None and w.parent is not None and w is not w.parent:
        w = w.parent
        if getattr(w, "ids", None) and widget in w.ids.values():
            return w
    return None


__all__ = ["ControlServer", "SimTouch", "attach"]


def attach(port: int):
    """An on-start hook for ``kiosk.main.main``: serve control commands for the app on ``port``."""

    def hook(app) -> None:
        server = ControlServer(app, port)
        server.start()
        app.bind(on_stop=lambda *_: server.stop())

    return hook
