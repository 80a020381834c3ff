"""What each role puts on a machine (``privcard setup server|gate|kiosk|site-broker``).

Every step goes through :class:`install.plan.Plan`, so it is idempotent and dry-runnable.
The layout::

    /opt/privcard/venvs/VERSION/      one venv per installed version (upgrades add one)
    /opt/privcard/venv -> venvs/VERSION   the units run /opt/privcard/venv/bin/privcard
    /etc/privcard/                    the role's config (0750 root:privcard)
        server.env, programme.toml    server: database URL, MQTT account, console address
        ID.env, ca.pem                gate/kiosk: broker URL with its password, reader spec
        setup-manifest.json           what setup wrote (hashes) and the role settings
    /var/lib/privcard/                state: the SQLite database (server), outbox (gate)
    /etc/mosquitto/conf.d/privcard.conf, /etc/mosquitto/privcard/{acl,passwd,*.pem,server.key}
        site-broker: privcard.conf is the production config plus the bridge to the centre
        (it holds the bridge password, 0640 root:mosquitto), central-ca.pem its CA;
        /etc/privcard/site-bridge-bundle.json the bundle it came from (0600),
        site-broker.env the local monitoring account (doctor), site-devices.txt the
        command for each of the site's devices (0600: passwords)
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from broker import mosquitto as mosquitto_files
from broker.mosquitto import access, bridge, credentials
from broker.mosquitto.certs import CertError, make_pki
from hardware import deploy
from install.plan import Plan, SetupError
from install.thai import Text

FILES = Path(__file__).resolve().parent / "files"
OPT = "/opt/privcard"
VENV = f"{OPT}/venv"
ETC = "/etc/privcard"
STATE = "/var/lib/privcard"
MOSQ = "/etc/mosquitto/privcard"
USER = "privcard"
ROLES = ("server", "gate", "kiosk", "site-broker")
#: a site broker's venv has privcard without extras (paho: privcard doctor's bridge check)
EXTRAS = {"server": "server,postgres", "gate": "gate", "kiosk": "kiosk", "site-broker": ""}
#: device groups per role (only the ones that exist on this system are used)
GROUPS = {
    "server": (),
    "gate": ("gpio", "dialout", "plugdev", "input"),
    "kiosk": ("gpio", "dialout", "plugdev", "input", "video", "render"),
    "site-broker": (),
}
#: Debian's /etc/mosquitto/mosquitto.conf sets these too; Mosquitto refuses some duplicates
MOSQUITTO_DUPLICATES = ("persistence", "persistence_location", "log_dest")
DEFAULT_DB = f"sqlite:///{STATE}/privcard.db"
#: which extras a venv has (a file in the venv: a second role adds its extras)
EXTRAS_MARKER = "privcard-extras"


@dataclass
class Options:
    """What ``privcard setup ROLE`` was asked (see :mod:`install.setup` for the flags)."""

    role: str
    wheel: str | None = None
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    # server
    db: str = DEFAULT_DB
    http: str = "127.0.0.1:8080"
    hosts: list[str] = field(default_factory=list)
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    programme: str | None = None
    # devices
    device_id: str | None = None
    mqtt: str | None = None
    reader: str | None = None
    gpio_factory: str | None = None
    # site broker
    bundle: str | None = None
    # hardening
    logs: str = "persistent"
    ntp: str | None = None
    start: bool = True


def wheel_version(wheel: str) -> str:
    """The version in a wheel's file name (``privcard-1.2.0-py3-none-any.whl`` -> ``1.2.0``)."""
    name = Path(wheel).name
    m = re.match(r"^privcard-([^-]+)-", name)
    if not m or not name.endswith(".whl"):
        raise SetupError("%(wheel)s is not a privcard wheel (privcard-VERSION-py3-none-any.whl)", wheel=wheel)
    return m.group(1)


# --------------------------------------------------------------------------- common steps


