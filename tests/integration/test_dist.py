"""`make dist`: the wheel carries every file the roles need at run time, and setup/doctor."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: what an installed role opens from its own package directory
REQUIRED = [
    "hardware/deploy/privcard-gate@.service",
    "hardware/deploy/privcard-server.service",
    "hardware/deploy/privcard-kiosk@.service",
    "hardware/deploy/99-privcard-readers.rules",
    "hardware/deploy/blacklist-privcard-nfc.conf",
    "broker/mosquitto/mosquitto.conf",
    "broker/mosquitto/acl",
    "broker/mosquitto/dev.conf",
    "server/domain/programme.toml",
    "install/files/journald-privcard.conf",
    "install/files/journald-volatile.conf",
    "install/files/watchdog-privcard.conf",
    "install/files/wifi-powersave-off.conf",
    "install/files/timesyncd-privcard.conf",
    "install/setup.py",
    "install/doctor.py",
]


@pytest.mark.slow
def test_wheel_and_sdist_carry_the_roles_files(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(REPO)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("privcard-*.whl")
    (sdist,) = tmp_path.glob("privcard-*.tar.gz")
    version = wheel.name.split("-")[1]
    assert sdist.name == f"privcard-{version}.tar.gz"
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in REQUIRED if n not in names]
    assert not missing, f"not in the wheel: {missing}"
    # every kv file, font, template and static file of the checkout is in the wheel
    for pattern in ("kiosk/**/*.kv", "kiosk/**/*.ttf", "server/web/templates/**/*.html", "server/web/static/**/*"):
        for p in REPO.glob(pattern):
            if p.is_file():
                assert str(p.relative_to(REPO)) in names, f"{p.relative_to(REPO)} is not in the wheel"
    entry_points = zipfile.ZipFile(wheel).read(f"privcard-{version}.dist-info/entry_points.txt").decode()
    assert "setup = install.setup:main" in entry_points and "doctor = install.doctor:main" in entry_points
