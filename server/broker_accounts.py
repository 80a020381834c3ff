"""``privcard admin device credentials ID``: a device's (or the server's) Mosquitto account.

    privcard admin device credentials gate-1 --password-file /etc/mosquitto/privcard/passwd \\
        --broker-url 'mqtts://broker.library.example:8883?ca=/etc/privcard/ca.pem'

writes (or replaces) gate-1's entry with a fresh random password and prints the
``--mqtt`` URL and the env file the device's systemd unit needs. The password-file
format lives in :mod:`broker.mosquitto.credentials` (the bus's own files, no server
import); this module refuses an unregistered device id and has the service layer
(``svc.devices.record_credentials``) record who issued credentials in the audit log (never the password).

It also writes the device's block of the ACL (:mod:`broker.mosquitto.access`: the topics
its kind may send), and owns the other commands that touch the broker's files:

    privcard admin device retire gate-1       # refused by the server; password and ACL entry removed
    privcard admin device reactivate gate-1   # back in service (issue new credentials)
    privcard admin device acl                 # the ACL's device section and retired passwords, from the database
"""

from __future__ import annotations

import argparse
import json
import os

from broker.mosquitto.access import DEFAULT_ACL_FILE, AccessError, write_devices
from broker.mosquitto.credentials import (
    DEFAULT_BROKER_URL,
    DEFAULT_PASSWORD_FILE,
    SERVER_USERNAME,
    CredentialsError,
    make_credentials,
    remove_entry,
)
from server import store
from server.services import NotFound, ServiceError

RELOAD = "systemctl reload mosquitto   # or: kill -HUP $(pidof mosquitto)"


