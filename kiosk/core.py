"""The kiosk's state machine: what the patron sees and when, with no Kivy import.

The Kivy app (``kiosk.app``) feeds it events — card taps, server answers, touches,
clock ticks, button presses — and draws whatever :attr:`KioskCore.state` says.
The core never does I/O: calls that must reach the bus come back as effects
(:class:`SendQuery`, :class:`SendFeedback`) for the app to carry out. Time comes
from an injected monotonic ``clock`` so tests run timeouts with a fake clock.

States::

    idle ──tap──> loading ──answer──> member ⇄ history
                     │                  │ └─done──> feedback ──> idle
                     │                  │              └─write──> write ──send──> feedback (thanks)
                     │                  └─staff card──> staff (PIN pad)
                     ├──answer──> unknown | blocked | expired
                     └──2 s, no answer──> unavailable (retries in the background;
                                          a late answer still shows the screen)
    any screen ──20 s without a touch──> idle;  any screen ──new tap──> loading

A new tap always starts a fresh :class:`Session`: the previous patron's answer is
dropped at once, and answers to the previous patron's queries are ignored. A read of
the card whose session is showing, within ``repeat_s`` seconds of its previous read
(the ``repeat_s`` device setting, as on the gates), is the same tap, ignored: a card
held on the reader, or tapped twice, asks the server once and leaves the patron on the
screen they are reading. Each such read extends the window, as a card resting on a
gate's reader does. Once the session has ended (back to idle) or another card has been
read, the card is a new tap at once: nobody is left looking at someone else's screen.

The staff screen's PIN pad is checked by the server, never here (the kiosk holds no
PIN nor hash)::

    pin ──OK──> checking ──staff_unlocked──> unlocked (device information)
     ▲             ├──pin_wrong──> pin ("wrong PIN, N tries left")
     │             ├──pin_locked──> locked ("try again in N min": OK does not send)
     └─────────────┴──no verdict in 2 s──> pin ("server unreachable"; never unlocks offline)

The PIN travels once, in a ``SendQuery`` with ``pin``; it is never resent (each is a
guess the server counts) and cleared from the session as soon as it is sent.
"""

from __future__ import annotations

import itertools
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from broker import settings as device_settings
from broker.contract import FEEDBACK_CATEGORIES, MAX_FEEDBACK_TEXT, Answer, ContractError, check_feedback_text

from .i18n import LANGS, other_lang

IDLE = "idle"
LOADING = "loading"
MEMBER = "member"
HISTORY = "history"
UNKNOWN = "unknown"
BLOCKED = "blocked"
EXPIRED = "expired"
UNAVAILABLE = "unavailable"
FEEDBACK = "feedback"
#: the patron writes to the library: a category and a short text on the Thai keyboard
WRITE = "write"
STAFF = "staff"
STATES = (IDLE, LOADING, MEMBER, HISTORY, UNKNOWN, BLOCKED, EXPIRED, UNAVAILABLE, FEEDBACK, WRITE, STAFF)
#: the staff screen's steps (:attr:`KioskCore.staff_step`)
PIN_ENTRY, PIN_CHECKING, PIN_LOCKED, STAFF_UNLOCKED = "pin", "checking", "locked", "unlocked"
#: a PIN is 4-8 digits (the contract refuses anything else)
PIN_MIN, PIN_MAX = 4, 8

_OUTCOME_STATE = {
    "member": MEMBER,
    "unknown_card": UNKNOWN,
    "invalid": UNKNOWN,
    "card_not_genuine": UNKNOWN,  # a secured card without a valid SUN URL: "please ask at the counter"
    "card_blocked": BLOCKED,
    "expired": EXPIRED,
}


@dataclass(frozen=True)
class SendQuery:
    """Effect: publish a ``Query`` for ``uid`` with ``query_id`` (with ``pin``: a staff unlock)."""

    query_id: str
    uid: str
    probe: bool = False
    #: the card's NDEF URI as read (a SUN URL): sent with the query, and with its retries
    ndef: str | None = None
    pin: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SendFeedback:
    """Effect: publish a ``Feedback``: a rating (1–5) for the visit of ``uid``, or a written message."""

    feedback_id: str
    rating: int | None
    uid: str | None
    category: str | None = None
    text: str | None = None


