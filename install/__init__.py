"""Installing privcard on a machine: ``privcard setup ROLE`` and ``privcard doctor``.

- :mod:`install.plan` — the change engine: every file setup writes is recorded with its
  hash in a manifest, so a second run changes nothing, ``--dry-run`` prints what would
  change and a file a person edited is kept unless ``--force``.
- :mod:`install.roles` — what each role (``server``, ``gate``, ``kiosk``) puts on the
  machine: the ``privcard`` user, a venv under ``/opt/privcard``, ``/etc/privcard``,
  systemd units, udev rules, Mosquitto's files (server), and the Pi hardening.
- :mod:`install.setup` — the ``privcard setup`` command (and ``--upgrade WHEEL``).
- :mod:`install.doctor` — ``privcard doctor``: one line per check, with a fix.
- :mod:`install.thai` — setup's refusals in Thai (English line, then Thai line).

It imports ``broker`` and ``hardware`` (the files they ship) and never a role: a Pi with
only ``privcard[gate]`` runs it. Server steps that need the database (migrations,
device registration) run ``privcard admin`` as a subprocess.
"""
