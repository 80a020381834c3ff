"""A small stand-in points server for kiosk UI tests and the kiosk benchmark.

It answers ``privcard/dev/+/query`` with contract ``Answer``s built from a table
of members (shapes exactly as ``broker.contract.Answer`` documents them), and
records ``feedback``. Tests that need the real server use ``privcard server``;
this one is for the cases the real server cannot produce on demand: answers with
missing or unexpected fields, a server that answers slowly or not at all.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt

from broker.contract import Answer, ContractError, Feedback, Query, device_wildcard, parse_topic

BANGKOK = timezone(timedelta(hours=7))


def privileges_for(balance: int) -> dict:
    """Tables 2-5 for a balance, the way the server's rules compute them (defaults)."""
    levels = [250 + 50 * i for i in range(18)]  # 250..1100
    reached = [p for p in levels if p <= balance]
    books = 15 + 5 * (len(reached) - 1) if reached else 10
    loan_days = (30 if balance < 550 else 45) if reached else 10
    if balance >= 1100:
        books, loan_days = 100, None
    locker = max(
        [d for p, d in ((250, 3), (500, 7), (700, 14), (1000, 30), (1500, 60), (2000, 90)) if p <= balance] or [1]
    )
    room = max([h for p, h in ((250, 3), (500, 4), (750, 5), (1000, 6)) if p <= balance] or [3])
    usable = min(balance, 2500) // 25 * 25
    thresholds = sorted({p for p in [*levels, 500, 700, 1000, 1500, 2000, 750] if p > balance})
    nxt = None
    if thresholds:
        target = thresholds[0]
        nxt = {
            "points": target,
            "needed": target - balance,
            "unlocks": {"th": f"ยืมได้ {books + 5} เล่ม", "en": f"borrow {books + 5} books"},
        }
    loan = (
        {"th": "ตลอดภาคการศึกษา", "en": "whole semester"}
        if loan_days is None
        else {"th": f"{loan_days} วัน", "en": f"{loan_days} days"}
    )
    return {
        "borrow": {"books": books, "loan_days": loan_days, "loan": loan},
        "locker_days": locker,
        "study_room_hours": room,
        "fine_discount_baht": usable // 25 * 5,
        "fine_discount_points": usable,
        "next": nxt,
    }


def history_for(entries: list[tuple]) -> list[dict]:
    """(at, activity, th, en, points[, voided]) tuples → contract history entries, newest first."""
    out = []
    for i, row in enumerate(entries):
        at, activity, th, en, points = row[:5]
        out.append(
            {
                "id": 1000 - i,
                "at": at.isoformat(),
                "activity": activity,
                "label": {"th": th, "en": en},
                "item": None,
                "points": points,
                "voided": bool(row[5]) if len(row) > 5 else False,
                "void_of": None,
            }
        )
    return out


def member_record(
    uid: str,
    name: str,
    balance: int,
    tier: str = "silver",
    *,
    staff=False,
    pin=None,
    history=None,
    earned_today=5,
    earned_semester=120,
    outcome="member",
    ils=None,
) -> dict:
    """One card in the fake server's table (``ils``: the answer's fines part, as the real server sends it)."""
    member = {
        "id": abs(hash(uid)) % 100000,
        "name": name,
        "tier": tier,
        "group": "U1",
        "valid_until": "2026-05-31",
        "staff": staff,
        "card": uid,
    }
    return {
        "pin": pin,  # the fake server's own: never in an answer, as with the real one
        "outcome": outcome,
        "member": member,
        "balance": balance,
        "history": history or [],
        "stats": {"earned_today": earned_today, "earned_semester": earned_semester, "semester": "2/2568"},
        "ils": ils,
    }


