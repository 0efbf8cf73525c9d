"""The step's input and reference files: opened, or refused with one line naming the file and the fix.

stdatamodels reports a damaged or foreign file with whatever its readers
raise (``KeyError: "Extension 'ASDF' not found."``, numpy's reshape errors,
"Array has wrong number of dimensions"); :func:`file_error` looks at the file
itself to say which case it is.
"""

import errno
import os
import warnings

from astropy.io import fits

from .errors import BadInputError, InputFileError, JumpdetError

__all__ = ["check_file", "check_not_empty", "file_error", "open_checked"]

RAMP = "a ramp; run the jump step on the output of refpix, linearity or dark_current"
# What the readers of stdatamodels/astropy/asdf raise on files they cannot read.
READ_ERRORS = (OSError, ValueError, TypeError, KeyError, IndexError, EOFError)


def check_file(path, *, role: str = "input", datamodel: bool = True) -> None:
    """Refuse, in one line, a file that is missing, truncated, not FITS/ASDF or (`datamodel`) has no ASDF.

    Only headers are read. astropy opens a truncated FITS file without error and
    drops the HDUs it cannot read, and stdatamodels then fills missing arrays
    with zeros: checked here, such a file is never processed.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise file_error(name, FileNotFoundError(name), role=role)
    what = _what_is_wrong(name, datamodel=datamodel)
    if what is not None:
        raise InputFileError(f"{role} {name}: {what}", filename=name)


def open_checked(model_class, source, *, role: str, expected: str):
    """Open `source` as `model_class`; a one-line :class:`InputFileError` if it cannot be.

    Parameters
    ----------
    model_class : type
        A stdatamodels class (``RampModel``, ``GainModel``, ...).
    source : str, path or DataModel
        What the user gave; a model is returned as ``model_class(source)``.
    role : str
        How the message names the file: "input", "override_gain", ...
    expected : str
        What the file should be, and how to get one, for the message.
    """
    if not isinstance(source, str | os.PathLike):
        return model_class(source)
    check_file(source, role=role, datamodel=False)
    try:
        return model_class(source)
    except READ_ERRORS as exc:
        raise file_error(source, exc, role=role, expected=expected) from exc


def file_error(path, exc: BaseException, *, role: str = "input", expected: str = RAMP) -> JumpdetError:
    """The one-line error for a file that stdatamodels could not read as `expected`.

    An ``OSError`` (or a damaged file) gives :class:`InputFileError`, anything
    else :class:`BadInputError` (a ``ValueError``): the built-in type is kept.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        error = InputFileError(f"{role} {name}: no such file; check the path", filename=name)
        error.errno = errno.ENOENT
        return error
    if os.path.isdir(name):
        return InputFileError(f"{role} {name} is a folder; pass a file", filename=name)
    what = _what_is_wrong(name, datamodel=True)
    if what is not None:
        return InputFileError(f"{role} {name}: {what}", filename=name)
    kind = InputFileError if isinstance(exc, OSError) else BadInputError
    return kind(f"{role} {name} is not {expected} ({type(exc).__name__}: {exc})", filename=name)


def _what_is_wrong(name: str, *, datamodel: bool) -> str | None:
    with open(name, "rb") as stream:
        head = stream.read(80)
    if head.startswith(b"#ASDF"):
        return None
    if not head.startswith(b"SIMPLE  ="):
        return "not a FITS or ASDF file; pass a JWST datamodel file written by the jwst pipeline"
    size = os.path.getsize(name)
    try:
        with warnings.catch_warnings(record=True) as caught, fits.open(name) as hdulist:
            warnings.simplefilter("always")
            names = [hdu.name or type(hdu).__name__ for hdu in hdulist]
            last = hdulist.fileinfo(len(hdulist) - 1)
            expected = last["datLoc"] + last["datSpan"]
    except (OSError, ValueError) as exc:
        return f"a corrupt FITS file ({exc}); write or download it again"
    if expected > size or any("corrupt" in str(w.message) or "truncat" in str(w.message) for w in caught):
        return (
            f"a truncated or corrupt FITS file ({size} bytes; readable HDUs: {', '.join(names)}); "
            "write or download it again"
        )
    if datamodel and "ASDF" not in names:
        return (
            f"a FITS file without the ASDF extension of JWST datamodels (its HDUs: {', '.join(names)}); "
            "pass a file written by the jwst pipeline or stdatamodels"
        )
    return None


def check_not_empty(model, name: str) -> None:
    """A one-line :class:`BadInputError` for a ramp with no integration, group, row or column."""
    shape = model.data.shape
    if 0 in shape:
        axes = ("NINTS", "NGROUPS", "rows", "columns")
        empty = ", ".join(f"{axis}=0" for axis, n in zip(axes, shape, strict=True) if n == 0)
        raise BadInputError(
            f"input {name}: the ramp is empty ({empty}, SCI shape {shape}); pass an exposure with data",
            filename=name,
        )
