"""A booted Debian bookworm system for the deployment tests: debootstrap + systemd-nspawn.

- :func:`rootfs_tarball` — ``debootstrap`` once into ``$PRIVCARD_TEST_CACHE`` (default
  ``/var/cache/privcard-test``), kept as a tarball (about 3 min the first time, then cached).
- :func:`build_wheel` / :func:`wheelhouse` — the wheel ``make dist`` builds, and every
  dependency of ``privcard[server,postgres,gate]`` as wheels (``pip wheel``, cached), so
  the booted system installs offline (``--no-index``), deterministically.
- :class:`Machine` — unpack, ``systemd-nspawn --boot --private-network`` (its own
  loopback: Mosquitto's 1883/8883 and the console's 8080 never clash with the host's),
  run commands inside with ``nsenter`` into its PID 1, power off, boot again;
  ``link_to_host()`` adds a veth link to the host (a central broker the test runs there).

What works here (recorded in docs/deployment.md): a Docker/Firecracker host with cgroup v1
+ a writable cgroup2 ``unified`` mount, as root: ``--register=no --keep-unit`` (no
machined on the host), ``--capability=CAP_SYS_TIME`` (timesyncd in the container may
mark the kernel clock synchronised). :func:`boot_problem` says exactly why a boot failed.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PRIVCARD_TEST_CACHE", "/var/cache/privcard-test"))
MIRROR = os.environ.get("PRIVCARD_TEST_MIRROR", "http://deb.debian.org/debian")
#: bump when the package list changes (a new tarball is made)
ROOTFS_VERSION = "2"
PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "systemd-timesyncd",
    "python3",
    "python3-venv",
    "python3-pip",
    "mosquitto",
    "mosquitto-clients",
    "openssl",
    "ca-certificates",
    "iproute2",
    "procps",
    # in Raspberry Pi OS Lite already; privcard setup gate wants it (nfcpy USB readers)
    "libusb-1.0-0",
]
HERE = Path(__file__).resolve().parent


class BootError(RuntimeError):
    """The host cannot build or boot the test system (the message says why and what was tried)."""


def _need(tool: str, package: str) -> None:
    if shutil.which(tool):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True, check=False)
    if not shutil.which(tool):
        raise BootError(f"{tool} is missing: apt-get install {package} (as root)")


def rootfs_tarball() -> Path:
    """The cached bookworm root file system (built with debootstrap the first time)."""
    if os.geteuid() != 0:
        raise BootError("booting a system container needs root (debootstrap, systemd-nspawn)")
    tarball = CACHE / f"bookworm-v{ROOTFS_VERSION}.tar"
    if tarball.exists():
        return tarball
    _need("debootstrap", "debootstrap")
    CACHE.mkdir(parents=True, exist_ok=True)
    build = CACHE / "rootfs-build"
    shutil.rmtree(build, ignore_errors=True)
    started = time.monotonic()
    done = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", "bookworm", str(build), MIRROR],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BootError(f"debootstrap failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    _prepare(build)
    tmp = tarball.with_suffix(".tmp")
    subprocess.run(["tar", "-C", str(build), "--numeric-owner", "-cf", str(tmp), "."], check=True)
    tmp.replace(tarball)
    shutil.rmtree(build, ignore_errors=True)
    print(f"rootfs built in {time.monotonic() - started:.0f} s: {tarball}", file=sys.stderr)
    return tarball


def _prepare(root: Path) -> None:
    """What a Raspberry Pi OS image has and a bare debootstrap lacks, plus the test's helpers."""
    (root / "etc/hostname").write_text("privcard-test\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost privcard-test\n::1 localhost\n")
    # no console getty on the nspawn console (no one logs in)
    (root / "etc/systemd/system/console-getty.service").symlink_to("/dev/null")


