"""The booted system: one container per test module (building it is the slow part)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.system import machine


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The wheel, the wheelhouse and the cached rootfs, once per run; FAILS (never skips) when the host cannot build them."""
    try:
        tarball = machine.rootfs_tarball()
    except machine.BootError as exc:
        pytest.fail(f"NO BOOTED SYSTEM: {exc}", pytrace=False)
    dist = tmp_path_factory.mktemp("dist")
    wheel = machine.build_wheel(dist)
    house = machine.wheelhouse(wheel)
    return tarball, wheel, house


@pytest.fixture(scope="module")
def booted(built, tmp_path_factory):
    """A booted container with /dist (the wheel) and /wheelhouse bound read-only."""
    tarball, wheel, house = built
    work = tmp_path_factory.mktemp("machine")
    box = machine.Machine.unpack(tarball, work, {"/dist": wheel.parent, "/wheelhouse": house})
    try:
        box.boot_seconds = box.boot()
    except machine.BootError as exc:
        pytest.fail(f"NO BOOTED SYSTEM: the container cannot boot here: {exc}", pytrace=False)
    box.wheel = f"/dist/{wheel.name}"
    yield box
    box.poweroff()
    if not os.environ.get("PRIVCARD_KEEP_MACHINE"):
        shutil.rmtree(work, ignore_errors=True)
