"""make this machine a privcard server, gate, kiosk or site broker in one command (run as root).

    sudo privcard setup server --host broker.library.example
    sudo privcard setup device-credentials gate-north --kind gate --host broker.library.example
    sudo privcard setup gate --device-id gate-north --reader nfc:usb \\
         --mqtt 'mqtts://gate-north:PASSWORD@broker.library.example:8883?ca=/etc/privcard/ca.pem' --ca ca.pem
    sudo privcard setup gate --upgrade privcard-1.3.0-py3-none-any.whl
    sudo privcard setup site-broker --bundle NORTH.bundle --host north-broker.library.example

Idempotent (a second run changes nothing), ``--dry-run`` prints every change and makes
none, and a file a person edited is kept (and named) unless ``--force``. ``--root DIR``
writes the files under DIR and only lists the commands (tests, image builders).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from install import roles
from install.plan import Plan, SetupError, load_manifest
from install.thai import Text, say

PROG = "privcard setup"


def installed_wheel() -> str | None:
    """The wheel this privcard was installed from (pip's direct_url.json), if it still exists."""
    try:
        text = metadata.distribution("privcard").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    url = json.loads(text).get("url", "")
    if url.startswith("file://") and url.endswith(".whl"):
        path = unquote(urlsplit(url).path)
        return path if os.path.exists(path) else None
    return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="privcard setup", description="Install and configure a privcard role on this machine (run as root)."
    )
    p.add_argument("role", choices=[*roles.ROLES, "device-credentials"], help="what this machine is")
    p.add_argument("id", nargs="?", help="device-credentials: the device id")
    p.add_argument("--dry-run", action="store_true", help="print every change, make none")
    p.add_argument("--force", action="store_true", help="replace files a person edited")
    p.add_argument("--root", default="/", help="write under this directory instead of / (commands are only listed)")
    p.add_argument("--wheel", help="the privcard wheel to install (default: the one this privcard came from)")
    p.add_argument("--find-links", action="append", default=[], help="a wheelhouse directory for pip (repeatable)")
    p.add_argument("--no-index", action="store_true", help="install only from --find-links (offline)")
    p.add_argument(
        "--upgrade", metavar="WHEEL", help="install this wheel beside the current venv; roll back on failure"
    )
    p.add_argument("--no-start", action="store_true", help="install and enable, but do not start the services")
    g = p.add_argument_group("server (and site broker: --host, --cert, --key, --ca)")
    g.add_argument("--db", default=roles.DEFAULT_DB, help="database URL (default %(default)s)")
    g.add_argument("--http", default="127.0.0.1:8080", help="web console address (default %(default)s)")
    g.add_argument("--host", action="append", default=[], help="broker name or address devices use (repeatable)")
    g.add_argument("--cert", help="the broker's TLS certificate (with --key and --ca; default: a private CA)")
    g.add_argument("--key", help="its private key")
    g.add_argument("--programme", help="programme TOML (default: the shipped one)")
    d = p.add_argument_group("gate and kiosk")
    d.add_argument("--device-id", help="this device's id, as registered on the server")
    d.add_argument("--mqtt", help="broker URL with the device's password (from device-credentials)")
    d.add_argument("--reader", help="card reader spec (default nfc:usb; see docs/hardware.md)")
    d.add_argument("--ca", help="the broker's CA certificate (copied to /etc/privcard/ca.pem)")
    d.add_argument("--gpio-factory", help="gpiozero pin factory (lgpio on a Pi 5/4; mock for tests)")
    d.add_argument("--kind", default="gate", help="device-credentials: gate, counter or kiosk")
    b = p.add_argument_group("site broker (a branch's Mosquitto bridged to the central broker)")
    b.add_argument(
        "--bundle",
        help="the site's bundle, written on the central server by "
        "`privcard admin site bridge SITE --central HOST:PORT --bundle FILE` (--host: this broker's names)",
    )
    h = p.add_argument_group("hardening")
    h.add_argument(
        "--logs", choices=["persistent", "volatile"], default="persistent", help="journal on disk (capped) or in RAM"
    )
    h.add_argument("--ntp", help="NTP server(s) for systemd-timesyncd (default: the distribution's)")
    p.add_argument("--json", action="store_true", help="device-credentials: print JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = Path(args.root)
    if root == Path("/") and os.geteuid() != 0 and not args.dry_run:
        say(PROG, Text("run as root (sudo), or with --dry-run to see what it would do"))
        return 2
    try:
        if args.role == "device-credentials":
            return device_credentials(args)
        if args.upgrade:
            return upgrade(args)
        return setup(args)
    except SetupError as exc:  # English, then Thai, as privcard admin says its refusals
        say(PROG, exc)
        return 1


def options(args) -> roles.Options:
    wheel = args.upgrade or args.wheel or installed_wheel()
    return roles.Options(
        role=args.role,
        wheel=wheel,
        find_links=args.find_links,
        no_index=args.no_index,
        db=args.db,
        http=args.http,
        hosts=args.host,
        cert=args.cert,
        key=args.key,
        ca=args.ca,
        programme=args.programme,
        device_id=args.device_id or _known_device(args),
        mqtt=args.mqtt,
        reader=args.reader,
        gpio_factory=args.gpio_factory,
        bundle=args.bundle,
        logs=args.logs,
        ntp=args.ntp,
        start=not args.no_start,
    )


def _known_device(args) -> str | None:
    settings = load_manifest(args.root).get("settings", {})
    return (settings.get(args.role) or {}).get("device_id")


def setup(args) -> int:
    started = time.monotonic()
    plan = Plan(Path(args.root), dry_run=args.dry_run, force=args.force)
    opts = options(args)
    try:
        {"server": roles.server, "site-broker": roles.site_broker}.get(args.role, roles.device)(plan, opts)
    finally:
        plan.save()
    took = time.monotonic() - started
    if not plan.changes:
        print(f"privcard setup {args.role}: no changes ({took:.1f} s)")
    else:
        verb = "would make" if args.dry_run else "made"
        print(f"privcard setup {args.role}: {verb} {len(plan.changes)} change(s) in {took:.1f} s")
    if plan.kept:
        say(
            PROG,
            Text(
                "kept %(n)s edited file(s): %(files)s (--force replaces them)",
                n=len(plan.kept),
                files=", ".join(plan.kept),
            ),
        )
        return 3
    return 0


# --------------------------------------------------------------------------- upgrade


def upgrade(args) -> int:
    """Install WHEEL in a new venv beside the current one, switch, restart, check; roll back on failure."""
    plan = Plan(Path(args.root), dry_run=args.dry_run, force=args.force)
    settings = plan.manifest.get("settings", {})
    if args.role not in settings.get("roles", []):
        raise SetupError("this machine has no %(role)s role yet: run privcard setup %(role)s first", role=args.role)
    old = settings.get("version")
    new = roles.wheel_version(args.upgrade)
    if old == new:
        print(f"privcard {new} is already installed")
        return 0
    target = f"{roles.OPT}/venvs/{new}"
    if plan.path(target).exists() and not plan.dry_run:
        shutil.rmtree(plan.path(target))  # a half-made venv from a failed attempt
    # every role this machine has (a server that is also a gate needs both extras)
    roles.install_venv(plan, target, args.upgrade, settings["roles"], args.find_links, args.no_index)
    units = roles.units_of(settings)
    db = (settings.get("server") or {}).get("db")
    backup = None
    if db and db.startswith("sqlite:///") and plan.real and not plan.dry_run:
        backup = _sqlite_backup(db[len("sqlite:///") :], old or "old")
    roles.switch(plan, new)
    ok, why = True, None
    try:
        if db:
            roles.migrate(plan, db)
        ok, why = _restart_and_check(plan, units)
    except SetupError as exc:
        ok, why = False, exc
    if ok:
        plan.setting("version", new)
        plan.save()
        print(f"privcard setup {args.role}: upgraded {old} -> {new}; {', '.join(units)} active")
        return 0
    say(f"{PROG} {args.role}", Text("%(version)s failed its health check: %(why)s", version=new, why=why))
    if old is None:
        return 1
    roles.switch(plan, old)
    if backup:
        _sqlite_restore(backup, db[len("sqlite:///") :], plan)
    ok_old, why_old = _restart_and_check(plan, units)
    plan.save()
    back = (
        Text("rolled back to %(version)s (serving)", version=old)
        if ok_old
        else Text("rolled back to %(version)s (NOT serving: %(why)s)", version=old, why=why_old)
    )
    say(f"{PROG} {args.role}", back)
    return 1


def _restart_and_check(plan: Plan, units: list[str], settle_s: float = 8.0) -> tuple[bool, Text | None]:
    """Restart the privcard units; healthy when each is active now and still active after ``settle_s``
    (else False and why, in both languages)."""
    mine = [u for u in units if u.startswith("privcard-")]
    for unit in mine:
        if plan.run(["systemctl", "restart", unit], "the new version", check=False) != 0:
            return False, Text("%(unit)s did not start (journalctl -u %(unit)s)", unit=unit)
    if not plan.real or plan.dry_run:
        return True, None
    restarts = {unit: _restarts(unit) for unit in mine}
    time.sleep(settle_s)
    for unit in mine:
        state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True).stdout.strip()
        if state != "active":
            return False, Text("%(unit)s is %(state)s (journalctl -u %(unit)s)", unit=unit, state=state)
        if _restarts(unit) != restarts[unit]:
            return False, Text("%(unit)s restarted by itself after the upgrade (journalctl -u %(unit)s)", unit=unit)
    return True, None


