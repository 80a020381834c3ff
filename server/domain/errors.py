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
