"""Figures for docs/benchmarks.md: setup time per role, footprint, gate boot-to-ready.

    sudo .venv/bin/python -m tests.system.measure

Boots the cached rootfs (tests/system/machine.py), runs the documented install, lets
the services idle for 30 s, then reboots once and reads the gate's READY time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from tests.system import machine
from tests.system.test_booted import UNITS, install, wait_for, wait_synchronised


def rss_kib(box, unit: str) -> int:
    pid = box.sh(f"systemctl show -p MainPID --value {unit}").stdout.strip()
    return int(box.sh(f"ps -o rss= -p {pid}").stdout.strip())


def main() -> None:
    tarball = machine.rootfs_tarball()
    work = Path(tempfile.mkdtemp(prefix="privcard-measure-"))
    wheel = machine.build_wheel(work / "dist")
    house = machine.wheelhouse(wheel)
    box = machine.Machine.unpack(tarball, work / "m", {"/dist": wheel.parent, "/wheelhouse": house})
    figures: dict = {"boot_s": round(box.boot(), 1)}
    box.wheel = f"/dist/{wheel.name}"
    try:
        figures["install_s"] = {k: round(v, 1) for k, v in install(box).items()}
        wait_synchronised(box)
        time.sleep(30)
        figures["rss_kib_idle"] = {u: rss_kib(box, u) for u in UNITS}
        figures["disk"] = {
            p: box.sh(f"du -sh {p} | cut -f1").stdout.strip()
            for p in ("/opt/privcard/venvs", "/var/lib/privcard", "/etc/privcard")
        }
        box.reboot()
        for unit in UNITS:
            wait_for(
                lambda unit=unit: box.sh(f"systemctl is-active {unit}", check=False).stdout.strip() == "active", 60
            )
        start = int(box.sh("systemctl show -p UserspaceTimestampMonotonic --value").stdout.strip())
        ready = {
            u: (int(box.sh(f"systemctl show -p ActiveEnterTimestampMonotonic --value {u}").stdout.strip()) - start)
            / 1e6
            for u in UNITS
        }
        figures["boot_to_ready_s"] = {u: round(v, 2) for u, v in ready.items()}
    finally:
        box.poweroff()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
