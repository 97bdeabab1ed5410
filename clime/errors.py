"""The one exception type that scripts turn into a one-line message and exit 2."""


class ClimeError(Exception):
    """A user-facing error: bad input, a missing file, a refused option.

    ``str(err)`` is a single line that names the file (and line) at fault.
    """

    def __init__(self, message, path=None, line=None):
        self.path = None if path is None else str(path)
        self.line = line
        self.detail = message
        where = ""
        if self.path is not None:
            where = self.path if line is None else f"{self.path}:{line}"
            where += ": "
        super().__init__(where + message)
