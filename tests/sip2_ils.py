"""A test library system (ILS) that speaks real SIP2: pysip2's server and an in-memory ILS.

Run it as its own process (tests do, through :func:`start_ils`)::

    python -m tests.sip2_ils --port 0 --state /tmp/ils.json

``--port 0`` picks a free port; the first line on stdout is ``PORT <n>``. Everything the
ILS knows lives in the JSON state file: it is read again whenever the file changes, and
written (atomically) after every change the ILS makes, so a test can read or change the
ILS's state with :class:`Ils` and an ILS killed and restarted keeps its record of
payments (the ``BK`` transaction ids it accepted).

State (all keys optional; :func:`default_state` fills them)::

    {"login": {"user": "privcard", "password": "s3cret"},
     "institution": "WU",
     "patrons": {"P100": {"name": "...", "pin": "1234", "fines": 35.0,
                          "charged": ["B1"], "overdue": ["B1"], "blocked": false,
                          "status": "              ", "valid": true,
                          "charge_limit": 10}},
     "items": {"B1": {"title": "...", "available": true, "refuse": false}},
     "checkouts": [{"patron": "P100", "item": "B2", "at": "..."}],
     "payments": [{"bk": "PC-1-ab12", "patron": "P100", "amount": 5.0, "type": "01", ...}],
     "refuse_fee_paid": false,   # or a screen message string: every 37 is refused with it
     "dedupe_bk": true,          # false: every 37 pays, its BK only echoed (Koha's handle_fee_paid)
     "faults": [],               # one-shot misbehaviours, consumed in order (below)
     "delay_ms": 0}              # every reply is delayed this long

Faults (each applies to the NEXT reply and is then removed from the list; ``"NAME:64"``
applies to the next reply of that type only, e.g. ``"garbage:38"``, ``"half_close:64"``):

- ``"bad_checksum"``: the reply goes out with a wrong ``AZ`` checksum (the correct
  frame is kept as the "last response", so a 97 resend gets the good one);
- ``"garbage"``: random non-SIP bytes ending in CR instead of the reply;
- ``"oversized"``: 100 000 bytes without a CR instead of the reply;
- ``"half_close"``: the reply is not sent; the ILS shuts its sending side (FIN) and
  keeps the socket open;
- ``"silent"``: the reply is not sent at all (a lost reply; the connection stays);
- ``"die_after_37"``: at the next 37 Fee Paid, the payment is recorded (and written to
  the state file) and the process exits before replying (``os._exit``);
- ``"die_on_37"``: at the next 37 the process exits before recording anything.

Special patron ids (no state change needed): a patron id starting with ``SLOW`` makes
that reply wait 5 s.

pysip2's server does framing, checksums, sequence numbers, 97 resends and login
gating; this module adds the ILS behind its handlers and the misbehaviours (by
overriding its one send method, ``_send``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import anyio
from pysip2 import (
    CHECKOUT,
    FEE_PAID,
    LOGIN,
    PATRON_INFORMATION,
    PATRON_STATUS,
    CheckoutRequest,
    CheckoutResponse,
    FeePaidRequest,
    FeePaidResponse,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    SIP2Server,
)

BLANK_STATUS = " " * 14


def default_state(**over) -> dict:
    """A small ILS: two patrons (one with 35 baht of fines), three items, no payments."""
    state = {
        "login": {"user": "privcard", "password": "s3cret"},
        "institution": "WU",
        "encoding": "utf-8",
        "patrons": {
            "P100": {
                "name": "สมชาย ใจดี",
                "pin": "1234",
                "fines": 35.0,
                "charged": ["B1"],
                "overdue": ["B1"],
                "blocked": False,
                "status": BLANK_STATUS,
                "valid": True,
                "charge_limit": 10,
            },
            "P200": {
                "name": "Jane Reader",
                "pin": "0000",
                "fines": 0.0,
                "charged": [],
                "overdue": [],
                "blocked": False,
                "status": BLANK_STATUS,
                "valid": True,
                "charge_limit": 10,
            },
        },
        "items": {
            "B1": {"title": "Overdue book", "available": False, "refuse": False},
            "B2": {"title": "Python for libraries", "available": True, "refuse": False},
            "B3": {"title": "Thai history", "available": True, "refuse": False},
            "B9": {"title": "Reference only", "available": True, "refuse": True},
        },
        "checkouts": [],
        "payments": [],
        "refuse_fee_paid": False,
        "dedupe_bk": True,
        "faults": [],
        "delay_ms": 0,
    }
    for key, value in over.items():
        state[key] = value
    return state


def _money(amount: float) -> str:
    return f"{amount:.2f}"


class StateFile:
    """The ILS's state, kept in a JSON file (read again when it changes, written atomically)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self._mtime = None
        self.data = default_state()
        if self.path.exists():
            self.reload()
        else:
            self.save()

    def reload(self) -> None:
        st = self.path.stat()
        key = (st.st_mtime_ns, st.st_size)
        if key != self._mtime:
            self.data = default_state(**json.loads(self.path.read_text(encoding="utf-8")))
            self._mtime = key

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), encoding="utf-8")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        st = self.path.stat()
        self._mtime = (st.st_mtime_ns, st.st_size)

    def take_fault(self, *names: str, reply: bytes = b"") -> str | None:
        """Remove and return the first pending fault if it is one of ``names``.

        A fault written ``"garbage:64"`` applies only to a reply of that type (here 64).
        """
        faults = self.data.get("faults") or []
        if not faults:
            return None
        name, _, only = faults[0].partition(":")
        if name in names and (not only or reply[:2] == only.encode()):
            faults.pop(0)
            self.save()
            return name
        return None


