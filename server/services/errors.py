"""What the service layer refuses: one exception base, messages that keep their template.

Every refusal carries ``template`` (English with ``%(name)s`` placeholders, an entry of
the server's catalogue :mod:`server.catalogue`) and ``values`` apart, so the console
shows it in the staff's language while the CLI and the JSON API print the English text.
Errors from ``broker.contract`` and ``server.domain.rules`` carry the same two
attributes, so :meth:`ServiceError.of` passes them on without parsing their text.
:class:`Message` is defined beside ``TemplatedError`` in :mod:`server.domain.errors` (the
domain's refusals name codes in words with it) and is this module's too.
"""

from __future__ import annotations

from server.domain.errors import Message, TemplatedError, Words

__all__ = ["Message", "NotFound", "ServiceError", "Words"]


class ServiceError(TemplatedError, ValueError):
    """An operation refused; the message is meant for staff."""

    @property
    def message(self) -> Message:
        """The English text, still carrying its template and values."""
        return Message(self.template, **self.values)

    @classmethod
    def of(cls, source) -> ServiceError:
        """The error for a :class:`Message` or another package's error with a template."""
        message = source if isinstance(source, Message) else Message.of(source)
        return cls(message.template, **message.values)


class NotFound(ServiceError):
    """The member, card, device or entry does not exist."""
