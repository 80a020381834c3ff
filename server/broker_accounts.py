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
    privcard admin site bridge NORTH --central central.library.example:8883 --out /tmp/site-north
                                              # a site broker bridged to the centre (broker.mosquitto.bridge);
                                              # --bundle FILE: for `privcard setup site-broker --bundle FILE`

The central ACL has a second generated section, one block per site bridge account
(``bridge-<SITE>``: the topics of that site's active devices only); every command that
rewrites the device section rewrites it too, for the bridge accounts the password file has.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from broker.mosquitto import bridge
from broker.mosquitto.access import DEFAULT_ACL_FILE, AccessError, write_devices
from broker.mosquitto.credentials import (
    DEFAULT_BROKER_URL,
    DEFAULT_PASSWORD_FILE,
    SERVER_USERNAME,
    CredentialsError,
    make_credentials,
    new_password,
    read_entries,
    remove_entry,
    set_entry,
    verify_password,
)
from server import catalogue, store
from server.cli_support import pair, said
from server.services import NotFound, ServiceError
from server.services.devices import refuse_reserved

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


def write_acl(acl_file: str, password_file: str | None = None, device_sites: dict[str, str] | None = None) -> int:
    """Rewrite the ACL's device section, and its site-bridge section, from the database.

    The site section has a block for each bridge account (``bridge-<SITE>``) in the
    password file: the topics of its site's active devices (``device_sites``: every
    device's site, ``svc.sites.device_sites()``; without it the site section is left as it
    is). The number of devices is returned.
    """
    devices = active_devices()
    try:
        write_devices(acl_file, devices)
        if device_sites is not None:
            # the bridges the password file has, and those the ACL already lists (the
            # password file given may be another broker's, e.g. a site's)
            entries = read_entries(password_file or DEFAULT_PASSWORD_FILE)
            sites = {bridge.site_of(u) for u in list(entries) + list(bridge.read_sites(acl_file))} - {None}
            if sites:
                bridge.write_sites(acl_file, {site: site_devices(site, devices, device_sites) for site in sites})
    except (AccessError, bridge.BridgeError, CredentialsError) as exc:
        raise ServiceError.of(exc) from None
    return len(devices)


def site_devices(site: str, devices: dict[str, str], device_sites: dict[str, str]) -> dict[str, str]:
    """A site's active devices (id -> kind) from every active device and every device's site."""
    return {d: kind for d, kind in devices.items() if device_sites.get(d) == site}


def sync(password_file: str, acl_file: str, device_sites: dict[str, str] | None = None) -> dict:
    """Bring the broker's files in line with the database.

    The ACL's device section lists every active device (what its kind may publish), and
    retired devices' password entries are removed. Mosquitto applies it on reload.
    """
    retired = [d.id for d in store.Device.select(store.Device.id).where(store.Device.retired_at.is_null(False))]
    try:
        removed = [device_id for device_id in retired if remove_entry(password_file, device_id)]
    except CredentialsError as exc:
        raise ServiceError.of(exc) from None
    n = write_acl(acl_file, password_file, device_sites)
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
        thai = catalogue.thai_of(exc)
        return {"error": str(exc), **({"error_th": thai} if thai else {}), "todo": "privcard admin device acl"}


def run_retire(args, svc) -> int:
    """Handle ``privcard admin device retire``."""
    dev = svc.devices.retire(args.id, actor=args.actor, scope=_scope(args))
    info = {"id": dev.id, "retired": True} | sync(args.password_file, args.acl_file, svc.sites.device_sites())
    _print(
        args,
        info,
        said(
            "retired %(id)s: the server refuses it now; password entry removed from %(file)s; ACL %(acl)s rewritten"
            if dev.id in info["removed"]
            else "retired %(id)s: the server refuses it now; password entry was not in %(file)s; ACL %(acl)s rewritten",
            id=dev.id,
            file=args.password_file,
            acl=args.acl_file,
        ),
        said("reload Mosquitto so it takes effect: %(command)s", command=RELOAD),
    )
    return 0


def run_reactivate(args, svc) -> int:
    """Handle ``privcard admin device reactivate``."""
    dev = svc.devices.reactivate(args.id, actor=args.actor, scope=_scope(args))
    write_acl(args.acl_file, None, svc.sites.device_sites())
    _print(
        args,
        {"id": dev.id, "retired": False, "acl_file": args.acl_file},
        said("%(id)s is active again; give it a password: privcard admin device credentials %(id)s", id=dev.id),
    )
    return 0


def run_acl(args, svc) -> int:
    """Handle ``privcard admin device acl``."""
    info = sync(args.password_file, args.acl_file, svc.sites.device_sites())
    _print(
        args,
        info,
        said(
            "%(acl)s: %(n)s active device(s); retired devices' passwords removed: %(removed)s",
            acl=args.acl_file,
            n=info["devices"],
            removed=", ".join(info["removed"]) or pair("none"),
        ),
        said("reload Mosquitto so it takes effect: %(command)s", command=RELOAD),
    )
    return 0


def _print(args, data: dict, *lines: tuple[str, str]) -> None:
    """``data`` as JSON with ``--json``; else each ``(English, Thai)`` line pair, the English then the Thai."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for en, th in lines:
        print(en)
        print(th)


def _scope(args):
    """The sites the admin CLI acts for (``--as``; every site by default)."""
    from server.services.sites import EVERYTHING

    return getattr(args, "scope", EVERYTHING)


def run(args, svc) -> int:
    """Handle ``privcard admin device credentials`` (``svc``: the admin CLI's service layer)."""
    if not args.server_account:
        # --force must not replace a site bridge's account (privcard admin site bridge owns it)
        refuse_reserved(str(args.id))
    scope = _scope(args)
    if not scope.everything:  # a site's account (--as): its own registered devices only
        if args.server_account or args.force:
            raise ServiceError("--server-account and --force are the programme administrator's")
        svc.devices.get(args.id, scope)  # another site's device: not found
    if not args.server_account and not args.force:
        dev = store.Device.get_or_none(store.Device.id == args.id)
        if dev is None:
            raise NotFound(
                "no device %(id)s; register it first (privcard admin device add %(id)s ...) or pass --force", id=args.id
            )
        if dev.retired_at is not None:
            raise ServiceError("device %(id)s is retired", id=args.id)
    try:
        info = make_credentials(args.id, args.password_file, args.broker_url, server=args.server_account)
    except CredentialsError as exc:
        raise ServiceError.of(exc) from None
    if not args.server_account:
        write_acl(args.acl_file, args.password_file, svc.sites.device_sites())
        svc.devices.record_credentials(
            args.actor, info["username"], password_file=info["password_file"], replaced=info["replaced"]
        )
    if getattr(args, "json", False):
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    if args.server_account:
        who = pair("server account")
    else:
        en, th = said("device %(id)s", id=info["username"])
        who = {"en": en, "th": th}
    done = (
        "%(who)s: password entry replaced in %(file)s"
        if info["replaced"]
        else "%(who)s: password entry added in %(file)s"
    )
    for line in (
        *said(done, who=who, file=info["password_file"]),
        *said("reload Mosquitto so it takes effect: %(command)s", command=info["reload"]),
    ):
        print(line)
    print()
    print(f"password: {info['password']}")
    print(f"--mqtt '{info['mqtt_url']}'")
    print()
    for line in said(
        "env file for the systemd unit (%(path)s, mode 0600; add the other settings, e.g. %(example)s):",
        path=info["env_path"],
        example="PRIVCARD_SERVER_ARGS=--db ..." if args.server_account else "PRIVCARD_GATE_ARGS=--reader nfc:usb",
    ):
        print(line)
    print(info["env_file"], end="")
    return 0


# --------------------------------------------------------------------------- site brokers


def register_bridge(site_sub, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``bridge`` to ``privcard admin site``."""
    b = site_sub.add_parser(
        "bridge",
        parents=parents,
        help="write a site broker's config bridged to the central broker, and the site's bridge account "
        "and ACL block on the central broker",
    )
    b.add_argument("site", help="site code (privcard admin site list)")
    b.add_argument("--central", required=True, metavar="HOST:PORT", help="the central broker's TLS listener")
    b.add_argument(
        "--cafile",
        default="/etc/mosquitto/privcard/central-ca.pem",
        help="on the site broker's host: the CA that signed the central broker's certificate (default %(default)s)",
    )
    b.add_argument("--out", help="directory for the site broker's files (default ./site-SITE)")
    b.add_argument("--protocol", choices=["mqttv50", "mqttv311"], default="mqttv50", help="bridge protocol")
    b.add_argument(
        "--password-file",
        default=DEFAULT_PASSWORD_FILE,
        help="the CENTRAL broker's password_file, which gets the bridge account (default %(default)s)",
    )
    b.add_argument(
        "--device-url",
        default=DEFAULT_BROKER_URL,
        help="how the site's devices reach the SITE broker, for their env files (default %(default)s)",
    )
    b.add_argument(
        "--bundle",
        metavar="FILE",
        help="also write one file (0600: it holds the passwords) for `privcard setup site-broker --bundle FILE` "
        "on the site broker's machine: the bridge account, the central CA (--central-ca) and the site's devices",
    )
    b.add_argument(
        "--central-ca",
        default="/etc/mosquitto/privcard/ca.pem",
        help="with --bundle: the CA that signed the central broker's certificate, here (default %(default)s)",
    )
    _acl_option(b)
    b.set_defaults(handler=run_bridge)


def run_bridge(args, svc) -> int:
    """Handle ``privcard admin site bridge``: the site broker's files, the central account and ACL block.

    In ``--out``: ``mosquitto.conf`` (the production config plus the bridge; it holds the
    bridge's password, mode 0640), ``acl`` (the shipped ACL with the site's devices'
    section), ``passwd`` (the site's devices' accounts: a device without one gets a fresh
    password and ``devices/<id>.env``; existing ones are kept). On the central broker: the
    account ``bridge-<SITE>`` in ``--password-file`` (its password kept when the command runs
    again) and the ACL's site section. Running it again after adding or moving a device
    brings both sides up to date.
    """
    site = svc.sites.get(str(args.site).strip().upper()).code
    try:
        central = bridge.check_central(args.central)
        central_ca = _central_ca(args.central_ca) if args.bundle else None
        user = bridge.username(site)
        if store.Device.get_or_none(store.Device.id == user) is not None:
            raise ServiceError("a device is called %(user)s, the name of the site's bridge account", user=user)
        device_sites = svc.sites.device_sites()
        devices = site_devices(site, active_devices(), device_sites)
        out = Path(args.out or f"site-{site}")
        out.mkdir(parents=True, exist_ok=True)
        conf_path = out / "mosquitto.conf"
        central_entries = read_entries(args.password_file)
        old = bridge.remote_password(conf_path.read_text(encoding="utf-8")) if conf_path.exists() else None
        kept = bool(old and user in central_entries and verify_password(old, central_entries[user]))
        password = old if kept else new_password()
        if not kept:
            set_entry(args.password_file, user, password)
        block = bridge.connection_block(
            site, devices, central=central, password=password, cafile=args.cafile, protocol=args.protocol
        )
        _write_private(conf_path, bridge.site_conf(block))
        # the site broker's own accounts and ACL: its devices only
        site_acl = out / "acl"
        write_devices(site_acl, devices)
        site_passwd = out / "passwd"
        have = read_entries(site_passwd)
        issued = []
        for device_id in sorted(devices):
            if device_id in have and _env_password(out, device_id):
                continue  # (a device whose env file is gone gets a new password: the bundle needs it)
            info = make_credentials(device_id, site_passwd, args.device_url)
            _write_private(out / "devices" / f"{device_id}.env", info["env_file"])
            issued.append(device_id)
        if args.bundle:
            made = bridge.Bundle(
                site,
                central,
                args.protocol,
                password,
                central_ca,
                {d: (kind, _env_password(out, d)) for d, kind in devices.items()},
            )
            _write_private(Path(args.bundle), made.to_json(), 0o600)
        # the centre: the site section of its ACL
        sites = {
            bridge.site_of(u) for u in list(read_entries(args.password_file)) + list(bridge.read_sites(args.acl_file))
        }
        bridge.write_sites(args.acl_file, {s: site_devices(s, active_devices(), device_sites) for s in sites - {None}})
    except (bridge.BridgeError, AccessError, CredentialsError) as exc:
        raise ServiceError.of(exc) from None
    except OSError as exc:
        raise ServiceError(
            "cannot write the site broker's files in %(out)s: %(error)s", out=args.out or f"site-{site}", error=str(exc)
        ) from None
    svc.devices.record_credentials(
        args.actor, user, password_file=args.password_file, replaced=not kept, site=site, devices=len(devices)
    )
    info = {
        "site": site,
        "account": user,
        "central": central,
        "protocol": args.protocol,
        "devices": sorted(devices),
        "out": str(out),
        "files": {"conf": str(conf_path), "acl": str(site_acl), "passwd": str(site_passwd)},
        "issued": issued,
        "password_kept": kept,
        "central_password_file": args.password_file,
        "central_acl_file": args.acl_file,
        "reload": RELOAD,
        "bundle": args.bundle,
    }
    lines = [
        said(
            "site %(site)s: bridge account %(user)s kept in %(file)s"
            if kept
            else "site %(site)s: bridge account %(user)s written in %(file)s",
            site=site,
            user=user,
            file=args.password_file,
        ),
        said(
            "central ACL %(acl)s: %(user)s may publish only the topics of %(n)s device(s)",
            acl=args.acl_file,
            user=user,
            n=len(devices),
        ),
        said("site broker files in %(out)s: mosquitto.conf (holds the bridge password), acl, passwd", out=out),
    ]
    if issued:
        lines.append(
            said("new device accounts: %(ids)s (env files in %(dir)s)", ids=", ".join(issued), dir=out / "devices")
        )
    lines.append(
        said(
            "on the site broker: copy mosquitto.conf to /etc/mosquitto/conf.d/privcard.conf, acl and passwd to "
            "/etc/mosquitto/privcard/, the central CA to %(ca)s, and the site's own ca.pem/server.pem/server.key; "
            "then on both brokers: %(command)s",
            ca=args.cafile,
            command=RELOAD,
        )
    )
    if args.bundle:
        lines.append(
            said(
                "or copy the bundle %(bundle)s (it holds the passwords) to the site broker's machine and run there: "
                "sudo privcard setup site-broker --bundle %(name)s --host SITE-BROKER-NAME",
                bundle=args.bundle,
                name=Path(args.bundle).name,
            )
        )
    _print(args, info, *lines)
    return 0


def _central_ca(path: str) -> str:
    """The central broker's CA certificate (PEM text) for the bundle."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise bridge.BridgeError(
            "cannot read the central broker's CA %(path)s (%(error)s): give --central-ca FILE",
            path=path,
            error=exc.strerror,
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise bridge.BridgeError(
            "%(path)s is not a PEM certificate: give the central broker's CA with --central-ca", path=path
        )
    return text


def _env_password(out: Path, device_id: str) -> str | None:
    """The password in a device's env file as the command wrote it (None: no file)."""
    from urllib.parse import unquote, urlsplit

    env = out / "devices" / f"{device_id}.env"
    if not env.exists():
        return None
    for line in env.read_text(encoding="utf-8").splitlines():
        if line.startswith("PRIVCARD_MQTT="):
            password = urlsplit(line.split("=", 1)[1].strip()).password
            return unquote(password) if password else None
    return None


def _write_private(path: Path, text: str, mode: int = 0o640) -> None:
    """Write a file that holds a password: 0640, group mosquitto when it exists (0600: no group)."""
    import grp

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    if not mode & 0o070:
        return
    try:
        os.chown(path, -1, grp.getgrnam("mosquitto").gr_gid)
    except (KeyError, PermissionError):
        pass
