"""A minimal SNTP server on 127.0.0.1:123 for the booted-system tests (stdlib only).

The container has no internet: systemd-timesyncd syncs against this server, which
answers with the (shared) kernel clock, so the offset is ~0 and timesyncd marks the
clock synchronised, as it would on a Pi with a network. Stopping timesyncd is then
the "time sync stopped" fault the doctor must name.
"""

import socket
import struct
import time

NTP_DELTA = 2208988800


def ntp(t: float) -> bytes:
    sec = int(t) + NTP_DELTA
    frac = int((t - int(t)) * 2**32)
    return struct.pack("!II", sec, frac)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 123))
    while True:
        data, addr = sock.recvfrom(512)
        received = time.time()
        if len(data) < 48:
            continue
        version = (data[0] >> 3) & 0x7
        head = bytes([(0 << 6) | (version << 3) | 4, 1, data[2], 0xEC])  # LI 0, mode server, stratum 1
        body = struct.pack("!II", 0, 0) + b"LOCL" + ntp(received) + data[40:48] + ntp(received) + ntp(time.time())
        sock.sendto(head + body, addr)


if __name__ == "__main__":
    main()
