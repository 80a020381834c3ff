"""The shipped deployment files say what the deployment notes promise."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hardware import deploy


def unit_settings(name: str) -> dict[str, list[str]]:
    """Key -> values of a systemd unit file (comments dropped)."""
    settings: dict[str, list[str]] = {}
    for line in deploy.path(name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("name", ["privcard-gate@.service", "privcard-server.service"])
def test_units_restart_notify_and_are_hardened(name):
    unit = unit_settings(name)
    assert unit["Type"] == ["notify"]
    assert unit["Restart"] == ["always"]
    assert unit["WatchdogSec"] == ["30"]
    assert "RestartSec" in unit
    assert unit["User"] == ["privcard"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["ReadWritePaths"] == ["/var/lib/privcard"]
    assert unit["NoNewPrivileges"] == ["yes"]


def test_gate_unit_is_per_device_id():
    unit = unit_settings("privcard-gate@.service")
    assert unit["EnvironmentFile"] == ["/etc/privcard/%i.env"]
    assert "%i" in unit["ExecStart"][0]
    assert "PrivateDevices" not in unit  # the gate needs its reader and GPIO


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    for name in ("privcard-gate@.service", "privcard-server.service"):
        text = deploy.path(name).read_text().replace("/opt/privcard/venv/bin/privcard", "/bin/true")
        target = tmp_path / (name.replace("@.", "@gate-north.") if "@" in name else name)
        target.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "privcard" not in result.stderr, result.stderr


def test_udev_rules_cover_every_usb_reader_nfcpy_drives():
    device = pytest.importorskip("nfc.clf.device")
    rules = deploy.path("99-privcard-readers.rules").read_text()
    for vid, pid in device.usb_device_map:
        pattern = rf'ATTR\{{idVendor\}}=="{vid:04x}", ATTR\{{idProduct\}}=="{pid:04x}", GROUP="privcard"'
        assert re.search(pattern, rules), f"no rule for {vid:04x}:{pid:04x}"
    assert 'SYMLINK+="privcard-reader"' in rules
    for tty in ("ttyAMA0", "ttyS0"):
        assert f'KERNEL=="{tty}", GROUP="privcard"' in rules
    # Every GOTO has its LABEL, or udev silently skips the rest of the file.
    for label in re.findall(r'GOTO="([^"]+)"', rules):
        assert f'LABEL="{label}"' in rules


def test_kernel_nfc_drivers_are_blacklisted():
    lines = deploy.path("blacklist-privcard-nfc.conf").read_text().splitlines()
    blacklisted = {line.split()[1] for line in lines if line.startswith("blacklist ")}
    assert {"pn533_usb", "pn533", "port100"} <= blacklisted
