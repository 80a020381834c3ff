"""Hardware adapters for privcard: card readers, indicators/relay, deployment files.

This is the only package that imports nfcpy, pyserial, gpiozero and evdev, and it
imports them lazily inside the driver modules, so ``import hardware`` works on a
machine without any of them.

- :mod:`hardware.readers` -- ``open_reader("nfc:usb")`` and friends.
- :mod:`hardware.outputs` -- ``make_indicator(pins)`` (gpiozero or print).
- :mod:`hardware.systemd` -- dependency-free ``notify("READY=1")``.
- ``hardware/deploy/`` -- systemd units, udev rules, modprobe blacklist.
"""

from hardware.errors import HardwareError

__all__ = ["HardwareError"]
