"""``privcard admin device credentials ID``: a device's (or the server's) Mosquitto account.

    privcard admin device credentials gate-1 --password-file /etc/mosquitto/privcard/passwd \\
        --broker-url 'mqtts://broker.library.example:8883?ca=/etc/privcard/ca.pem'

writes (or replaces) gate-1's entry with a fresh random password and prints the
``--mqtt`` URL and the env file the device's systemd unit needs. The password-file
format lives in :mod:`broker.mosquitto.credentials` (the bus's own files, no server
import); this module refuses an unregistered device id and has the service layer
(``svc.devices.record_credentials``) record who issued credentials in the audit log (never the password).
"""

from __future__ import annotations

import argparse
import json

from broker.mosquitto.credentials import (
    DEFAULT_BROKER_URL,
    DEFAULT_PASSWORD_FILE,
    SERVER_USERNAME,
    CredentialsError,
    make_credentials,
)
from server import store
from server.services import NotFound, ServiceError


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
    p.set_defaults(handler=run)


def run(args, svc) -> int:
    """Handle ``privcard admin device credentials`` (``svc``: the admin CLI's service layer)."""
    if not args.server_account and not args.force:
        if store.Device.get_or_none(store.Device.id == args.id) is None:
            raise NotFound(
                f"no device {args.id}; register it first (privcard admin device add {args.id} ...) or pass --force"
            )
    try:
        info = make_credentials(args.id, args.password_file, args.broker_url, server=args.server_account)
    except CredentialsError as exc:
        raise ServiceError(str(exc)) from None
    if not args.server_account:
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