def build_wheel(outdir: Path, *, source: Path = REPO, version: str | None = None) -> Path:
    """``python -m build --wheel`` of ``source`` (the checkout, or a sabotaged copy)."""
    outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if version:
        env["SETUPTOOLS_SCM_PRETEND_VERSION"] = version
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(source)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise AssertionError(f"building the wheel failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    wheels = sorted(outdir.glob("privcard-*.whl"), key=lambda p: p.stat().st_mtime)
    return wheels[-1]


def wheelhouse(wheel: Path) -> Path:
    """Every dependency of the roles as wheels, cached (evdev is compiled here once)."""
    house = CACHE / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--disable-pip-version-check",
            "--find-links",
            str(house),
            "--wheel-dir",
            str(house),
            f"{wheel}[server,postgres,gate]",
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise AssertionError(f"pip wheel failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    for old in house.glob("privcard-*.whl"):
        old.unlink()  # the privcard wheel is given explicitly, never from the wheelhouse
    return house


class Machine:
    """One booted container: ``sh()`` runs a command inside through nsenter."""

    def __init__(self, root: Path, binds: dict[str, Path]):
        self.root = root
        self.binds = binds
        self.proc: subprocess.Popen | None = None
        self.log = root.parent / "console.log"
        self.boots = 0

    @classmethod
    def unpack(cls, tarball: Path, workdir: Path, binds: dict[str, Path]) -> Machine:
        root = workdir / "rootfs"
        root.mkdir(parents=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(root, numeric_owner=True, filter="fully_trusted")
        shutil.copy(HERE / "sntp.py", root / "usr/local/bin/privcard-test-sntp")
        shutil.copy(HERE / "fake_reader.py", root / "usr/local/bin/privcard-test-reader")
        units = root / "etc/systemd/system"
        # a container: timesyncd's ConditionVirtualization=!container would stop it; the test
        # serves NTP on the container's loopback (tests/system/sntp.py) and lets it sync.
        dropin = units / "systemd-timesyncd.service.d"
        dropin.mkdir(parents=True, exist_ok=True)
        (dropin / "container.conf").write_text(
            "[Unit]\nConditionVirtualization=\nWants=privcard-test-sntp.service\nAfter=privcard-test-sntp.service\n"
        )
        conf = root / "etc/systemd/timesyncd.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "test.conf").write_text(
            "[Time]\nNTP=127.0.0.1\nFallbackNTP=\nPollIntervalMinSec=16\nPollIntervalMaxSec=32\n"
        )
        (units / "privcard-test-sntp.service").write_text(
            "[Unit]\nDescription=test NTP server on loopback\nDefaultDependencies=no\n"
            "Before=systemd-timesyncd.service\n"
            "[Service]\nExecStart=/usr/bin/python3 /usr/local/bin/privcard-test-sntp\n"
            "[Install]\nWantedBy=multi-user.target\n"
        )
        (units / "privcard-test-reader.service").write_text(
            "[Unit]\nDescription=test card reader (a pty at /run/privcard-reader, fed by /run/privcard-reader.in)\n"
            "Before=privcard-gate@gate-1.service\n"
            "[Service]\nExecStart=/usr/bin/python3 /usr/local/bin/privcard-test-reader\n"
            "[Install]\nWantedBy=multi-user.target\n"
        )
        wants = units / "multi-user.target.wants"
        wants.mkdir(exist_ok=True)
        for name in ("privcard-test-sntp.service", "privcard-test-reader.service"):
            (wants / name).symlink_to(f"../{name}")
        return cls(root, binds)

    # -- lifecycle
    def boot(self, timeout: float = 90) -> float:
        """Boot with systemd; seconds until ``systemctl is-system-running`` answers running/degraded."""
        argv = [
            "systemd-nspawn",
            "--boot",
            "--quiet",
            "--register=no",
            "--keep-unit",
            "--private-network",
            "--capability=CAP_SYS_TIME",
            f"--machine=privcard-test-{os.getpid()}",
            "-D",
            str(self.root),
        ]
        for inside, outside in self.binds.items():
            argv.append(f"--bind-ro={outside}:{inside}")
        started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        self.boots += 1
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BootError(boot_problem(self.log, self.proc.returncode))
            if self.init_pid():
                state = self.sh("systemctl is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return time.monotonic() - started
            time.sleep(0.3)
        raise BootError(f"the container did not finish booting in {timeout:.0f} s:\n{boot_problem(self.log, None)}")

    def init_pid(self) -> int | None:
        """The container's PID 1, as the host sees it (nspawn's grandchild)."""
        if not self.proc or self.proc.poll() is not None:
            return None
        for child in _children(self.proc.pid):
            for grandchild in [child, *_children(child)]:
                try:
                    if Path(f"/proc/{grandchild}/comm").read_text().strip() == "systemd":
                        return grandchild
                except OSError:
                    continue
        return None

    def sh(self, command: str, *, check: bool = True, timeout: float = 300, env: dict | None = None):
        """Run a shell command inside the container (as root)."""
        pid = self.init_pid()
        if pid is None:
            raise AssertionError("the container is not running")
        prefix = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        done = subprocess.run(
            ["nsenter", "-t", str(pid), "-a", "--", "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
            + (prefix.split() if prefix else [])
            + ["/bin/sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"in the container: {command}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def poweroff(self, timeout: float = 60) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        self.sh("systemctl poweroff --no-block", check=False)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def link_to_host(self, inside: str = "host0") -> tuple[str, str]:
        """A veth pair from the host into the container (its only route out): (host address, container address).

        The container keeps ``--private-network`` (its own loopback); this adds one /30 link,
        so a process the test starts on the host (a central broker) listens on the host's
        address and the container reaches it. Gone when the container powers off (its network
        namespace goes); :meth:`unlink_host` removes it earlier.
        """
        pid = self.init_pid()
        if pid is None:
            raise AssertionError("the container is not running")
        index = os.getpid() % 16384  # a /30 of 10.213.0.0/16 per test process
        base = ipaddress.ip_address("10.213.0.0") + index * 4
        host_ip, inside_ip = str(base + 1), str(base + 2)
        self.host_if = f"pct{os.getpid()}"[:15]
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        for argv in (
            ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", inside, "netns", str(pid)],
            ["ip", "addr", "add", f"{host_ip}/30", "dev", self.host_if],
            ["ip", "link", "set", self.host_if, "up"],
        ):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode != 0:
                raise BootError(f"{' '.join(argv)}: {done.stderr.strip()} (a veth link needs root and CAP_NET_ADMIN)")
        self.sh(f"ip addr add {inside_ip}/30 dev {inside} && ip link set {inside} up")
        return host_ip, inside_ip

    def unlink_host(self) -> None:
        if getattr(self, "host_if", None):
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
            self.host_if = None

    def reboot(self) -> float:
        """Power off and boot the same root again (nspawn outside a unit does not restart itself)."""
        self.poweroff()
        return self.boot()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def boot_problem(log: Path, code: int | None) -> str:
    try:
        tail = log.read_text(errors="replace")[-3000:]
    except OSError:
        tail = ""
    return (
        f"systemd-nspawn --boot {'exited with ' + str(code) if code is not None else 'did not reach running'}; "
        "tried: --register=no --keep-unit --private-network --capability=CAP_SYS_TIME as root. "
        "On a host with a read-only cgroup2, try SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0/1; "
        f'see docs/deployment.md ("Tested on a booted system").\nconsole:\n{tail}'
    )