@dataclass
class Timings:
    """The kiosk's timeouts in seconds (defaults from the issue)."""

    idle_timeout: float = 20.0
    server_timeout: float = 2.0
    retry_every: float = 3.0
    thanks_for: float = 3.0
    #: typing on a touchscreen is slow: the write screen waits longer for the next touch
    write_idle_timeout: float = 90.0
    #: the same card read again within this many seconds is the same tap (the ``repeat_s``
    #: setting; its default is broker.settings', the retained config changes it live)
    repeat_s: float = device_settings.defaults("kiosk")["repeat_s"]


@dataclass
class Session:
    """Everything about the patron at the kiosk now; replaced whole on a new tap."""

    uid: str
    technology: str | None = None
    answer: Answer | None = None
    #: why the unknown/unavailable screen shows: "invalid", "timeout", "bad_answer"
    reason: str | None = None
    rated: bool = False
    thanks_until: float | None = None
    #: the write screen: the chosen category, the text typed so far, an i18n key for what is missing
    category: str | None = None
    draft: str = ""
    write_error: str | None = None
    written: bool = False
    pin: str = ""
    #: an i18n key and its values for the line under the PIN field
    pin_error: str | None = None
    pin_error_args: dict = field(default_factory=dict)
    #: the PIN query awaiting the server's verdict, and when it was sent
    pin_query: str | None = None
    pin_sent: float = 0.0
    #: the server said locked out until then (this kiosk's monotonic clock)
    pin_locked_until: float | None = None
    staff_unlocked: bool = False
    reader_test: bool = False
    reader_read: tuple | None = None  # (uid, technology, monotonic time)

    @property
    def member(self) -> dict:
        """The answer's member object, or an empty dict."""
        if self.answer is not None and isinstance(self.answer.member, dict):
            return self.answer.member
        return {}


@dataclass
class Pending:
    """Queries in flight for one session (first attempt plus background retries)."""

    uid: str
    query_ids: list
    first_sent: float
    last_sent: float
    probe: bool = False
    ndef: str | None = None


@dataclass
class ServerHealth:
    """What the kiosk knows about the server from its answers."""

    last_answer_at: float | None = None
    last_rtt_ms: float | None = None
    down: bool = False


