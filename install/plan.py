"""The change engine behind ``privcard setup``: idempotent, dry-runnable, edit-preserving.

Every file setup writes goes through :meth:`Plan.write`, which compares it with what is
there and with the manifest (``/etc/privcard/setup-manifest.json``: path -> sha256 of
what setup last wrote):

- same content: nothing to do (mode and owner are still checked);
- absent, or still exactly what setup wrote last time: written;
- anything else — a person edited it, or it was there before setup — is **kept** and
  reported, unless ``force`` (``--force``).

Commands (``useradd``, ``systemctl``, ``pip``) go through :meth:`Plan.run`; with a root
prefix (``--root DIR``, tests and image builders) they are listed, not run. With
``dry_run`` nothing at all is changed: each change is printed as "would ...".
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from broker.contract import TemplatedError
from install.thai import Text, thai_of

MANIFEST = "/etc/privcard/setup-manifest.json"


class SetupError(TemplatedError, RuntimeError):
    """Setup cannot go on (a command failed, bad input): an English template and its values
    (``str(exc)`` is the English), said in Thai by :mod:`install.thai`."""


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class Plan:
    """Applies (or, dry, lists) the changes one setup run makes."""

    root: Path = Path("/")
    dry_run: bool = False
    force: bool = False
    out: object = None  # default: sys.stdout at the time of printing
    changes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    manifest: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        path = self.path(MANIFEST)
        try:
            self.manifest = json.loads(path.read_text())
        except FileNotFoundError:
            self.manifest = {}
        except (OSError, ValueError) as exc:
            raise SetupError(
                "cannot read %(path)s: %(error)s; move it away to start over", path=path, error=exc
            ) from None
        self.manifest.setdefault("files", {})
        self.manifest.setdefault("settings", {})
        self._manifest_before = json.dumps(self.manifest, sort_keys=True)

    # -- paths
    @property
    def real(self) -> bool:
        """True when acting on this machine's own root (commands run, owners set)."""
        return self.root == Path("/")

    def path(self, target: str) -> Path:
        """Where the absolute path ``target`` is under the root prefix."""
        return self.root / target.lstrip("/")

    # -- reporting
    def _say(self, verb: str, what: str) -> None:
        line = f"{'would ' if self.dry_run else ''}{verb} {what}"
        self.changes.append(line)
        print(line, file=self.out or sys.stdout, flush=True)

    def note(self, text: str) -> None:
        """A line that is not a change (a check, a skipped step)."""
        print(f"  {text}", file=self.out or sys.stdout, flush=True)

    # -- files
    def mkdir(self, target: str, mode: int = 0o755, owner: str | None = None, group: str | None = None) -> None:
        """A directory with this mode (and owner, on a real root)."""
        p = self.path(target)
        if not p.is_dir():
            self._say("create directory", target)
            if not self.dry_run:
                p.mkdir(parents=True, exist_ok=True)
                os.chmod(p, mode)
        self._attributes(target, p, mode, owner, group)

    def write(
        self,
        target: str,
        content: str | bytes,
        mode: int = 0o644,
        owner: str | None = None,
        group: str | None = None,
    ) -> bool:
        """Write ``content`` to ``target`` unless a person edited it; True when it changed."""
        data = content.encode() if isinstance(content, str) else content
        p = self.path(target)
        want = sha256(data)
        recorded = self.manifest["files"].get(target)
        try:
            have = p.read_bytes()
        except FileNotFoundError:
            have = None
        if have is not None and sha256(have) == want:
            if recorded != want and not self.dry_run:
                self.manifest["files"][target] = want
            self._attributes(target, p, mode, owner, group)
            return False
        if have is not None and sha256(have) != recorded:
            if not self.force:
                self.kept.append(target)
                kept = Text(
                    "kept %(path)s: edited since setup wrote it (or not written by setup); "
                    "re-run with --force to replace it",
                    path=target,
                )
                for line in (kept, thai_of(kept)):  # English, then Thai
                    print(line, file=self.out or sys.stdout, flush=True)
                return False
            self._say("replace (--force)", target)
        else:
            self._say("create" if have is None else "update", target)
        if not self.dry_run:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.privcard-tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, mode)
            self._chown(tmp, owner, group)
            os.replace(tmp, p)
            self.manifest["files"][target] = want
        return True

    def read(self, target: str) -> str | None:
        """The current text of ``target`` (None when absent)."""
        try:
            return self.path(target).read_text()
        except FileNotFoundError:
            return None

    def _attributes(self, target: str, p: Path, mode: int, owner: str | None, group: str | None) -> None:
        if not p.exists() or (self.dry_run and not p.exists()):
            return
        st = p.stat()
        if st.st_mode & 0o7777 != mode:
            self._say(f"chmod {mode:04o}", target)
            if not self.dry_run:
                os.chmod(p, mode)
        if self.real and (owner or group):
            uid = _uid(owner) if owner else st.st_uid
            gid = _gid(group) if group else st.st_gid
            if uid is None or gid is None:
                return  # the user is created later in the same run (dry run)
            if (st.st_uid, st.st_gid) != (uid, gid):
                self._say(f"chown {owner or ''}:{group or ''}", target)
                if not self.dry_run:
                    os.chown(p, uid, gid)

    def _chown(self, p: Path, owner: str | None, group: str | None) -> None:
        if self.real and (owner or group):
            uid, gid = _uid(owner) if owner else -1, _gid(group) if group else -1
            os.chown(p, -1 if uid is None else uid, -1 if gid is None else gid)

    # -- commands
    def run(self, argv: list[str], why: str, *, env: dict | None = None, check: bool = True) -> int:
        """Run a command that changes the system (listed only under a root prefix or dry run)."""
        self._say("run", " ".join(argv) + (f"   # {why}" if why else ""))
        if self.dry_run or not self.real:
            return 0
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0 and check:
            raise SetupError(
                "%(command)s failed (%(code)s):\n%(output)s",
                command=" ".join(argv),
                code=done.returncode,
                output=done.stdout.strip(),
            )
        return done.returncode

    def probe(self, argv: list[str]) -> subprocess.CompletedProcess | None:
        """Run a read-only command (a check); None under a root prefix."""
        if not self.real:
            return None
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None

    # -- manifest
    def setting(self, key: str, value) -> None:
        """Remember a role setting (doctor reads them) in the manifest."""
        self.manifest["settings"][key] = value

    def save(self) -> None:
        """Write the manifest if it changed."""
        if self.dry_run or json.dumps(self.manifest, sort_keys=True) == self._manifest_before:
            return
        p = self.path(MANIFEST)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o640)
        os.replace(tmp, p)


def _uid(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return None


def _gid(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def load_manifest(root: str | Path = "/") -> dict:
    """The manifest of a machine (empty when setup never ran)."""
    try:
        return json.loads((Path(root) / MANIFEST.lstrip("/")).read_text())
    except (OSError, ValueError):
        return {}
