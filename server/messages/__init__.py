"""Messages that reach patrons: the ``[mail]`` configuration, templates, delivery channels.

The outbox itself (a table, claimed and marked by :class:`server.services.messages.Messages`)
lives in the service layer; this package holds what does not touch the database:

- :mod:`.config`: ``[mail]`` in the library's TOML, ``--smtp`` / ``PRIVCARD_SMTP``;
- :mod:`.templates`: the named templates in Thai and English, placeholder checks, rendering;
- :mod:`.channels`: the channel interface (:class:`~.channels.Channel`) and e-mail over SMTP
  (:class:`~.channels.EmailChannel`). Another channel (LINE Official Account, SMS) is a
  class beside it (see ``docs/messages.md``).
"""