class KioskCore:
    """The kiosk's screens and timers as a plain object; see the module docstring."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        timings: Timings | None = None,
        lang: str = "th",
        id_prefix: str | None = None,
    ):
        self.clock = clock
        self.timings = timings or Timings()
        self.lang = lang if lang in LANGS else LANGS[0]
        self.state = IDLE
        self.session: Session | None = None
        self.pending: Pending | None = None
        self.health = ServerHealth()
        self.last_activity = clock()
        #: (uid, technology, monotonic time) of the last card read, for the staff screen
        self.last_read: tuple | None = None
        #: reads ignored as the same tap (``Timings.repeat_s``)
        self.debounced = 0
        self._prefix = id_prefix or secrets.token_hex(3)
        self._seq = itertools.count(1)
        #: bumped on every change the screen must show; the app redraws when it moves
        self.revision = 0

    # ------------------------------------------------------------------ helpers

    def _new_id(self, kind: str) -> str:
        return f"{kind}{self._prefix}-{next(self._seq)}"

    def _go(self, state: str) -> None:
        self.state = state
        self.last_activity = self.clock()
        self.revision += 1

    def _go_idle(self) -> None:
        """Back to the attract screen; forget the patron entirely."""
        self.session = None
        self.pending = None
        self._go(IDLE)

    @property
    def answer(self) -> Answer | None:
        """The current patron's answer, if any."""
        return self.session.answer if self.session else None

    @property
    def needs_tick(self) -> bool:
        """Whether :meth:`tick` can change anything now.

        Only a query in flight or a screen other than idle has a timer (server
        timeout, retries, thanks, idle timeout); the idle screen with nothing
        pending has none, so the app need not wake up to tick it.
        """
        return self.state != IDLE or self.pending is not None

    @property
    def is_staff_card(self) -> bool:
        """Whether the current member is flagged as staff."""
        return bool(self.session and self.session.member.get("staff") is True)

    # ------------------------------------------------------------------ events

    def tap(self, uid: str, technology: str | None = None, ndef: str | None = None) -> list:
        """A card was read: start a fresh session and ask the server about it (with the card's SUN URL).

        Nothing happens (no effect, no new revision) for the card of the current session
        read again within ``timings.repeat_s`` of its previous read.
        """
        now = self.clock()
        last, self.last_read = self.last_read, (uid, technology, now)
        s = self.session
        if self.state == STAFF and s and s.staff_unlocked and s.reader_test:
            s.reader_read = (uid, technology, now)  # the reader test shows every read
            self._go(STAFF)
            return []
        repeat = s is not None and s.uid == uid and last is not None and last[0] == uid
        if repeat and now - last[2] < self.timings.repeat_s:
            self.debounced += 1  # the same tap: the screen it started stays, no second query
            return []
        self.session = Session(uid=uid, technology=technology)
        query_id = self._new_id("q")
        self.pending = Pending(uid=uid, query_ids=[query_id], first_sent=now, last_sent=now, ndef=ndef)
        self._go(LOADING)
        return [SendQuery(query_id, uid, ndef=ndef)]

    def answer_received(self, answer: Answer | bytes | str) -> list:
        """An answer arrived on the bus; show it if it belongs to the current patron."""
        now = self.clock()
        if not isinstance(answer, Answer):
            try:
                answer = Answer.parse(answer)
            except ContractError as exc:
                self._mark_alive(now, None)
                s = self.session
                if s is not None and s.pin_query is not None and exc.ref == s.pin_query:
                    s.pin_query = None
                    self._pin_message("staff.pin_refused")
                    return []
                if self.pending and exc.ref in self.pending.query_ids and not self.pending.probe:
                    # The server answered but we cannot read it: retrying will not help.
                    self.session.reason = "bad_answer"
                    self.pending = None
                    self._go(UNAVAILABLE)
                return []
        s = self.session
        if s is not None and s.pin_query is not None and answer.query_id == s.pin_query:
            return self._pin_verdict(answer, now)
        p = self.pending
        if p is None or answer.query_id not in p.query_ids:
            self._mark_alive(now, None)
            return []  # stale: a previous patron's or a duplicate answer
        self._mark_alive(now, (now - p.last_sent) * 1000.0)
        self.pending = None
        if p.probe:
            self.revision += 1
            return []
        self.session.answer = answer
        self.session.reason = {"invalid": "invalid", "card_not_genuine": "not_genuine"}.get(answer.outcome)
        self._go(_OUTCOME_STATE.get(answer.outcome, UNKNOWN))
        return []

    def _mark_alive(self, now: float, rtt_ms: float | None) -> None:
        self.health.last_answer_at = now
        self.health.down = False
        if rtt_ms is not None:
            self.health.last_rtt_ms = rtt_ms

    def touch(self) -> None:
        """The patron touched the screen: restart the idle timer."""
        self.last_activity = self.clock()

    def tick(self) -> list:
        """Run timers: server timeout, background retries, thanks, idle timeout."""
        now = self.clock()
        t = self.timings
        effects: list = []
        p = self.pending
        if p is not None:
            if p.probe:
                if now - p.first_sent >= t.server_timeout:
                    self.pending = None
                    self.health.down = True
                    self.revision += 1
            elif self.state == LOADING and now - p.first_sent >= t.server_timeout:
                self.health.down = True
                self.session.reason = "timeout"
                self._go(UNAVAILABLE)
            elif self.state == UNAVAILABLE and now - p.last_sent >= t.retry_every:
                query_id = self._new_id("q")
                p.query_ids = ([*p.query_ids, query_id])[-10:]
                p.last_sent = now
                effects.append(SendQuery(query_id, p.uid, ndef=p.ndef))
        s = self.session
        if s is not None and s.pin_query is not None and now - s.pin_sent >= t.server_timeout:
            # no verdict: the server is unreachable, and the staff screen stays locked
            s.pin_query = None
            self.health.down = True
            self._pin_message("staff.pin_unreachable")
        if self.state == FEEDBACK and s and s.thanks_until is not None and now >= s.thanks_until:
            self._go_idle()
        elif self.state not in (IDLE, LOADING) and now - self.last_activity >= (
            t.write_idle_timeout if self.state == WRITE else t.idle_timeout
        ):
            self._go_idle()
        return effects

    def toggle_lang(self) -> None:
        """Switch Thai ⇄ English (on every screen)."""
        self.lang = other_lang(self.lang)
        self.touch()
        self.revision += 1

    def set_lang(self, lang: str) -> None:
        """Choose the language explicitly."""
        if lang in LANGS and lang != self.lang:
            self.toggle_lang()

    # ------------------------------------------------------------------ buttons

    def show_history(self) -> None:
        """Member → history."""
        if self.state == MEMBER:
            self._go(HISTORY)

    def back(self) -> None:
        """History/staff → member; message screens → idle."""
        if self.state in (HISTORY, STAFF) and self.session and self.session.answer:
            self.session.reader_test = False
            self._go(MEMBER)
        elif self.state != IDLE:
            self._go_idle()

    def done(self) -> None:
        """The patron is finished: offer the visit rating once, else go idle."""
        s = self.session
        if self.state in (MEMBER, HISTORY) and s and not s.rated:
            self._go(FEEDBACK)
        else:
            self._go_idle()

    def rate(self, rating: int) -> list:
        """A face was chosen on the feedback screen: publish it, say thanks."""
        s = self.session
        if self.state != FEEDBACK or s is None or s.rated or not 1 <= int(rating) <= 5:
            return []
        s.rated = True
        s.thanks_until = self.clock() + self.timings.thanks_for
        self._go(FEEDBACK)
        return [SendFeedback(self._new_id("f"), int(rating), s.uid)]

    def skip_feedback(self) -> None:
        """No rating today."""
        if self.state == FEEDBACK:
            self._go_idle()

    # ------------------------------------------------------------------ writing to the library

    def open_write(self) -> None:
        """Feedback → the write screen (category, text on the keyboard), once per visit."""
        s = self.session
        if self.state == FEEDBACK and s and not s.written:
            s.category, s.draft, s.write_error = None, "", None
            self._go(WRITE)

    def choose_category(self, category: str) -> None:
        """A category button."""
        s = self.session
        if self.state == WRITE and category in FEEDBACK_CATEGORIES:
            s.category, s.write_error = category, None
            self._go(WRITE)

    def type_text(self, text: str) -> None:
        """Characters from the keyboard, appended up to the contract's limit (control characters dropped)."""
        s = self.session
        if self.state != WRITE or not text:
            return
        text = "".join(ch for ch in str(text) if ch.isprintable())
        room = MAX_FEEDBACK_TEXT - len(s.draft)
        if text and room > 0:
            s.draft += text[:room]
            s.write_error = None
        self._go(WRITE)

    def backspace(self) -> None:
        """Delete the last character typed."""
        s = self.session
        if self.state == WRITE and s.draft:
            s.draft = s.draft[:-1]
            self._go(WRITE)

    def cancel_write(self) -> None:
        """Back to the faces without sending."""
        if self.state == WRITE:
            self._go(FEEDBACK)

    def send_written(self) -> list:
        """Send the category and text (checked as the server will); thanks, then idle."""
        s = self.session
        if self.state != WRITE:
            return []
        if s.category is None:
            s.write_error = "write.need_category"
            self._go(WRITE)
            return []
        try:
            text = check_feedback_text(s.draft)
        except ContractError:
            s.write_error = "write.need_text"
            self._go(WRITE)
            return []
        s.written = s.rated = True
        s.thanks_until = self.clock() + self.timings.thanks_for
        self._go(FEEDBACK)
        return [SendFeedback(self._new_id("w"), None, s.uid, s.category, text)]

    # ------------------------------------------------------------------ staff

    @property
    def staff_step(self) -> str | None:
        """Where the staff screen is: ``pin``, ``checking``, ``locked`` or ``unlocked`` (None elsewhere)."""
        s = self.session
        if self.state != STAFF or s is None:
            return None
        if s.staff_unlocked:
            return STAFF_UNLOCKED
        if s.pin_query is not None:
            return PIN_CHECKING
        if self.pin_locked_minutes:
            return PIN_LOCKED
        return PIN_ENTRY

    @property
    def pin_locked_minutes(self) -> int:
        """Whole minutes (rounded up) until the server lets this card try again here; 0 if not locked."""
        s = self.session
        if s is None or s.pin_locked_until is None:
            return 0
        left = s.pin_locked_until - self.clock()
        return math.ceil(left / 60) if left > 0 else 0

    def _pin_message(self, key: str | None, **values) -> None:
        s = self.session
        s.pin_error, s.pin_error_args = key, values
        if self.state == STAFF:
            self._go(STAFF)

    def _pin_verdict(self, answer: Answer, now: float) -> list:
        """The server's verdict on the PIN we sent: only ``staff_unlocked`` unlocks."""
        s = self.session
        self._mark_alive(now, (now - s.pin_sent) * 1000.0)
        s.pin_query = None
        if answer.outcome == "staff_unlocked":
            s.staff_unlocked, s.pin_locked_until = True, None
            self._pin_message(None)
        elif answer.outcome == "pin_wrong":
            left = answer.attempts_left
            self._pin_message("staff.pin_wrong_left" if left is not None else "staff.pin_wrong", left=left)
        elif answer.outcome == "pin_locked":
            seconds = answer.retry_after_s if answer.retry_after_s is not None else 60
            s.pin_locked_until = now + seconds
            self._pin_message("staff.pin_locked")
        else:  # the card is no longer valid, or the server refused the query
            self._pin_message("staff.pin_refused")
        return []

    def open_staff(self) -> None:
        """A staff member's card is on the member screen: ask for the PIN."""
        if self.state == MEMBER and self.is_staff_card:
            s = self.session
            s.pin, s.pin_error, s.staff_unlocked, s.reader_test = "", None, False, False
            s.pin_query = None
            self._go(STAFF)
            if self.pin_locked_minutes:
                self._pin_message("staff.pin_locked")

    def pin_digit(self, digit: str) -> None:
        """One PIN key pressed."""
        s = self.session
        if (
            self.staff_step == PIN_ENTRY
            and len(s.pin) < PIN_MAX
            and len(str(digit)) == 1
            and str(digit) in "0123456789"
        ):
            s.pin += str(digit)
            s.pin_error = None
            self._go(STAFF)

    def pin_clear(self) -> None:
        """Clear the PIN field."""
        s = self.session
        if self.state == STAFF and s:
            s.pin = ""
            self._go(STAFF)

    def pin_submit(self) -> list:
        """Send the typed PIN to the server (once); the verdict comes as an answer."""
        s = self.session
        step = self.staff_step
        if step == PIN_LOCKED:
            s.pin = ""
            self._pin_message("staff.pin_locked")
            return []
        if step != PIN_ENTRY:
            return []
        if len(s.pin) < PIN_MIN:
            self._pin_message("staff.pin_short")
            return []
        pin, s.pin = s.pin, ""
        s.pin_query, s.pin_sent = self._new_id("u"), self.clock()
        self._pin_message("staff.pin_checking")
        return [SendQuery(s.pin_query, s.uid, pin=pin)]

    def toggle_reader_test(self) -> None:
        """Staff: taps now show the UID instead of querying the server (and back)."""
        s = self.session
        if self.state == STAFF and s and s.staff_unlocked:
            s.reader_test = not s.reader_test
            s.reader_read = None
            self._go(STAFF)

    def test_server(self) -> list:
        """Staff: send a probe query (the staff card's own) to measure the server."""
        s = self.session
        if self.state != STAFF or s is None or not s.staff_unlocked:
            return []
        now = self.clock()
        query_id = self._new_id("p")
        self.pending = Pending(uid=s.uid, query_ids=[query_id], first_sent=now, last_sent=now, probe=True)
        self.touch()
        self.revision += 1
        return [SendQuery(query_id, s.uid, probe=True)]
