"""The gate package's one exception base (the outbox's errors are among them)."""


class GateError(Exception):
    """The one exception base of the gate package."""
