"""The ``privcard`` command: one entry point, one subcommand per process.

Each subcommand lives in the package that owns it and is imported only when used,
so a gate without Kivy or a server without nfcpy still runs its own command.
"""

from __future__ import annotations

import importlib
import sys

#: subcommand -> (module, function, one-line help)
COMMANDS = {
    "server": ("server.main", "main", "run the points server (MQTT consumer, web console)"),
    "admin": ("server.cli", "main", "staff administration: members, cards, devices, points"),
    "demo": ("server.demo", "main", "run the whole system on embedded defaults"),
    "bench": ("server.bench", "main", "benchmark the server against a raw broker echo"),
    "broker": ("broker.embedded", "main", "run the embedded MQTT broker (amqtt)"),
    "gate": ("gate.main", "main", "run a gate or counter controller"),
    "kiosk": ("kiosk.main", "main", "run the touchscreen kiosk"),
}


def usage() -> str:
    """The top-level help text."""
    lines = ["usage: privcard COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "Run 'privcard COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand's ``main(argv) -> int``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(version("privcard"))
        except PackageNotFoundError:
            print("privcard (not installed)")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"privcard: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        print(f"privcard {name}: cannot start, a dependency is missing: {exc}. "
              f"Install the right extra, e.g. pip install 'privcard[all]'", file=sys.stderr)
        return 1
    return int(getattr(module, func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
