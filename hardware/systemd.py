"""sd_notify in pure Python: tell systemd a service is ready and alive.

The units in ``hardware/deploy/`` use ``Type=notify`` and ``WatchdogSec=30``:
systemd waits for ``READY=1`` before it considers the gate/server started, and
restarts it if no ``WATCHDOG=1`` arrives within 30 s. Usage::

    from hardware import systemd
    systemd.notify("READY=1")                  # once, when the service is serving
    interval = systemd.watchdog_interval()     # None when no watchdog is set
    ...                                        # every `interval` seconds, from the
    systemd.notify("WATCHDOG=1")               # loop whose liveness matters
    systemd.notify("STOPPING=1")               # on orderly shutdown
    systemd.notify("STATUS=offline, 3 taps buffered")

Outside systemd (``$NOTIFY_SOCKET`` unset) every call is a cheap no-op returning
False, so services call it unconditionally. A notify failure is logged, never
raised: a broken notification socket must not stop a gate.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(state: str) -> bool:
    """Send *state* (e.g. ``"READY=1"``) to systemd; False when not under systemd or on error."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address[0] == "@":  # abstract namespace socket
        address = "\0" + address[1:]
    elif address[0] != "/":
        log.debug("NOTIFY_SOCKET %r is not a unix socket; not notifying", address)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as error:
        log.warning("sd_notify(%r) failed: %s", state, error)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``WatchdogSec``), or None if no watchdog."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # the watchdog is meant for another process (e.g. our parent)
    try:
        value = int(usec)
    except ValueError:
        return None
    if value <= 0:
        return None
    return value / 2_000_000
