"""What the ``privcard admin`` command modules share: printing a result as text or ``--json``.

Used by :mod:`server.admin` and the command groups it registers (:mod:`server.programme_cli`,
:mod:`server.feedback_cli`, :mod:`server.messages_cli`).
"""

from __future__ import annotations

import json


def print_result(args, data, text: str) -> None:
    """Print ``data`` as JSON when ``--json`` was given, else the human ``text``."""
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)