class TestIls(SIP2Server):
    """pysip2's server with an in-memory ILS behind it and switchable misbehaviour."""

    def __init__(self, state: StateFile):
        d = state.data
        super().__init__(
            encoding=d.get("encoding", "utf-8"),
            institution_id=d["institution"],
            library_name="Test ILS",
            login_required=True,
        )
        self.state = state
        self._register()

    # -- misbehaviour ---------------------------------------------------------------

    async def _send(self, stream, state, frame: bytes) -> None:
        with self.state.lock:
            self.state.reload()
            delay = int(self.state.data.get("delay_ms") or 0)
            fault = self.state.take_fault("bad_checksum", "garbage", "oversized", "half_close", "silent", reply=frame)
        if delay:
            await anyio.sleep(delay / 1000)
        state.last_response = frame  # a 97 resend gets the correct frame
        if fault == "bad_checksum" and frame[-6:-5] == b"Z":
            digits = frame[-5:-1]
            wrong = f"{(int(digits, 16) + 1) & 0xFFFF:04X}".encode()
            await stream.send(frame[:-5] + wrong + b"\r")
        elif fault == "garbage":
            await stream.send(b"\x07\xff\xfeNOT SIP AT ALL\x01\x02\r")
        elif fault == "oversized":
            await stream.send(b"9" * 100_000)
        elif fault == "half_close":
            await stream.send_eof()
        elif fault == "silent":
            return
        else:
            await stream.send(frame)

    # -- the ILS ----------------------------------------------------------------------

    def _patron(self, pid: str) -> dict | None:
        with self.state.lock:
            self.state.reload()
            return self.state.data["patrons"].get(pid)

    @staticmethod
    def _now() -> str:
        now = datetime.now()
        return now.strftime("%Y%m%d") + "    " + now.strftime("%H%M%S")

    def _status(self, p: dict | None) -> str:
        if p is None:
            return "Y" * 4 + " " * 10
        status = list((p.get("status") or BLANK_STATUS).ljust(14)[:14])
        if p.get("blocked"):
            status[0] = "Y"  # charge privileges denied
            status[1] = "Y"  # renewal privileges denied
        if p.get("overdue"):
            status[6] = "Y"  # too many items overdue
        return "".join(status)

    def _register(self) -> None:
        inst = self.state.data["institution"]

        @self.route(LOGIN)
        def login(req: LoginRequest, ctx) -> LoginResponse:
            with self.state.lock:
                self.state.reload()
                want = self.state.data["login"]
            ok = req.login_user_id == want["user"] and req.login_password == want["password"]
            return LoginResponse(ok="1" if ok else "0")

        @self.route(PATRON_STATUS)
        def patron_status(req: PatronStatusRequest, ctx) -> PatronStatusResponse:
            p = self._patron(req.patron_identifier)
            self._slow(req.patron_identifier)
            return PatronStatusResponse(
                patron_status=self._status(p),
                language="000",
                transaction_date=self._now(),
                institution_id=inst,
                patron_identifier=req.patron_identifier,
                personal_name=(p or {}).get("name", ""),
                valid_patron="Y" if p and p.get("valid", True) else "N",
                valid_patron_password=self._pin_ok(p, req.patron_password),
                currency_type="THB",
                fee_amount=_money((p or {}).get("fines", 0.0)),
                screen_message=() if p else ("Patron not found",),
            )

        @self.route(PATRON_INFORMATION)
        def patron_info(req: PatronInformationRequest, ctx) -> PatronInformationResponse:
            p = self._patron(req.patron_identifier)
            self._slow(req.patron_identifier)
            charged = (p or {}).get("charged", [])
            overdue = (p or {}).get("overdue", [])
            fines = (p or {}).get("fines", 0.0)
            return PatronInformationResponse(
                patron_status=self._status(p),
                language="000",
                transaction_date=self._now(),
                hold_items_count="0000",
                overdue_items_count=f"{len(overdue):04d}",
                charged_items_count=f"{len(charged):04d}",
                fine_items_count=f"{1 if fines else 0:04d}",
                recall_items_count="0000",
                unavailable_holds_count="0000",
                institution_id=inst,
                patron_identifier=req.patron_identifier,
                personal_name=(p or {}).get("name", ""),
                valid_patron="Y" if p and p.get("valid", True) else "N",
                valid_patron_password=self._pin_ok(p, req.patron_password),
                currency_type="THB",
                fee_amount=_money(fines),
                charged_items_limit=f"{(p or {}).get('charge_limit', 10):04d}",
                screen_message=() if p else ("Patron not found",),
            )

        @self.route(CHECKOUT)
        def checkout(req: CheckoutRequest, ctx) -> CheckoutResponse:
            with self.state.lock:
                self.state.reload()
                d = self.state.data
                p = d["patrons"].get(req.patron_identifier)
                item = d["items"].get(req.item_identifier)
                why = None
                if p is None or not p.get("valid", True):
                    why = "Invalid patron"
                elif p.get("blocked"):
                    why = "Patron blocked"
                elif item is None:
                    why = "Item not found"
                elif item.get("refuse"):
                    why = "Item cannot be borrowed"
                elif not item.get("available", True) and req.item_identifier not in p.get("charged", []):
                    why = "Item checked out to another patron"
                elif len(p.get("charged", [])) >= p.get("charge_limit", 10):
                    why = "Too many items charged"
                if why is None:
                    item["available"] = False
                    if req.item_identifier not in p["charged"]:
                        p["charged"].append(req.item_identifier)
                    d["checkouts"].append(
                        {"patron": req.patron_identifier, "item": req.item_identifier, "at": self._now()}
                    )
                    self.state.save()
            return CheckoutResponse(
                ok="0" if why else "1",
                renewal_ok="N",
                magnetic_media="N",
                desensitize="N" if why else "Y",
                transaction_date=self._now(),
                institution_id=inst,
                patron_identifier=req.patron_identifier,
                item_identifier=req.item_identifier,
                title_identifier=(item or {}).get("title", ""),
                due_date="" if why else "20991231    235900",
                screen_message=(why,) if why else ("Checked out",),
            )

        @self.route(FEE_PAID)
        def fee_paid(req: FeePaidRequest, ctx) -> FeePaidResponse:
            with self.state.lock:
                self.state.reload()
                d = self.state.data
                if self.state.take_fault("die_on_37"):
                    os._exit(3)
                p = d["patrons"].get(req.patron_identifier)
                bk = req.transaction_id or ""
                dedupe = d.get("dedupe_bk", True)
                known = next((x for x in d["payments"] if dedupe and bk and x["bk"] == bk), None)
                why = None
                if known is not None:
                    why = None  # the same BK again: accepted once, answered again, not paid twice
                elif d.get("refuse_fee_paid"):
                    r = d["refuse_fee_paid"]
                    why = r if isinstance(r, str) else "Payment refused"
                elif p is None:
                    why = "Invalid patron"
                else:
                    try:
                        amount = float(req.fee_amount)
                    except ValueError:
                        amount = -1
                    if amount <= 0:
                        why = "Invalid amount"
                    elif amount > p.get("fines", 0.0) + 1e-9:
                        why = "Payment exceeds fines owed"
                    else:
                        p["fines"] = round(p["fines"] - amount, 2)
                        d["payments"].append(
                            {
                                "bk": bk,
                                "patron": req.patron_identifier,
                                "amount": amount,
                                "currency": req.currency_type,
                                "payment_type": req.payment_type,
                                "fee_type": req.fee_type,
                                "at": self._now(),
                            }
                        )
                        d.setdefault("fee_paid_log", []).append(bk)
                        self.state.save()
                if known is not None:
                    d.setdefault("fee_paid_log", []).append(bk)
                    self.state.save()
                if self.state.take_fault("die_after_37"):
                    os._exit(3)
            return FeePaidResponse(
                payment_accepted="N" if why else "Y",
                transaction_date=self._now(),
                institution_id=inst,
                patron_identifier=req.patron_identifier,
                transaction_id=bk or None,
                screen_message=(why,) if why else ("Payment accepted",),
            )

    @staticmethod
    def _pin_ok(p: dict | None, pin: str | None) -> str | None:
        if not pin or p is None:
            return None
        return "Y" if pin == p.get("pin") else "N"

    @staticmethod
    def _slow(pid: str) -> None:
        if pid.startswith("SLOW"):
            time.sleep(5)


