"""The SIP2 client: one logged-in connection, one request in flight, a deadline on everything.

pysip2's codec builds and reads the messages (typed models, ``AY``/``AZ`` sequence
numbers and checksums); pysip2 has no client, so the socket, the login, the resend and
the timeouts are here:

- at connect: 93 Login (``CN``/``CO``/``CP`` from the URL), then 99 SC Status once; a
  refused login or an off-line ILS is an :class:`~server.ils.base.IlsNotSent`;
- one request in flight per connection (a lock); each request carries the next ``AY``
  sequence number (0-9) and its checksum when error detection is on;
- a reply whose checksum is wrong → 97 Request ACS Resend (twice at most); a 96 from the
  ILS → the request again (twice at most);
- a reply longer than ``max_frame_bytes``, bytes that are not SIP2, a reply of the wrong
  type, an end of stream or a timeout → :class:`~server.ils.base.IlsError` and the
  connection is dropped (the next request logs in again);
- a connection the ILS closed while idle is noticed before sending (re-login, no error).

Nothing here logs a password or a PIN: requests are logged by message type only.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from datetime import datetime

from pysip2 import (
    ACSStatusResponse,
    FeePaidRequest,
    FeePaidResponse,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    RequestACSResend,
    RequestSCResend,
    SCStatusRequest,
    SIP2ChecksumError,
    SIP2Error,
    decode_message,
    encode_message,
)

from server.ils.base import FeeResult, IlsError, IlsNotSent, IlsTimeout, PatronInfo, decode_flags
from server.ils.config import IlsConfig

log = logging.getLogger("privcard.ils")

RESENDS = 2


def _now18() -> str:
    now = datetime.now()
    return now.strftime("%Y%m%d") + "    " + now.strftime("%H%M%S")


def _money(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return round(float(text.strip()), 2)
    except ValueError:
        raise IlsError(f"the ILS sent a fee amount that is not a number: {text!r}") from None


def _count(text: str) -> int:
    return int(text) if text.strip().isdigit() else 0


class Sip2Link:
    """A SIP2 link to one ILS (thread-safe; connects lazily, logs in again after a drop)."""

    def __init__(self, config: IlsConfig):
        self.config = config
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._seq = 0
        self.logins = 0  # how many times this link logged in (tests and stats)
        self.resends = 0  # 97s sent

    # -- connection -----------------------------------------------------------------

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._buf.clear()

    def _stale(self) -> bool:
        """The ILS closed an idle connection (or sent something unasked): start afresh."""
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def _connect(self, deadline: float) -> None:
        c = self.config
        try:
            sock = socket.create_connection(
                (c.host, c.port), timeout=max(0.01, min(c.connect_timeout_s, self._left(deadline)))
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if c.tls:
                ctx = ssl.create_default_context(cafile=c.tls_ca or None)
                sock = ctx.wrap_socket(sock, server_hostname=c.host)
        except TimeoutError:
            raise IlsTimeout(f"no connection to the ILS at {c.host}:{c.port} in time") from None
        except (OSError, ssl.SSLError) as exc:
            raise IlsNotSent(f"cannot connect to the ILS at {c.host}:{c.port}: {exc.strerror or exc}") from None
        self._sock, self._buf = sock, bytearray()
        try:
            login = LoginRequest(
                uid_algorithm="0",
                pwd_algorithm="0",
                login_user_id=c.login,
                login_password=c.password,
                location_code=c.location or None,
            )
            reply = self._exchange(login, LoginResponse, deadline)
            if reply.ok != "1":
                raise IlsNotSent(f"the ILS refused the SIP login {c.login!r} (check the login and password)")
            status = self._exchange(
                SCStatusRequest(status_code="0", max_print_width="080", protocol_version="2.00"),
                ACSStatusResponse,
                deadline,
            )
            if status.online_status != "Y":
                raise IlsNotSent("the ILS says it is off-line (99 SC Status: online N)")
        except IlsError as exc:
            self._drop()
            if isinstance(exc, IlsNotSent | IlsTimeout):
                raise
            raise IlsNotSent(f"login to the ILS failed: {exc}") from None
        self.logins += 1
        log.info("logged in to the ILS %s", c.safe_url)

    @staticmethod
    def _left(deadline: float) -> float:
        return deadline - time.monotonic()

    # -- one exchange -----------------------------------------------------------------

    def _encode(self, message, *, seq: bool = True) -> bytes:
        c = self.config
        if not c.error_detection:
            return encode_message(message, encoding=c.encoding)
        if isinstance(message, RequestACSResend):
            return encode_message(message, checksum=True, encoding=c.encoding)
        return encode_message(message, sequence_number=self._seq, checksum=True, encoding=c.encoding)

    def _send(self, frame: bytes, deadline: float) -> None:
        left = self._left(deadline)
        if left <= 0:
            raise IlsTimeout("no time left to send to the ILS")
        self._sock.settimeout(left)
        self._sock.sendall(frame)

    def _read_frame(self, deadline: float) -> bytes:
        cap = self.config.max_frame_bytes
        while True:
            cr = self._buf.find(b"\r")
            if cr != -1:
                frame = bytes(self._buf[: cr + 1])
                del self._buf[: cr + 1]
                return frame
            if len(self._buf) > cap:
                raise IlsError(f"the ILS sent a reply longer than {cap} bytes (max_frame_bytes)")
            left = self._left(deadline)
            if left <= 0:
                raise IlsTimeout("the ILS did not answer in time")
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise IlsTimeout("the ILS did not answer in time") from None
            if not chunk:
                raise IlsError("the ILS closed the connection without answering")
            self._buf += chunk

    def _exchange(self, message, want: type, deadline: float):
        """Send ``message``, return the decoded reply of type ``want`` (resends handled)."""
        c = self.config
        frame = self._encode(message)
        try:
            self._send(frame, deadline)
            resends = 0
            while True:
                raw = self._read_frame(deadline)
                try:
                    decoded = decode_message(raw, encoding=c.encoding)
                except SIP2ChecksumError:
                    if resends >= RESENDS:
                        raise IlsError("the ILS's replies keep failing their checksum") from None
                    resends += 1
                    self.resends += 1
                    log.warning("bad checksum in a reply from the ILS: asking it to resend (97)")
                    self._send(encode_message(RequestACSResend(), checksum=True, encoding=c.encoding), deadline)
                    continue
                except (SIP2Error, UnicodeDecodeError) as exc:
                    raise IlsError(f"the ILS sent something that is not a SIP2 reply ({exc})") from None
                reply = decoded.message
                if isinstance(reply, RequestSCResend):
                    if resends >= RESENDS:
                        raise IlsError("the ILS keeps asking for a resend (96)")
                    resends += 1
                    self._send(frame, deadline)
                    continue
                if not isinstance(reply, want):
                    raise IlsError(f"the ILS answered with {type(reply).__name__}, expected {want.__name__}")
                if c.error_detection and decoded.sequence_number is not None and decoded.sequence_number != self._seq:
                    raise IlsError(f"the ILS answered sequence number {decoded.sequence_number}, expected {self._seq}")
                return reply
        except (TimeoutError, IlsTimeout):
            raise IlsTimeout("the ILS did not answer in time") from None
        except (OSError, ssl.SSLError) as exc:
            raise IlsError(f"the connection to the ILS failed: {exc.strerror or exc}") from None
        finally:
            self._seq = (self._seq + 1) % 10

    def _request(self, message, want: type, timeout: float | None):
        """One request on the logged-in connection (connecting first if needed)."""
        budget = self.config.reply_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + budget
        if not self._lock.acquire(timeout=max(0.0, budget)):
            raise IlsTimeout("the ILS link is busy with another request")
        try:
            if self._sock is not None and self._stale():
                self._drop()
            if self._sock is None:
                self._connect(deadline)
            try:
                return self._exchange(message, want, deadline)
            except IlsError:
                self._drop()  # the stream's state is unknown now: the next request logs in afresh
                raise
        finally:
            self._lock.release()

    # -- IlsLink ------------------------------------------------------------------------

    def patron_status(self, patron_id: str, pin: str | None = None, *, timeout: float | None = None) -> PatronInfo:
        """63 Patron Information: standing, fines, items charged and overdue."""
        c = self.config
        reply = self._request(
            PatronInformationRequest(
                language="000",
                transaction_date=_now18(),
                summary=" " * 10,
                institution_id=c.institution,
                patron_identifier=patron_id,
                terminal_password=c.terminal_password or None,
                patron_password=pin or None,
            ),
            PatronInformationResponse,
            timeout,
        )
        flags = decode_flags(reply.patron_status)
        valid = reply.valid_patron == "Y" if reply.valid_patron is not None else bool(reply.personal_name)
        if pin and reply.valid_patron_password == "N":
            valid = False
        return PatronInfo(
            patron_id=reply.patron_identifier,
            valid=valid,
            fines_baht=_money(reply.fee_amount),
            charged=_count(reply.charged_items_count),
            overdue=_count(reply.overdue_items_count),
            flags=flags,
            message=" ".join(reply.screen_message),
            name=reply.personal_name,
            currency=reply.currency_type or "",
            password_ok={"Y": True, "N": False}.get(reply.valid_patron_password or "") if pin else None,
        )

    def fee_paid(self, patron_id: str, baht: float, transaction_id: str) -> FeeResult:
        """37 Fee Paid with ``BK`` = ``transaction_id``; 38's payment accepted → accepted."""
        c = self.config
        reply = self._request(
            FeePaidRequest(
                transaction_date=_now18(),
                fee_type=c.fee_type,
                payment_type=c.payment_type,
                currency_type=c.currency,
                fee_amount=f"{baht:.2f}",
                institution_id=c.institution,
                patron_identifier=patron_id,
                terminal_password=c.terminal_password or None,
                transaction_id=transaction_id,
            ),
            FeePaidResponse,
            None,
        )
        if reply.transaction_id and reply.transaction_id != transaction_id:
            raise IlsError(f"the ILS answered for transaction {reply.transaction_id!r}, not {transaction_id!r}")
        return FeeResult(
            accepted=reply.payment_accepted == "Y",
            transaction_id=transaction_id,
            message=" ".join(reply.screen_message),
        )

    def close(self) -> None:
        with self._lock:
            self._drop()
