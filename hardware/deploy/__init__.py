"""Deployment files shipped with the package: systemd units, udev rules, modprobe blacklist.

Install them from the installed package (see docs/hardware.md)::

    D=$(python -c 'import hardware.deploy as d; print(d.DIR)')
    sudo install -m 644 "$D/99-privcard-readers.rules" /etc/udev/rules.d/
"""

from pathlib import Path

DIR = Path(__file__).resolve().parent
FILES = (
    "privcard-gate@.service",
    "privcard-server.service",
    "privcard-kiosk@.service",
    "99-privcard-readers.rules",
    "blacklist-privcard-nfc.conf",
)


def path(name: str) -> Path:
    """The installed path of one deployment file, e.g. ``path("privcard-server.service")``."""
    if name not in FILES:
        raise FileNotFoundError(f"no deployment file {name!r} (have: {', '.join(FILES)})")
    return DIR / name
