"""The library system (ILS) link: one small interface, a SIP2 client behind it.

- :mod:`server.ils.base`: :class:`IlsLink` (what the service layer asks of an ILS),
  the answers (:class:`PatronInfo`, :class:`FeeResult`) and :class:`IlsError`;
- :mod:`server.ils.config`: the ``[ils]`` section of the library's TOML, ``--ils URL``
  and ``PRIVCARD_ILS``;
- :mod:`server.ils.sip2`: the SIP2 client (pysip2's codec; the socket, login, resend
  and timeouts are ours).

A REST adapter (e.g. Koha's ``/api/v1/patrons/{id}/account/credits``) would be one more
module implementing :class:`IlsLink`, chosen by its URL scheme in :func:`open_link`.
See ``docs/ils.md``.
"""

from __future__ import annotations

from server.ils.base import FeeResult, IlsError, IlsLink, IlsTimeout, PatronInfo
from server.ils.config import IlsConfig, IlsConfigError, load_config


def open_link(config: IlsConfig) -> IlsLink:
    """The link for ``config``'s URL scheme (``sip2://`` or ``sip2s://``)."""
    from server.ils.sip2 import Sip2Link

    return Sip2Link(config)


__all__ = [
    "FeeResult",
    "IlsConfig",
    "IlsConfigError",
    "IlsError",
    "IlsLink",
    "IlsTimeout",
    "PatronInfo",
    "load_config",
    "open_link",
]