def packages(plan: Plan, names: list[str], optional: tuple[str, ...] = ()) -> None:
    """Debian packages the role needs (apt-get install of the missing ones).

    ``optional`` ones are installed only where the distribution has them (python3-lgpio
    is in Raspberry Pi OS's archive, not Debian's).
    """
    missing = []
    for name in [*names, *optional]:
        done = plan.probe(["dpkg-query", "-W", "-f=${Status}", name])
        if done is None:
            continue  # root prefix: not checked
        if "install ok installed" in done.stdout:
            continue
        if name in optional:
            known = plan.probe(["apt-cache", "show", name])
            if known is None or known.returncode != 0 or not known.stdout.strip():
                plan.note(f"{name} is not in this system's archive: skipped")
                continue
        missing.append(name)
    if missing:
        # a fresh image may have no package lists yet
        plan.run(["apt-get", "update", "-q"], "package lists", check=False)
        plan.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], "packages the role needs")


def user(plan: Plan, role: str) -> None:
    """The ``privcard`` system user and its device groups."""
    if plan.real:
        have = plan.probe(["getent", "passwd", USER])
        if have is None or have.returncode != 0:
            plan.run(
                ["useradd", "--system", "--user-group", "--home-dir", STATE, "--shell", "/usr/sbin/nologin", USER],
                "the service user",
            )
        groups = plan.probe(["id", "-nG", USER])
        current = set(groups.stdout.split()) if groups and groups.returncode == 0 else set()
        for group in GROUPS[role]:
            if (plan.probe(["getent", "group", group]) or _NOGROUP).returncode != 0:
                plan.note(f"group {group} does not exist here (not a Raspberry Pi OS?): skipped")
                continue
            if group not in current:
                plan.run(["usermod", "-aG", group, USER], f"device access ({group})")
    else:
        plan.note(f"root prefix: user {USER} and groups {', '.join(GROUPS[role]) or '-'} not created")


class _NoGroup:
    returncode = 2


_NOGROUP = _NoGroup()


def directories(plan: Plan) -> None:
    """/opt/privcard, /etc/privcard, /var/lib/privcard."""
    plan.mkdir(OPT, 0o755)
    plan.mkdir(f"{OPT}/venvs", 0o755)
    plan.mkdir(ETC, 0o750, "root", USER)
    plan.mkdir(STATE, 0o750, USER, USER)


def venv(plan: Plan, opts: Options) -> bool:
    """A venv for this version under /opt/privcard/venvs, and the /opt/privcard/venv link to it; True if changed."""
    before = len(plan.changes)
    link = plan.path(VENV)
    if not opts.wheel:
        if link.exists():
            plan.note(f"venv: {VENV} kept (no --wheel given)")
            return False
        raise SetupError(
            "no wheel to install: give --wheel privcard-VERSION-py3-none-any.whl "
            "(setup could not tell which wheel it was installed from)"
        )
    version = wheel_version(opts.wheel)
    target = f"{OPT}/venvs/{version}"
    marker = plan.path(target) / EXTRAS_MARKER
    have = set(marker.read_text().split(",")) if marker.exists() else set()
    if not (plan.path(target) / "bin" / "privcard").exists():
        install_venv(plan, target, opts.wheel, opts.role, opts.find_links, opts.no_index)
    elif not _extras(opts.role) <= have:
        # a second role on this machine (a server that is also a gate): its extras, same venv
        install_venv(plan, target, opts.wheel, opts.role, opts.find_links, opts.no_index, create=False)
    if not link.is_symlink() or str(link.readlink()) != f"venvs/{version}":
        switch(plan, version)
    plan.setting("version", version)
    return len(plan.changes) > before


def install_venv(
    plan: Plan,
    target: str,
    wheel: str,
    role: str | list[str],
    find_links: list[str],
    no_index: bool,
    *,
    create: bool = True,
) -> None:
    """Create a venv and pip install the wheel with the extras of the role(s) into it."""
    roles = [role] if isinstance(role, str) else list(role)
    extras = ",".join(sorted(set().union(*(_extras(r) for r in roles))))
    # gate and kiosk see the system's packages: on Raspberry Pi OS the GPIO libraries
    # (python3-lgpio, RPi.GPIO) come from apt, not PyPI.
    system = ["--system-site-packages"] if {"gate", "kiosk"} & set(roles) else []
    if create:
        plan.run(["python3", "-m", "venv", *system, plan_str(plan, target)], f"a venv for {Path(target).name}")
    pip = [f"{plan_str(plan, target)}/bin/pip", "install", "--no-cache-dir", "--disable-pip-version-check", "-q"]
    for d in find_links:
        pip += ["--find-links", d]
    if no_index:
        pip.append("--no-index")
    spec = f"[{extras}]" if extras else ""
    plan.run([*pip, f"{Path(wheel).resolve()}{spec}"], f"privcard{spec}")
    if not plan.real and not plan.dry_run:
        # a root prefix (tests, image builders): leave a marker instead of a venv
        (plan.path(target) / "bin").mkdir(parents=True, exist_ok=True)
        (plan.path(target) / "bin" / "privcard").write_text(f"# privcard from {Path(wheel).name}\n")
    marker = plan.path(target) / EXTRAS_MARKER
    if not plan.dry_run and marker.parent.exists():
        have = set(marker.read_text().split(",")) if marker.exists() else set()
        marker.write_text(",".join(sorted((have | set(extras.split(","))) - {""})))


