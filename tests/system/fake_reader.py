"""A card reader for the booted-system tests: a pseudo-terminal at /run/privcard-reader.

The gate opens it as ``serial:/run/privcard-reader?format=line`` (a real pyserial port);
the test writes UIDs, one per line, to the FIFO /run/privcard-reader.in. Stopping this
service removes the device: the "reader missing" fault the doctor must name.
"""

import grp
import os
import pty
import signal
import sys
import tty

LINK = "/run/privcard-reader"
FIFO = "/run/privcard-reader.in"


def main() -> None:
    master, slave = pty.openpty()
    tty.setraw(slave)  # no echo, no line discipline: bytes pass as a serial port's would
    name = os.ttyname(slave)
    try:
        gid = grp.getgrnam("privcard").gr_gid
    except KeyError:
        gid = -1
    os.chown(name, -1, gid)
    os.chmod(name, 0o660)
    for path in (LINK, FIFO):
        if os.path.lexists(path):
            os.unlink(path)
    os.symlink(name, LINK)
    os.mkfifo(FIFO, 0o600)

    def bye(*_):
        for path in (LINK, FIFO):
            if os.path.lexists(path):
                os.unlink(path)
        sys.exit(0)

    signal.signal(signal.SIGTERM, bye)
    while True:
        with open(FIFO, "rb") as fifo:  # blocks until the test writes
            for line in fifo:
                os.write(master, line.strip() + b"\r\n")


if __name__ == "__main__":
    main()
