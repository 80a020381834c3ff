"""Start the real ``privcard kiosk`` with the tests' control socket attached.

    python -m tests.ui.kiosk_launcher --control-port 0 --device-id kiosk-test --mqtt mqtt://127.0.0.1:1883

``--control-port PORT`` (0: any free port, printed as ``privcard-kiosk-control PORT``)
is this launcher's own option; every other argument goes to :func:`kiosk.main.main`
unchanged, and the socket (:mod:`tests.ui.control`) is attached through that function's
documented ``on_start`` seam, so the product kiosk imports no test code.
"""

from __future__ import annotations

import argparse
import sys

from kiosk.main import main as kiosk_main


def main(argv: list[str] | None = None) -> int:
    """Parse ``--control-port``, then run the kiosk with the control socket on start."""
    p = argparse.ArgumentParser(prog="python -m tests.ui.kiosk_launcher", add_help=False)
    p.add_argument("--control-port", type=int, required=True)
    args, rest = p.parse_known_args(argv)

    def attach(app) -> None:
        from tests.ui.control import attach as attach_control  # imports Kivy: only once the app runs

        attach_control(args.control_port)(app)

    return kiosk_main(rest, on_start=(attach,))


if __name__ == "__main__":
    sys.exit(main())
