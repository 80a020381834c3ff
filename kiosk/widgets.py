"""Kiosk widgets drawn with Kivy graphics: the tier card, rating faces, NFC waves.

Layout lives in ``kiosk/kv/common.kv``; these classes hold only the properties and
the bits of geometry that kv expressions cannot compute neatly.
"""

from __future__ import annotations

from pathlib import Path

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.vkeyboard import VKeyboard
from kivy.uix.widget import Widget

#: (top colour, bottom colour, text colour) of the drawn card per tier
TIER_COLOURS = {
    "gold": ((0.99, 0.87, 0.47), (0.74, 0.53, 0.13), (0.25, 0.16, 0.02, 1)),
    "silver": ((0.92, 0.93, 0.95), (0.58, 0.61, 0.66), (0.12, 0.14, 0.18, 1)),
    "unknown": ((0.62, 0.70, 0.80), (0.33, 0.41, 0.52), (1, 1, 1, 1)),
}

_gradients: dict = {}


def gradient(top, bottom, steps: int = 64) -> Texture:
    """A vertical gradient texture (cached): ``top`` at the top when drawn."""
    key = (top, bottom)
    if key not in _gradients:
        buf = bytearray()
        for i in range(steps):
            f = i / (steps - 1)  # row 0 is drawn at the top of a RoundedRectangle
            buf += bytes(int(255 * (t + (b - t) * f)) for t, b in zip(top, bottom, strict=False)) + b"\xff"
        tex = Texture.create(size=(1, steps), colorfmt="rgba")
        tex.blit_buffer(bytes(buf), colorfmt="rgba", bufferfmt="ubyte")
        tex.wrap = "clamp_to_edge"
        _gradients[key] = tex
    return _gradients[key]


class KButton(Button):
    """A flat rounded button; ``bg`` is its colour (kv draws it)."""

    bg = ListProperty([0.04, 0.35, 0.52, 1])


class Panel(BoxLayout):
    """A rounded box filled with ``fill``."""

    fill = ListProperty([1, 1, 1, 1])


class TierCard(Widget):
    """A privilege card drawn in the member's tier colours (silver, gold or neutral)."""

    tier = StringProperty("unknown")
    texture = ListProperty([None])
    text_color = ListProperty([1, 1, 1, 1])

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(tier=self._paint)
        self._paint()

    def _paint(self, *_):
        top, bottom, text = TIER_COLOURS.get(self.tier, TIER_COLOURS["unknown"])
        self.texture = [gradient(top, bottom)]
        self.text_color = list(text)


class Face(ButtonBehavior, Widget):
    """A round rating face, 1 (frown, red) to 5 (big smile, green)."""

    rating = NumericProperty(3)
    mouth = ListProperty([])
    fill = ListProperty([1, 1, 1, 1])

    COLOURS = {
        1: (0.86, 0.27, 0.24),
        2: (0.95, 0.55, 0.2),
        3: (0.96, 0.78, 0.2),
        4: (0.55, 0.78, 0.3),
        5: (0.2, 0.68, 0.35),
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bind(pos=self._geometry, size=self._geometry, rating=self._geometry)
        self._geometry()

    def _geometry(self, *_):
        r = min(self.width, self.height) / 2.0
        cx, cy = self.center
        curve = (self.rating - 3) / 2.0  # -1 frown … +1 smile
        half = max(r * 0.45, 1e-3)
        base = cy - r * 0.3
        points = []
        for i in range(17):
            x = -half + 2 * half * i / 16
            # smile: the middle dips below the ends; frown: the reverse
            y = base - curve * r * 0.28 * (1 - (x / half) ** 2)
            points += [cx + x, y]
        self.mouth = points
        self.fill = [*self.COLOURS.get(int(self.rating), (0.7, 0.7, 0.7)), 1]


class Waves(Widget):
    """Contactless 'tap here' waves that light up one arc at a time.

    Stepped, not tweened: three steps of 0.45 s, then a 4 s rest. An idle kiosk
    redraws a handful of frames per cycle instead of 30 per second, which keeps
    its CPU use low (docs/benchmarks-kiosk.md, idle CPU).
    """

    phase = NumericProperty(0.0)
    active = BooleanProperty(False)
    arcs = ListProperty([0.25, 0.25, 0.25])

    STEP_S = 0.45
    REST_S = 4.0
    DIM, LIT = 0.25, 1.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._step = 0

    def start(self, *_):
        """Start the cycle (idle screen shown)."""
        if not self.active:
            self.active = True
            self._step = 0
            Clock.schedule_once(self._advance, self.STEP_S)

    def _advance(self, *_):
        if not self.active:
            return
        self._step = (self._step + 1) % 4  # 1..3 light arcs in turn, 0 rests
        self.arcs = [self.LIT if i < self._step else self.DIM for i in range(3)]
        Clock.schedule_once(self._advance, self.REST_S if self._step == 0 else self.STEP_S)

    def stop(self):
        """Stop (any other screen)."""
        self.active = False
        Clock.unschedule(self._advance)
        self.arcs = [self.DIM] * 3


KEYBOARDS = Path(__file__).resolve().parent / "keyboards"


class ThaiKeyboard(VKeyboard):
    """Kivy's on-screen keyboard fixed in place, with the Thai Kedmanee layout (``keyboards/th.json``).

    Its ``layout`` key (ABC / ไทย) switches between ``th`` and ``en``; its shift key is
    Kivy's ``capslock`` (a toggle: a touchscreen has one finger for shift and the key).
    The app listens to ``on_textinput`` and ``on_key_down`` (backspace).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("layout_path", str(KEYBOARDS))
        kwargs.setdefault("layout", "th")
        kwargs.setdefault("do_rotation", False)
        kwargs.setdefault("do_scale", False)
        kwargs.setdefault("do_translation", False)
        kwargs.setdefault("size_hint", (1, None))
        super().__init__(**kwargs)
        # Kivy's keyboard lays its keys out for the size it has when its layout loads and
        # never again; in a layout its size arrives later (and on every window resize)
        self._relayout = Clock.create_trigger(lambda *_: self.refresh(True))
        self.bind(size=lambda *_: self._relayout())

    def change_layout(self):
        """The ABC / ไทย key: Thai ⇄ English, back to the unshifted page."""
        self.have_capslock = False
        self.layout = "en" if self.layout == "th" else "th"