def _extras(role: str) -> set[str]:
    return {e for e in EXTRAS[role].split(",") if e}


def plan_str(plan: Plan, target: str) -> str:
    return str(plan.path(target))


def switch(plan: Plan, version: str) -> None:
    """Point /opt/privcard/venv at venvs/VERSION (atomically: a new link renamed over the old)."""
    link = plan.path(VENV)
    plan._say("link", f"{VENV} -> venvs/{version}")
    if plan.dry_run:
        return
    tmp = link.with_name(".venv.privcard-tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(f"venvs/{version}")
    tmp.replace(link)


def hardening(plan: Plan, opts: Options) -> list[str]:
    """Time sync, journald cap, hardware watchdog, Wi-Fi power save (docs/deployment.md, "Hardening")."""
    changed = []
    if plan.write("/etc/systemd/journald.conf.d/privcard.conf", (FILES / "journald-privcard.conf").read_text()):
        changed.append("systemd-journald")
    volatile = "/etc/systemd/journald.conf.d/privcard-volatile.conf"
    if opts.logs == "volatile":
        if plan.write(volatile, (FILES / "journald-volatile.conf").read_text()):
            changed.append("systemd-journald")
    elif plan.path(volatile).exists():
        plan._say("remove", volatile)
        if not plan.dry_run:
            plan.path(volatile).unlink()
        changed.append("systemd-journald")
    if opts.role != "server":
        plan.write("/etc/systemd/system.conf.d/privcard-watchdog.conf", (FILES / "watchdog-privcard.conf").read_text())
        plan.write(
            "/etc/NetworkManager/conf.d/privcard-wifi-powersave.conf", (FILES / "wifi-powersave-off.conf").read_text()
        )
    if opts.ntp:
        text = (FILES / "timesyncd-privcard.conf").read_text().replace("@NTP@", opts.ntp)
        if plan.write("/etc/systemd/timesyncd.conf.d/privcard.conf", text):
            changed.append("systemd-timesyncd")
    time_sync(plan)
    return changed


def time_sync(plan: Plan) -> None:
    """systemd-timesyncd (or chrony, if installed) enabled."""
    for unit in ("chrony.service", "systemd-timesyncd.service"):
        state = plan.probe(["systemctl", "is-enabled", unit])
        if state is None:
            plan.note("root prefix: time sync not checked")
            return
        if state.stdout.strip() in ("enabled", "static", "alias"):
            return
        if state.stdout.strip() == "disabled":
            plan.run(["systemctl", "enable", "--now", unit], "the clock must be synchronised (clock_ok)")
            return
    plan.run(["apt-get", "install", "-y", "systemd-timesyncd"], "no time sync service installed")


def units(plan: Plan, names: list[str]) -> bool:
    """Install unit files from hardware/deploy; True when one changed."""
    changed = False
    for name in names:
        changed |= plan.write(f"/etc/systemd/system/{name}", deploy.path(name).read_text())
    return changed


def udev(plan: Plan) -> None:
    """Reader rules and the NFC kernel-driver blacklist."""
    if plan.write("/etc/udev/rules.d/99-privcard-readers.rules", deploy.path("99-privcard-readers.rules").read_text()):
        if plan.probe(["udevadm", "--version"]) and plan.probe(["udevadm", "--version"]).returncode == 0:
            plan.run(["udevadm", "control", "--reload"], "new reader rules", check=False)
    plan.write("/etc/modprobe.d/blacklist-privcard-nfc.conf", deploy.path("blacklist-privcard-nfc.conf").read_text())


def service(plan: Plan, unit: str, *, restart: bool, start: bool = True) -> None:
    """Enable a unit and start it (restart it when its files changed)."""
    enabled = plan.probe(["systemctl", "is-enabled", unit])
    active = plan.probe(["systemctl", "is-active", unit])
    if enabled is None:
        plan.note(f"root prefix: {unit} not enabled or started")
        return
    if enabled.stdout.strip() != "enabled":
        plan.run(["systemctl", "enable", unit], "start at boot")
    if not start:
        return
    if active.stdout.strip() != "active":
        plan.run(["systemctl", "start", unit], "")
    elif restart:
        plan.run(["systemctl", "restart", unit], "its configuration changed")


def daemon_reload(plan: Plan) -> None:
    plan.run(["systemctl", "daemon-reload"], "new or changed unit files")


def env_file(values: dict[str, str], header: str) -> str:
    """A systemd EnvironmentFile."""
    return header + "".join(f"{k}={v}\n" for k, v in values.items() if v is not None)


def read_env(text: str | None) -> dict[str, str]:
    """Parse a systemd EnvironmentFile (KEY=VALUE lines)."""
    out = {}
    for line in (text or "").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


# --------------------------------------------------------------------------- server


def server(plan: Plan, opts: Options) -> None:
    """Mosquitto (production config, ACL, TLS, the server's account) and the points server."""
    if "site-broker" in plan.manifest["settings"].get("roles", []):
        raise SetupError("this machine is a site broker: the server (and the central broker) run on another machine")
    packages(plan, ["mosquitto", "openssl", "python3-venv"])
    user(plan, "server")
    directories(plan)
    new_code = venv(plan, opts)
    restart_broker = False
    # Mosquitto
    plan.mkdir(MOSQ, 0o750, "root", "mosquitto")
    restart_broker |= plan.write("/etc/mosquitto/conf.d/privcard.conf", mosquitto_files.production_conf())
    restart_broker |= mosquitto_main_conf(plan)
    if not plan.path(f"{MOSQ}/acl").exists():
        # written once: `privcard admin device credentials|acl` rewrite its device section later
        plan.write(f"{MOSQ}/acl", mosquitto_files.production_acl(), 0o640, "root", "mosquitto")
    restart_broker |= certificates(plan, opts)
    # the server's own account, on the loopback listener
    env_path = f"{ETC}/server.env"
    old = read_env(plan.read(env_path))
    password = urlsplit(old.get("PRIVCARD_MQTT", "")).password or credentials.new_password()
    passwd = plan.path(f"{MOSQ}/passwd")
    entries = credentials.read_entries(passwd) if passwd.exists() else {}
    entry = entries.get(credentials.SERVER_USERNAME)
    if entry is None or not credentials.verify_password(password, entry):
        plan._say("set", f"{MOSQ}/passwd entry for {credentials.SERVER_USERNAME}")
        if not plan.dry_run:
            credentials.set_entry(passwd, credentials.SERVER_USERNAME, password)
            plan._attributes(f"{MOSQ}/passwd", passwd, 0o640, "root", "mosquitto")
        restart_broker = True
    programme = opts.programme or str(_programme_default())
    plan.write(f"{ETC}/programme.toml", given(programme, "--programme"), 0o640, "root", USER)
    env = {
        "PRIVCARD_MQTT": credentials.device_url("mqtt://127.0.0.1:1883", credentials.SERVER_USERNAME, password),
        "PRIVCARD_DB": opts.db,
        "PRIVCARD_CONFIG": f"{ETC}/programme.toml",
        "PRIVCARD_SERVER_ARGS": f"--http {opts.http}",
    }
    changed = plan.write(
        env_path,
        env_file(env, "# /etc/privcard/server.env — written by `privcard setup server` (mode 0640)\n"),
        0o640,
        "root",
        USER,
    )
    unit_changed = units(plan, ["privcard-server.service"])
    changed |= unit_changed
    plan.setting("server", {"db": opts.db, "http": opts.http, "env": env_path})
    plan.setting("roles", sorted(set(plan.manifest["settings"].get("roles", [])) | {"server"}))
    changed_hardening = hardening(plan, opts)
    if unit_changed:
        daemon_reload(plan)
    for unit in set(changed_hardening):
        plan.run(["systemctl", "restart", unit], "its configuration changed", check=False)
    service(plan, "mosquitto.service", restart=restart_broker, start=opts.start)
    if opts.start and (new_code or changed):
        migrate(plan, opts.db)
    service(plan, "privcard-server.service", restart=changed or new_code, start=opts.start)


def given(path: str, option: str) -> bytes:
    """The bytes of a file named on the command line (an unreadable one is a refusal, not a traceback)."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SetupError(
            "cannot read %(path)s (%(option)s): %(error)s", path=path, option=option, error=exc.strerror
        ) from None


def _programme_default() -> Path:
    """The programme TOML shipped in the wheel (server/domain/programme.toml), found without importing server."""
    import importlib.util

    spec = importlib.util.find_spec("server")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError("the server role is not installed here: pip install 'privcard[server]'")
    return Path(next(iter(spec.submodule_search_locations))) / "domain" / "programme.toml"


def migrate(plan: Plan, db: str) -> None:
    """The database schema, upgraded once by ``privcard admin`` in the installed venv (as the privcard user)."""
    plan.run(
        ["runuser", "-u", USER, "--", f"{VENV}/bin/privcard", "admin", "device", "list", "--db", db, "--json"],
        "create or migrate the database schema",
    )


def mosquitto_main_conf(plan: Plan) -> bool:
    """Comment out the lines of Debian's mosquitto.conf that privcard.conf sets (duplicates are refused)."""
    target = "/etc/mosquitto/mosquitto.conf"
    text = plan.read(target)
    if text is None:
        return False
    lines = text.splitlines(keepends=True)
    out, changed = [], False
    for line in lines:
        word = line.split(None, 1)[0] if line.strip() else ""
        if word in MOSQUITTO_DUPLICATES:
            out.append(f"# privcard setup: set in conf.d/privcard.conf # {line}")
            changed = True
        else:
            out.append(line)
    if not changed:
        return False
    plan._say("comment out", f"{', '.join(MOSQUITTO_DUPLICATES)} in {target} (conf.d/privcard.conf sets them)")
    if not plan.dry_run:
        plan.path(target).write_text("".join(out))
    return True


def certificates(plan: Plan, opts: Options) -> bool:
    """The broker's TLS files: the ones given (--cert/--key/--ca), or a private CA made once.

    With the private CA: a server certificate that is missing (removed because it expired,
    doctor's fix) or that does not name every ``--host`` is re-issued from the same CA
    (``/etc/privcard/ca.key``), so the devices' ``ca.pem`` stays valid. The names are kept in
    the manifest: a bare run re-issues for the names the first run was given.
    """
    pem, key, ca = f"{MOSQ}/server.pem", f"{MOSQ}/server.key", f"{MOSQ}/ca.pem"
    if opts.cert or opts.key or opts.ca:
        if not (opts.cert and opts.key and opts.ca):
            raise SetupError("give --cert, --key and --ca together (or none: setup makes a private CA)")
        changed = plan.write(pem, given(opts.cert, "--cert"), 0o644)
        changed |= plan.write(key, given(opts.key, "--key"), 0o640, "root", "mosquitto")
        changed |= plan.write(ca, given(opts.ca, "--ca"), 0o644)
        return changed
    kept = plan.manifest["settings"].get("certificate", {}).get("hosts")
    hosts = opts.hosts or kept or [socket.gethostname(), "localhost", "127.0.0.1"]
    reissue = None  # why the server certificate is made again from the CA that is here
    if plan.path(pem).exists() and plan.path(key).exists() and plan.path(ca).exists():
        named = certificate_names(plan.path(pem))
        missing = [h for h in opts.hosts if _host_name(h) not in named] if named is not None else []
        if not missing:
            return False
        reissue = Text("%(pem)s does not name %(hosts)s", pem=pem, hosts=", ".join(missing))
    elif plan.path(ca).exists():
        reissue = Text("%(pem)s or %(key)s is missing", pem=pem, key=key)
    if reissue and (not plan.path(f"{ETC}/ca.key").exists() or plan.read(f"{ETC}/ca.pem") != plan.read(ca)):
        raise SetupError(
            "%(reissue)s, and re-issuing it needs the key of the CA that made %(ca)s (%(ca_key)s, the copy "
            "you kept offline): put it back and run setup again; or give --cert --key --ca; or remove %(ca)s "
            "too for a new CA (then every device needs the new ca.pem)",
            reissue=reissue,
            ca=ca,
            ca_key=f"{ETC}/ca.key",
        )
    if reissue:
        plan._say("re-issue", f"the server certificate for {', '.join(hosts)} from this machine's CA ({reissue})")
    else:
        plan._say("make", f"a private CA and a server certificate for {', '.join(hosts)}")
    if plan.dry_run:
        return True
    if not shutil.which("openssl"):
        raise SetupError("openssl is needed to make the certificates: apt-get install openssl")
    with tempfile.TemporaryDirectory() as tmp:
        if reissue:  # make_pki signs with the CA it finds in its directory
            shutil.copy(plan.path(ca), Path(tmp) / "ca.pem")
            shutil.copy(plan.path(f"{ETC}/ca.key"), Path(tmp) / "ca.key")
        try:
            pki = make_pki(tmp, hosts)
        except CertError as exc:
            raise SetupError(exc.template, **exc.values) from None
        plan.write(pem, pki.server_cert.read_bytes(), 0o644)
        plan.write(key, pki.server_key.read_bytes(), 0o640, "root", "mosquitto")
        if not reissue:
            plan.write(ca, pki.ca_cert.read_bytes(), 0o644)
            plan.write(f"{ETC}/ca.key", pki.ca_key.read_bytes(), 0o600, "root", "root")
            plan.write(f"{ETC}/ca.pem", pki.ca_cert.read_bytes(), 0o644)
    plan.setting("certificate", {"hosts": hosts})
    if reissue:
        plan.note(f"the devices' ca.pem ({ca}) stays valid: the same CA signed the new certificate")
    else:
        plan.note(f"the CA key is {ETC}/ca.key: keep a copy offline; devices need {ca}")
    return True


def certificate_names(pem: Path) -> set[str] | None:
    """The DNS names and IP addresses a certificate's subjectAltName holds (None: openssl cannot say)."""
    if not shutil.which("openssl"):
        return None
    done = subprocess.run(
        ["openssl", "x509", "-in", str(pem), "-noout", "-ext", "subjectAltName"], capture_output=True, text=True
    )
    if done.returncode != 0:
        return None
    names = set()
    for item in done.stdout.replace("\n", ",").split(","):
        kind, _, value = item.strip().partition(":")
        if kind in ("DNS", "IP Address") and value:
            names.add(_host_name(value))
    return names


def _host_name(host: str) -> str:
    """A host name or address in one spelling (``0:0:…:1`` and ``::1`` alike)."""
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        return host.lower()


# --------------------------------------------------------------------------- devices


def device(plan: Plan, opts: Options) -> None:
    """A gate (or counter) or a kiosk: its env file, CA, unit, udev rules and the Pi hardening."""
    role = opts.role
    env_path = f"{ETC}/{opts.device_id}.env" if opts.device_id else None
    if not opts.device_id:
        raise SetupError("privcard setup %(role)s needs --device-id ID (the id registered on the server)", role=role)
    try:
        credentials.check_username(opts.device_id)
    except credentials.CredentialsError as exc:
        raise SetupError(exc.template, **exc.values) from None
    old = read_env(plan.read(env_path))
    mqtt = opts.mqtt or old.get("PRIVCARD_MQTT")
    if not mqtt:
        raise SetupError(
            "give --mqtt 'mqtts://ID:PASSWORD@BROKER:8883?ca=/etc/privcard/ca.pem' "
            "(printed by `privcard setup device-credentials ID` on the server)"
        )
    # libusb for nfcpy's USB readers; lgpio is gpiozero's pin library on a Pi 5 (and 4)
    packages(plan, ["python3-venv", "libusb-1.0-0"], optional=("python3-lgpio",))
    user(plan, role)
    directories(plan)
    new_code = venv(plan, opts)
    if opts.ca:
        plan.write(f"{ETC}/ca.pem", given(opts.ca, "--ca"), 0o644)
    args_key = "PRIVCARD_GATE_ARGS" if role == "gate" else "PRIVCARD_KIOSK_ARGS"
    reader = opts.reader or _reader_from(old.get(args_key, "")) or ("nfc:usb")
    env = {
        "PRIVCARD_MQTT": mqtt,
        args_key: f"--reader {reader}",
        "GPIOZERO_PIN_FACTORY": opts.gpio_factory or old.get("GPIOZERO_PIN_FACTORY"),
    }
    changed = plan.write(
        env_path,
        env_file(env, f"# {env_path} — written by `privcard setup {role}` (mode 0640: it holds the password)\n"),
        0o640,
        "root",
        USER,
    )
    unit_file = "privcard-gate@.service" if role == "gate" else "privcard-kiosk@.service"
    unit_changed = units(plan, [unit_file])
    changed |= unit_changed
    udev(plan)
    unit = unit_file.replace("@.", f"@{opts.device_id}.")
    plan.setting(role, {"device_id": opts.device_id, "env": env_path, "unit": unit, "reader": reader})
    plan.setting("roles", sorted(set(plan.manifest["settings"].get("roles", [])) | {role}))
    changed_hardening = hardening(plan, opts)
    if unit_changed:
        daemon_reload(plan)
    for u in set(changed_hardening):
        plan.run(["systemctl", "restart", u], "its configuration changed", check=False)
    service(plan, unit, restart=changed or new_code, start=opts.start)


def _reader_from(args: str) -> str | None:
    m = re.search(r"--reader\s+(\S+)", args)
    return m.group(1) if m else None


def units_of(settings: dict) -> list[str]:
    """The privcard units a machine runs, from the manifest's settings."""
    out = []
    if "server" in settings.get("roles", []):
        out += ["mosquitto.service", "privcard-server.service"]
    elif "site-broker" in settings.get("roles", []):
        out.append("mosquitto.service")
    for role in ("gate", "kiosk"):
        if role in settings.get("roles", []):
            out.append(settings[role]["unit"])
    return out


# --------------------------------------------------------------------------- site broker

SITE_CONF = "/etc/mosquitto/conf.d/privcard.conf"
CENTRAL_CA = f"{MOSQ}/central-ca.pem"
SITE_BUNDLE = f"{ETC}/site-bridge-bundle.json"
SITE_ENV = f"{ETC}/site-broker.env"
SITE_DEVICES = f"{ETC}/site-devices.txt"


def site_broker(plan: Plan, opts: Options) -> None:
    """A site's Mosquitto bridged to the central broker, from the bundle ``privcard admin site bridge`` wrote.

    The bridge (the site's own account ``bridge-<SITE>``, TLS checked against the centre's
    CA), the local listeners with the site's own certificate, the site's devices' accounts
    and ACL, a monitoring account for ``privcard doctor``; then Mosquitto is (re)started.
    A second run without ``--bundle`` uses the bundle kept in /etc/privcard.
    """
    if "server" in plan.manifest["settings"].get("roles", []):
        raise SetupError("this machine is a privcard server (the centre): a site broker runs on a machine of its own")
    source = opts.bundle or SITE_BUNDLE
    try:
        text = Path(opts.bundle).read_text(encoding="utf-8") if opts.bundle else plan.read(SITE_BUNDLE)
    except OSError as exc:
        raise SetupError("cannot read the bundle %(path)s: %(error)s", path=opts.bundle, error=exc.strerror) from None
    if text is None:
        raise SetupError(
            "privcard setup site-broker needs --bundle FILE: on the central server, "
            "privcard admin site bridge SITE --central HOST:PORT --bundle FILE writes it"
        )
    try:
        bundle = bridge.read_bundle(text)
        block = bridge.connection_block(
            bundle.site,
            bundle.kinds,
            central=bundle.central,
            password=bundle.password,
            cafile=CENTRAL_CA,
            protocol=bundle.protocol,
        )
        acl = access.render(_site_acl_static(bundle.site), bundle.kinds)
    except (bridge.BridgeError, access.AccessError) as exc:
        raise SetupError("%(source)s: %(why)s", source=source, why=exc) from None
    packages(plan, ["mosquitto", "openssl", "python3-venv"])
    user(plan, "site-broker")
    directories(plan)
    venv(plan, opts)
    plan.write(SITE_BUNDLE, text, 0o600, "root", "root")
    restart = False
    plan.mkdir(MOSQ, 0o750, "root", "mosquitto")
    restart |= plan.write(SITE_CONF, bridge.site_conf(block), 0o640, "root", "mosquitto")
    restart |= mosquitto_main_conf(plan)
    restart |= plan.write(CENTRAL_CA, bundle.central_ca, 0o644)
    restart |= plan.write(f"{MOSQ}/acl", acl, 0o640, "root", "mosquitto")
    restart |= certificates(plan, opts)
    old = read_env(plan.read(SITE_ENV))
    monitor = urlsplit(old.get("PRIVCARD_MQTT", "")).password or credentials.new_password()
    accounts = {d: password for d, (_, password) in bundle.devices.items()} | {bridge.MONITOR_USER: monitor}
    restart |= password_file(plan, f"{MOSQ}/passwd", accounts)
    env = {
        "PRIVCARD_MQTT": credentials.device_url("mqtt://127.0.0.1:1883", bridge.MONITOR_USER, monitor),
        "PRIVCARD_SITE": bundle.site,
        "PRIVCARD_CENTRAL": bundle.central,
    }
    plan.write(
        SITE_ENV,
        env_file(env, f"# {SITE_ENV} — written by `privcard setup site-broker`: privcard doctor's account\n"),
        0o600,
        "root",
        "root",
    )
    # the devices' broker name: --host, else the one a first run was given (kept in the manifest)
    kept = plan.manifest["settings"].get("site-broker", {}).get("host")
    host = opts.hosts[0] if opts.hosts else kept or socket.gethostname()
    commands = device_commands(bundle, host)
    plan.write(SITE_DEVICES, "".join(f"{line}\n" for line in commands), 0o600, "root", "root")
    plan.setting(
        "site-broker",
        {
            "site": bundle.site,
            "central": bundle.central,
            "account": bridge.username(bundle.site),
            "env": SITE_ENV,
            "devices": sorted(bundle.devices),
            "host": host,
        },
    )
    plan.setting("roles", sorted(set(plan.manifest["settings"].get("roles", [])) | {"site-broker"}))
    for u in set(hardening(plan, opts)):
        plan.run(["systemctl", "restart", u], "its configuration changed", check=False)
    # a bridge's settings are read at start only (SIGHUP does not reconnect it): restart
    service(plan, "mosquitto.service", restart=restart, start=opts.start)
    plan.note(f"site {bundle.site}: bridged to {bundle.central} as {bridge.username(bundle.site)}")
    plan.note(f"on each of the site's devices (copy {MOSQ}/ca.pem as ca.pem; also in {SITE_DEVICES}):")
    for line in commands:
        plan.note(f"  {line}")


def _site_acl_static(site: str) -> str:
    """The shipped ACL plus the monitoring account's block (the devices' section follows it)."""
    return (
        mosquitto_files.production_acl().rstrip("\n")
        + "\n\n# The site broker's monitoring account (privcard doctor): its bridge's state only.\n"
        + "\n".join(bridge.monitor_rules(site))
        + "\n"
    )


def password_file(plan: Plan, target: str, accounts: dict[str, str]) -> bool:
    """Make the password file hold exactly ``accounts`` (name -> password); True when it changed.

    An entry that verifies is kept (its salt too), so a second run changes nothing; an
    account not in ``accounts`` (a device retired or moved to another site) is removed.
    """
    path = plan.path(target)
    entries = credentials.read_entries(path) if path.exists() else {}
    changed = False
    for name in sorted(accounts):
        if name in entries and credentials.verify_password(accounts[name], entries[name]):
            continue
        plan._say("set", f"{target} entry for {name}")
        changed = True
        if not plan.dry_run:
            credentials.set_entry(path, name, accounts[name])
    for name in sorted(set(entries) - set(accounts)):
        plan._say("remove", f"{target} entry for {name} (not in the bundle: retired or moved)")
        changed = True
        if not plan.dry_run:
            credentials.remove_entry(path, name)
    if path.exists() and not plan.dry_run:
        plan._attributes(target, path, 0o640, "root", "mosquitto")
    return changed


def device_commands(bundle: bridge.Bundle, host: str) -> list[str]:
    """What to type on each device of the site: ``privcard setup gate|kiosk`` pointed at this site broker."""
    out = []
    for device_id, (kind, password) in sorted(bundle.devices.items()):
        url = credentials.device_url(f"mqtts://{host}:8883?ca={ETC}/ca.pem", device_id, password)
        if kind in ("gate", "counter", "kiosk"):
            role = "kiosk" if kind == "kiosk" else "gate"
            out.append(
                f"sudo privcard setup {role} --device-id {device_id} --ca ca.pem --reader nfc:usb --mqtt '{url}'"
            )
        else:  # a self-check proxy has no setup role: its --mqtt
            out.append(f"{device_id} ({kind}): --mqtt '{url}'")
    return out
