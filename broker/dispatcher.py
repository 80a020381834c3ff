"""The ``privcard`` command: one entry point, one subcommand per role, found not named.

Each role registers its subcommands in the ``privcard.commands`` entry-point group
(pyproject.toml), tagged with the extra that installs it::

    [project.entry-points."privcard.commands"]
    gate = "gate.main:main [gate]"

so this dispatcher names no package above ``broker``. A subcommand is offered only
when every requirement of its extra is installed here (markers evaluated for this
machine, e.g. evdev only on Linux): a Pi with only ``privcard[gate]`` lists ``gate``
and ``broker``, not ``server`` or ``kiosk``. Running a role that is not installed
says so in one line, exit status 2, before anything of that role is imported.

The one-line help in the listing is the first line of the target module's docstring,
read from its source with :mod:`ast` — the module already says what it is, and
executing it (or its package's ``__init__``) would pull in Kivy, peewee or Flask just
to print ``--help``. :func:`command_help` finds the file without importing anything.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from functools import cache
from importlib import metadata

GROUP = "privcard.commands"
DIST = "privcard"


@dataclass(frozen=True)
class Command:
    """One ``privcard`` subcommand as registered by a role."""

    name: str
    entry_point: metadata.EntryPoint

    @property
    def extras(self) -> tuple[str, ...]:
        """The extras (roles) the command needs, e.g. ``("server",)``."""
        return tuple(self.entry_point.extras)

    @property
    def dist_name(self) -> str:
        """The distribution that registered it (``privcard`` unless a plug-in did)."""
        dist = self.entry_point.dist
        return dist.metadata["Name"] if dist is not None else DIST


def commands() -> dict[str, Command]:
    """Every registered subcommand, by name (installed or not)."""
    found = {}
    for ep in metadata.entry_points(group=GROUP):
        found.setdefault(ep.name, Command(ep.name, ep))
    return dict(sorted(found.items(), key=lambda kv: kv[0]))


def _installed(requirement) -> bool:
    """Whether a :class:`packaging.requirements.Requirement` is satisfied here."""
    try:
        have = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return False
    return not requirement.specifier or requirement.specifier.contains(have, prereleases=True)


def _requires(dist_name: str) -> list[str] | None:
    """The distribution's Requires-Dist lines (None if it is not installed)."""
    try:
        return metadata.distribution(dist_name).requires or []
    except metadata.PackageNotFoundError:
        return None


@cache
def missing_requirements(dist_name: str, extra: str, _seen: frozenset = frozenset()) -> tuple[str, ...]:
    """The requirements ``pip install 'dist[extra]'`` adds that this machine lacks (empty: the role is installed).

    Only requirements whose marker holds for ``extra`` on this platform count (a
    requirement marked ``sys_platform == 'linux'`` is not needed elsewhere); an extra
    that names the distribution's own extras (``privcard[server,gate]``) is followed.
    """
    from packaging.requirements import Requirement  # only when a role is checked

    requires = _requires(dist_name)
    if requires is None:
        return (dist_name,)
    missing: list[str] = []
    for text in requires:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        if req.marker.evaluate({"extra": ""}):
            continue  # holds without the extra: a core dependency, installed with the distribution
        if _canon(req.name) == _canon(dist_name):
            for sub in sorted(req.extras - _seen - {extra}):
                missing += missing_requirements(dist_name, sub, _seen | {extra})
        elif not _installed(req):
            missing.append(str(req).split(";")[0].strip())
    return tuple(missing)


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def available(cmd: Command) -> bool:
    """Whether every extra the command needs is installed here."""
    return not any(missing_requirements(cmd.dist_name, extra) for extra in cmd.extras)


def _module_file(module: str) -> str | None:
    """The source file of ``a.b.c`` found without importing ``a`` or ``a.b`` (None if not found)."""
    parts = module.split(".")
    # a top-level name is found without executing anything (this also asks the finder
    # an editable install puts on sys.meta_path); submodules by path, so no __init__ runs
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    for part in parts[1:]:
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec.origin if spec is not None and spec.has_location else None


def command_help(cmd: Command) -> str:
    """The first line of the command module's docstring, without its ``privcard NAME:`` label."""
    path = _module_file(cmd.entry_point.module)
    if path is None:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read(), path)) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    first = re.sub(r"^``privcard [\w-]+``:\s*", "", doc.strip().split("\n", 1)[0].strip())
    first = first.replace("``", "").rstrip(".")
    return first[:1].lower() + first[1:] if first[1:2].islower() else first


def usage(cmds: dict[str, Command] | None = None) -> str:
    """The top-level help text: the commands installed on this machine."""
    cmds = commands() if cmds is None else cmds
    here = [c for c in cmds.values() if available(c)]
    lines = ["usage: privcard COMMAND [ARGS...]", "", "commands:"]
    width = max((len(c.name) for c in here), default=8)
    lines += [f"  {c.name:<{width}} {command_help(c)}".rstrip() for c in here] or ["  (none installed)"]
    absent = sorted({e for c in cmds.values() if c not in here for e in c.extras})
    if absent:
        lines += ["", "roles not installed here: " + ", ".join(absent) + f" (pip install '{DIST}[ROLE]' adds one)"]
    lines += ["", "Run 'privcard COMMAND --help' for a command's options."]
    return "\n".join(lines)


def _version() -> str:
    try:
        return metadata.version(DIST)
    except metadata.PackageNotFoundError:
        return f"{DIST} (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand's ``main(argv) -> int``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-V", "--version"):
        print(_version())
        return 0
    cmds = commands()
    if not cmds:
        print(
            f"privcard: no commands registered (entry-point group {GROUP!r}); "
            f"install the distribution, e.g. pip install -e '.[all]'",
            file=sys.stderr,
        )
        return 2
    if not argv or argv[0] in ("-h", "--help", "help"):
        try:
            print(usage(cmds), flush=True)
        except BrokenPipeError:  # `privcard --help | head`: the reader left; not an error to report
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    cmd = cmds.get(name)
    if cmd is None:
        print(f"privcard: unknown command {name!r}\n\n{usage(cmds)}", file=sys.stderr)
        return 2
    for extra in cmd.extras:
        if missing_requirements(cmd.dist_name, extra):
            print(
                f"privcard {name}: the {extra!r} role is not installed on this machine; "
                f"install it with: pip install '{cmd.dist_name}[{extra}]'",
                file=sys.stderr,
            )
            return 2
    try:
        func = cmd.entry_point.load()
    except ImportError as exc:
        print(
            f"privcard {name}: cannot start, a dependency is missing: {exc}. "
            f"Install the right extra, e.g. pip install '{DIST}[all]'",
            file=sys.stderr,
        )
        return 1
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
