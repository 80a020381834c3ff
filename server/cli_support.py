"""What the server's command lines share: printing a result as text or ``--json``, the ``--ils``/``--smtp`` options.

Used by :mod:`server.admin` and the command groups it registers (:mod:`server.programme_cli`,
:mod:`server.feedback_cli`, :mod:`server.messages_cli`), and by :mod:`server.main` (``privcard server``).
"""

from __future__ import annotations

import argparse
import json
import os


def print_result(args, data, text: str) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else the human ``text``."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def add_ils_smtp_options(p: argparse.ArgumentParser, *, smtp_help: str) -> None:
    """``--ils URL`` and ``--smtp URL`` (defaults ``$PRIVCARD_ILS``, ``$PRIVCARD_SMTP``); the SMTP help differs."""
    p.add_argument(
        "--ils",
        metavar="URL",
        default=os.environ.get("PRIVCARD_ILS"),
        help="library system: sip2[s]://LOGIN:PASSWORD@HOST:PORT?institution=..&location=.. "
        "(default $PRIVCARD_ILS, else [ils] url in --config; docs/ils.md)",
    )
    p.add_argument("--smtp", metavar="URL", default=os.environ.get("PRIVCARD_SMTP"), help=smtp_help)