class FakeServer:
    """Answer kiosk queries from ``cards`` ({uid: record or raw dict}); record feedback."""

    def __init__(self, url_host: str, port: int, cards: dict | None = None):
        self.host, self.port = url_host, port
        self.cards = dict(cards or {})
        self.feedback: list[Feedback] = []
        self.queries: list[Query] = []
        self.raw: dict = {}  # uid -> bytes payload template with {query_id}
        self.delay = 0.0
        self._client = None
        self._ready = threading.Event()

    def start(self) -> FakeServer:
        self._ready.clear()
        c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="fake-points-server")
        c.on_connect = lambda cl, *_: (
            cl.subscribe([(device_wildcard("query"), 1), (device_wildcard("feedback"), 1)]),
            self._ready.set(),
        )
        c.on_message = self._message
        c.connect(self.host, self.port)
        c.loop_start()
        self._client = c
        if not self._ready.wait(5):
            raise RuntimeError("fake server could not connect to the broker")
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def _message(self, client, userdata, msg):
        topic = parse_topic(msg.topic)
        if topic.kind == "feedback":
            try:
                self.feedback.append(Feedback.parse(msg.payload))
            except ContractError:
                pass
            return
        query = Query.parse(msg.payload)
        self.queries.append(query)
        answer_topic = f"{topic.prefix}/dev/{topic.device_id}/answer"
        if self.delay:
            threading.Event().wait(self.delay)
        if query.uid in self.raw:
            payload = self.raw[query.uid].replace(b"{query_id}", query.query_id.encode())
            client.publish(answer_topic, payload, qos=1)
            return
        rec = self.cards.get(query.uid)
        if query.pin is not None:
            right = rec is not None and rec.get("pin") is not None and rec["pin"] == query.pin
            answer = Answer(query.query_id, "staff_unlocked" if right else "pin_wrong")
            client.publish(answer_topic, answer.encode(), qos=1)
            return
        if rec is None:
            answer = Answer(query.query_id, "unknown_card", message={"th": "ไม่พบบัตร", "en": "Card not registered"})
        elif rec["outcome"] != "member":
            answer = Answer(
                query.query_id, rec["outcome"], member=rec["member"], message=rec.get("message", {"th": "", "en": ""})
            )
        else:
            answer = Answer(
                query.query_id,
                "member",
                member=rec["member"],
                balance=rec["balance"],
                privileges=privileges_for(rec["balance"]),
                history=rec["history"],
                stats=rec["stats"],
                ils=rec.get("ils"),
            )
        client.publish(answer_topic, answer.encode(), qos=1)


def demo_history(now: datetime | None = None) -> list[dict]:
    """Twenty realistic entries (one voided) ending at 21/1/2016 11:14 Bangkok time."""
    now = now or datetime(2016, 1, 21, 11, 14, 10, tzinfo=BANGKOK)
    rows = [(now, "entry", "การเข้าใช้บริการพื้นที่ต่างๆ", "Using the library's areas", 5)]
    rows.append((now - timedelta(hours=2), "borrow", "การยืมหนังสือและวารสาร", "Borrowing books and journals", 5, True))
    rows.append(
        (now - timedelta(days=1, hours=-9), "late_stay", "ใช้พื้นที่นั่งอ่านก่อนปิด 30 นาที", "Reading in the last 30 minutes", 10)
    )
    rows.append((now - timedelta(days=2), "pulinet_event", "กิจกรรม PULINET", "PULINET activity", 20))
    rows.append((now - timedelta(days=3), "partner_purchase", "ซื้อสินค้าจากร้านค้าที่ร่วมรายการ", "Partner-shop purchase", 5))
    for d in range(4, 19):
        rows.append((now - timedelta(days=d), "entry", "การเข้าใช้บริการพื้นที่ต่างๆ", "Using the library's areas", 5))
    rows.append((now - timedelta(days=30), "signup", "สมัครสมาชิกใหม่", "New member", 250))
    return history_for(rows[:20])


__all__ = ["FakeServer", "demo_history", "history_for", "json", "member_record", "privileges_for"]