async def _serve(args) -> None:
    state = StateFile(Path(args.state))
    server = TestIls(state)
    listener = await server.listen(args.host, args.port)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    print(f"PORT {port}", flush=True)
    await listener.serve(server._handle_connection)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.sip2_ils", description="a test ILS speaking SIP2")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state", required=True, help="the JSON state file (created if missing)")
    args = ap.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_serve, args)


# --------------------------------------------------------------------------- for tests


class Ils:
    """A running test ILS process: its address, its state (read/change), kill and restart."""

    def __init__(self, state_path: Path, log_path: Path):
        self.state_path = Path(state_path)
        self.log_path = Path(log_path)
        self.host = "127.0.0.1"
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        s = self.state()
        return f"sip2://{s['login']['user']}:{s['login']['password']}@{self.host}:{self.port}?institution={s['institution']}&location=MAIN"

    def start(self) -> Ils:
        """Start the process (on the same port as before after a kill, else a free one)."""
        root = Path(__file__).resolve().parent.parent
        env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sip2_ils", "--port", str(self.port), "--state", str(self.state_path)],
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=root,
            env=env,
        )
        log.close()
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"test ILS did not start: {line!r}; see {self.log_path}")
        self.port = int(line.split()[1])
        return self

    def kill(self) -> None:
        """SIGKILL the process (its state file stays)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait(10)

    def restart(self) -> Ils:
        self.kill()
        deadline = time.monotonic() + 10
        while True:  # the port may linger a moment
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def wait_exit(self, timeout: float = 10) -> int | None:
        """Wait for the process to exit by itself (a ``die_*`` fault); its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def state(self) -> dict:
        return json.loads(self.state_path.read_text(encoding="utf-8"))

    def update(self, change: Callable[[dict], None] | None = None, **keys) -> dict:
        """Change the state: ``change(state)`` in place and/or top-level ``keys``; written atomically."""
        s = self.state()
        if change is not None:
            change(s)
        s.update(keys)
        tmp = self.state_path.with_suffix(".test.tmp")
        tmp.write_text(json.dumps(s, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_path)
        time.sleep(0.01)  # a distinct mtime for the ILS's "changed?" check
        return s

    def fault(self, *names: str) -> None:
        """Queue one-shot misbehaviours for the next replies (see the module doc)."""
        self.update(lambda s: s.setdefault("faults", []).extend(names))

    def payments(self, bk: str | None = None) -> list[dict]:
        """The payments the ILS accepted (only those with ``bk`` if given)."""
        return [p for p in self.state()["payments"] if bk is None or p["bk"] == bk]

    def fines(self, patron: str) -> float:
        return self.state()["patrons"][patron]["fines"]

    def close(self) -> None:
        self.kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> Ils:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def start_ils(tmp_path: Path, **state) -> Ils:
    """Start a test ILS on a free port with :func:`default_state` overridden by ``state``."""
    path = Path(tmp_path) / "ils-state.json"
    path.write_text(json.dumps(default_state(**state), ensure_ascii=False), encoding="utf-8")
    return Ils(path, Path(tmp_path) / "ils.log").start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
