"""The one shape of privcard's user-facing errors: an English template and its values kept apart."""

from __future__ import annotations


class TemplatedError(Exception):
    """An error whose English message is ``template`` filled with ``values``.

    ``template`` has ``%(name)s`` placeholders and ``values`` what fills them, so the console,
    the API and the command lines can say it in Thai too (``server.catalogue``) without
    parsing the text; ``str(exc)`` is the English text. Subclasses add ``ValueError`` where
    the mistake is in what was given.
    """

    def __init__(self, template: str, **values):
        super().__init__(template % values if values else template)
        self.template, self.values = template, values


class Message(str):
    """English text for staff that keeps its ``template`` and ``values`` apart.

    It is the plain text (``template % values``) for everything that compares, prints or
    serialises it, so the CLI and the JSON API are unchanged; the console translates
    ``template`` and fills in the same values. As an error's value it is said in the
    error's language too (``server.catalogue.localize``): a weekday a refusal names is
    ``Message("Monday")``, "วันจันทร์" in Thai, rather than its code ``mon``.
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


class Words(str):
    """A name that is programme data in both languages (an activity's ``en`` and ``th``), as an
    error's value: its English text everywhere, and ``th`` in the Thai message
    (``server.catalogue.localize``). The catalogue cannot translate a library's own names."""

    def __new__(cls, en: str, th: str):
        self = super().__new__(cls, en)
        self.th_words = th
        return self