def _restarts(unit: str) -> str:
    """systemd's count of a unit's automatic restarts (NRestarts)."""
    done = subprocess.run(["systemctl", "show", "-p", "NRestarts", "--value", unit], capture_output=True, text=True)
    return done.stdout.strip()


def _sqlite_backup(path: str, label: str) -> str | None:
    """An online backup of the SQLite database before migrating (restored on rollback)."""
    if not os.path.exists(path):
        return None
    dest = f"{path}.before-{label}"
    with sqlite3.connect(path) as src, sqlite3.connect(dest) as out:
        src.backup(out)
    shutil.copystat(path, dest)
    st = os.stat(path)
    os.chown(dest, st.st_uid, st.st_gid)
    return dest


def _sqlite_restore(backup: str, path: str, plan: Plan) -> None:
    subprocess.run(["systemctl", "stop", "privcard-server.service"], check=False)
    for suffix in ("-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    st = os.stat(path)
    os.replace(backup, path)
    os.chown(path, st.st_uid, st.st_gid)
    plan.note(f"database restored from the backup taken before the upgrade ({backup})")


# --------------------------------------------------------------------------- device credentials


def device_credentials(args) -> int:
    """Register a device (if new), issue its broker password, and print what to copy to the Pi."""
    if not args.id:
        raise SetupError("privcard setup device-credentials ID")
    settings = load_manifest(args.root).get("settings", {})
    server = settings.get("server")
    if not server:
        raise SetupError("run this on the server, after privcard setup server")
    db = server["db"]
    privcard = f"{roles.VENV}/bin/privcard"
    shown = subprocess.run(
        ["runuser", "-u", roles.USER, "--", privcard, "admin", "device", "show", args.id, "--db", db],
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0:
        add = subprocess.run(
            [
                "runuser",
                "-u",
                roles.USER,
                "--",
                privcard,
                "admin",
                "device",
                "add",
                args.id,
                "--kind",
                args.kind,
                "--db",
                db,
            ],
            capture_output=True,
            text=True,
        )
        if add.returncode != 0:
            raise SetupError(
                "cannot register %(id)s: %(output)s", id=args.id, output=(add.stderr or add.stdout).strip()
            )
    host = (args.host or [_first_host()])[0]
    url = f"mqtts://{host}:8883?ca={roles.ETC}/ca.pem"
    done = subprocess.run(
        [privcard, "admin", "device", "credentials", args.id, "--db", db, "--json", "--broker-url", url],
        capture_output=True,
        text=True,
    )
    _own_database(db)
    if done.returncode != 0:
        raise SetupError("cannot issue credentials: %(output)s", output=(done.stderr or done.stdout).strip())
    info = json.loads(done.stdout)
    subprocess.run(["systemctl", "reload-or-restart", "mosquitto.service"], check=False)
    role = "kiosk" if args.kind == "kiosk" else "gate"
    command = (
        f"sudo privcard setup {role} --device-id {args.id} --ca ca.pem --reader nfc:usb --mqtt '{info['mqtt_url']}'"
    )
    site = _bridged_site(privcard, db, args.id)
    if args.json:
        print(
            json.dumps(
                {
                    "id": args.id,
                    "mqtt_url": info["mqtt_url"],
                    "ca": f"{roles.MOSQ}/ca.pem",
                    "command": command,
                    "bridged_site": site,
                }
            )
        )
        return 0
    print(f"device {args.id}: registered, broker password issued, Mosquitto reloaded")
    if site:
        print(
            f"site {site} has a site broker (bridge-{site}): its devices connect to it, not here. Here: "
            f"privcard admin site bridge {site} --central {host}:8883 --bundle {site}.bundle; on the site broker: "
            f"privcard setup site-broker --bundle {site}.bundle (it prints {args.id}'s command, pointed at it). "
            "To connect this device to the central broker directly instead:"
        )
    print(f"1. copy {roles.MOSQ}/ca.pem and the privcard wheel to the Pi")
    print("2. on the Pi (change --reader to your reader, docs/hardware.md):")
    print(f"   {command}")
    return 0


def _bridged_site(privcard: str, db: str, device_id: str) -> str | None:
    """The device's site when that site has a bridge account on this broker (a site broker), else None."""
    from broker.mosquitto import bridge
    from broker.mosquitto.credentials import CredentialsError, read_entries

    done = subprocess.run(
        [privcard, "admin", "device", "show", device_id, "--db", db, "--json"], capture_output=True, text=True
    )
    try:
        site = json.loads(done.stdout).get("site") if done.returncode == 0 else None
        bridged = site and bridge.username(site) in read_entries(f"{roles.MOSQ}/passwd")
    except (ValueError, AttributeError, bridge.BridgeError, CredentialsError, OSError):
        return None
    return site if bridged else None


def _first_host() -> str:
    import socket

    return socket.gethostname()


def _own_database(db: str) -> None:
    """Files root's admin run created beside a SQLite database go back to the privcard user."""
    if not db.startswith("sqlite:///"):
        return
    path = db[len("sqlite:///") :]
    try:
        st = os.stat(path)
    except OSError:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.chown(path + suffix, st.st_uid, st.st_gid)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
