"""How a gate-side process runs (``privcard gate``, ``privcard sip2-proxy``): logging, and a known error as one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable


def run_process(
    prog: str, args: argparse.Namespace, run: Callable[[argparse.Namespace], int], errors: tuple[type[Exception], ...]
) -> int:
    """Log to stderr (debug with ``-v``), call ``run(args)``; one of ``errors`` becomes ``prog: error`` and exit 1.

    With ``-v`` the error is raised instead (a traceback).
    """
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("broker.client.paho").setLevel(logging.WARNING)
    try:
        return run(args)
    except errors as exc:
        if args.verbose:
            raise
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
