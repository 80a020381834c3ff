"""The one exception base of the ``hardware`` package.

Adapters translate library errors (nfcpy, pyserial, gpiozero, evdev) into
:class:`HardwareError` or a subclass, so callers never import those libraries
to catch their exceptions.
"""


class HardwareError(Exception):
    """Base for every error raised by the hardware package."""