def register(device_sub, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``credentials`` to ``privcard admin device`` (``parents``: the admin CLI's common options)."""
    p = device_sub.add_parser(
        "credentials",
        parents=parents,
        help="create the device's MQTT password (Mosquitto password file) and print its settings",
    )
    p.add_argument("id", help="device id (= MQTT username); ignored with --server-account")
    p.add_argument(
        "--password-file",
        default=DEFAULT_PASSWORD_FILE,
        help="Mosquitto password_file to update (default %(default)s; env PRIVCARD_MQTT_PASSWORD_FILE)",
    )
    p.add_argument(
        "--broker-url",
        default=DEFAULT_BROKER_URL,
        help="how the device reaches the broker, without user/password (default %(default)s; env PRIVCARD_BROKER_URL)",
    )
    p.add_argument(
        "--server-account",
        action="store_true",
        help=f"create the server's account ({SERVER_USERNAME}) instead of a device's",
    )
    p.add_argument("--force", action="store_true", help="allow a device id that is not registered (yet)")
    _acl_option(p)
    p.set_defaults(handler=run)

    r = device_sub.add_parser(
        "retire",
        parents=parents,
        help="retire a device: the server refuses it; its broker password and ACL entry are removed",
    )
    r.add_argument("id")
    r.add_argument(
        "--password-file", default=DEFAULT_PASSWORD_FILE, help="Mosquitto password_file (default %(default)s)"
    )
    _acl_option(r)
    r.set_defaults(handler=run_retire)
    a = device_sub.add_parser(
        "reactivate", parents=parents, help="bring a retired device back (then issue credentials again)"
    )
    a.add_argument("id")
    _acl_option(a)
    a.set_defaults(handler=run_reactivate)
    acl = device_sub.add_parser(
        "acl",
        parents=parents,
        help="bring the broker's files in line with the database: the ACL's device section "
        "(what each device may publish) and no password for retired devices",
    )
    acl.add_argument(
        "--password-file", default=DEFAULT_PASSWORD_FILE, help="Mosquitto password_file (default %(default)s)"
    )
    _acl_option(acl)
    acl.set_defaults(handler=run_acl)


def _acl_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--acl-file",
        default=DEFAULT_ACL_FILE,
        help="Mosquitto acl_file whose device section is rewritten (default %(default)s; env PRIVCARD_MQTT_ACL_FILE)",
    )


def active_devices() -> dict[str, str]:
    """Registered, not retired devices: id -> kind (what the ACL's device section lists)."""
    q = store.Device.select(store.Device.id, store.Device.kind).where(store.Device.retired_at.is_null())
    return {d.id: d.kind for d in q}


def write_acl(acl_file: str) -> int:
    """Rewrite the ACL's device section from the database; the number of devices in it."""
    devices = active_devices()
    try:
        write_devices(acl_file, devices)
    except AccessError as exc:
        raise ServiceError(str(exc)) from None
    return len(devices)


def sync(password_file: str, acl_file: str) -> dict:
    """Bring the broker's files in line with the database.

    The ACL's device section lists every active device (what its kind may publish), and
    retired devices' password entries are removed. Mosquitto applies it on reload.
    """
    retired = [d.id for d in store.Device.select(store.Device.id).where(store.Device.retired_at.is_null(False))]
    try:
        removed = [device_id for device_id in retired if remove_entry(password_file, device_id)]
    except CredentialsError as exc:
        raise ServiceError(str(exc)) from None
    n = write_acl(acl_file)
    return {"password_file": password_file, "acl_file": acl_file, "devices": n, "removed": removed, "reload": RELOAD}


def sync_if_configured() -> dict | None:
    """:func:`sync` with the default files, when ``PRIVCARD_MQTT_PASSWORD_FILE`` is set (the console, the API).

    The web process usually runs as another user than the broker's files' owner: it only
    touches them when the deployment says where they are.
    """
    if not os.environ.get("PRIVCARD_MQTT_PASSWORD_FILE"):
        return None
    try:
        return sync(
            os.environ["PRIVCARD_MQTT_PASSWORD_FILE"], os.environ.get("PRIVCARD_MQTT_ACL_FILE", DEFAULT_ACL_FILE)
        )
    except ServiceError as exc:  # the database change stands; say what is left to do
        return {"error": str(exc), "todo": "privcard admin device acl"}


def run_retire(args, svc) -> int:
    """Handle ``privcard admin device retire``."""
    dev = svc.devices.retire(args.id, actor=args.actor)
    info = {"id": dev.id, "retired": True} | sync(args.password_file, args.acl_file)
    _print(
        args,
        info,
        f"retired {dev.id}: the server refuses it now; password entry "
        f"{'removed from' if dev.id in info['removed'] else 'was not in'} {args.password_file}; "
        f"ACL {args.acl_file} rewritten\nreload Mosquitto so it takes effect: {RELOAD}",
    )
    return 0


def run_reactivate(args, svc) -> int:
    """Handle ``privcard admin device reactivate``."""
    dev = svc.devices.reactivate(args.id, actor=args.actor)
    write_acl(args.acl_file)
    _print(
        args,
        {"id": dev.id, "retired": False, "acl_file": args.acl_file},
        f"{dev.id} is active again; give it a password: privcard admin device credentials {dev.id}",
    )
    return 0


def run_acl(args, svc) -> int:
    """Handle ``privcard admin device acl``."""
    info = sync(args.password_file, args.acl_file)
    _print(
        args,
        info,
        f"{args.acl_file}: {info['devices']} active device(s); retired devices' passwords removed: "
        f"{', '.join(info['removed']) or 'none'}\nreload Mosquitto so it takes effect: {RELOAD}",
    )
    return 0


def _print(args, data: dict, text: str) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2) if getattr(args, "json", False) else text)


def run(args, svc) -> int:
    """Handle ``privcard admin device credentials`` (``svc``: the admin CLI's service layer)."""
    if not args.server_account and not args.force:
        dev = store.Device.get_or_none(store.Device.id == args.id)
        if dev is None:
            raise NotFound(
                f"no device {args.id}; register it first (privcard admin device add {args.id} ...) or pass --force"
            )
        if dev.retired_at is not None:
            raise ServiceError("device %(id)s is retired", id=args.id)
    try:
        info = make_credentials(args.id, args.password_file, args.broker_url, server=args.server_account)
    except CredentialsError as exc:
        raise ServiceError(str(exc)) from None
    if not args.server_account:
        write_acl(args.acl_file)
        svc.devices.record_credentials(
            args.actor, info["username"], password_file=info["password_file"], replaced=info["replaced"]
        )
    if getattr(args, "json", False):
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    who = "server account" if args.server_account else f"device {info['username']}"
    verb = "replaced" if info["replaced"] else "added"
    print(f"{who}: password entry {verb} in {info['password_file']}")
    print(f"reload Mosquitto so it takes effect: {info['reload']}")
    print()
    print(f"password: {info['password']}")
    print(f"--mqtt '{info['mqtt_url']}'")
    print()
    print(
        f"env file for the systemd unit ({info['env_path']}, mode 0600; add the other settings, e.g. "
        f"{'PRIVCARD_SERVER_ARGS=--db ...' if args.server_account else 'PRIVCARD_GATE_ARGS=--reader nfc:usb'}):"
    )
    print(info["env_file"], end="")
    return 0
