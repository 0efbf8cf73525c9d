"""Expected failures: one line that says what is wrong and how to fix it.

Each class keeps the built-in type a caller would catch (``OSError`` for
files, ``ValueError`` for values, ``RuntimeError`` for a missing CRDS) and is
also an stpipe ``StpipeExitException``: ``strun`` then ends with the one line on
stderr and exit status 1 instead of a traceback. In Python they are ordinary
exceptions whose ``str`` is the line.
"""

from stpipe.exceptions import StpipeExitException

__all__ = ["BadInputError", "CrdsUnavailableError", "InputFileError", "JumpdetError", "OutputPathError"]


class JumpdetError(StpipeExitException):
    """Base of jumpdet's expected failures; ``str(error)`` is the one-line message."""

    def __init__(self, message: str, *, filename=None):
        Exception.__init__(self, message)
        if filename is not None:
            self.filename = str(filename)

    def __str__(self) -> str:
        """The one-line message."""
        return self.args[0]

    @property
    def exit_status(self) -> str:
        """What ``strun`` passes to ``sys.exit``: a message is printed on stderr, status 1."""
        return f"jumpdet: error: {self.args[0]}"


class InputFileError(JumpdetError, OSError):
    """A file that cannot be read as what it should be (missing, truncated, of another kind)."""


class OutputPathError(JumpdetError, OSError):
    """A product cannot be written where it was asked to be."""


class BadInputError(JumpdetError, ValueError):
    """Data or parameter values jump detection cannot run on."""


class CrdsUnavailableError(JumpdetError, RuntimeError):
    """CRDS has neither a local cache nor a reachable server."""
