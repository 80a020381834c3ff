"""What the service layer refuses: one exception base, messages that keep their template.

Every refusal carries ``template`` (English with ``%(name)s`` placeholders, an entry of
the server's catalogue :mod:`server.catalogue`) and ``values`` apart, so the console
shows it in the staff's language while the CLI and the JSON API print the English text.
Errors from ``broker.contract`` and ``server.domain.rules`` carry the same two
attributes, so :meth:`ServiceError.of` passes them on without parsing their text.
"""

from __future__ import annotations

from server.domain.errors import TemplatedError


class Message(str):
    """English text for staff that keeps its ``template`` and ``values`` apart.

    It is the plain text (``template % values``) for everything that compares, prints or
    serialises it, so the CLI and the JSON API are unchanged; the console translates
    ``template`` and fills in the same values.
    """

    def __new__(cls, template: str, **values):
        self = super().__new__(cls, template % values if values else template)
        self.template, self.values = template, values
        return self

    @classmethod
    def of(cls, exc: Exception) -> Message:
        """The message of an error that carries ``template`` and ``values`` (else its text)."""
        template = getattr(exc, "template", None)
        if template is None:
            return cls(str(exc))
        return cls(template, **getattr(exc, "values", {}))


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
