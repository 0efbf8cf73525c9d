"""Write a file atomically: it appears whole, or not at all.

The content goes to a hidden temporary file in the target folder, is flushed
to disk, and the temporary file is renamed over the target (``os.replace``,
atomic within one filesystem). At any moment the target is the previous file
or the complete new one. The flush to disk (``fsync``) is what keeps this true
after a power loss or an operating-system crash; against a process that is
killed the rename alone suffices (the written data are in the kernel's page
cache, whole, before the rename), so a caller may leave it out (``fsync=False``).
Used for products (:mod:`jumpdet.saving`) and for the jump catalogue
(:mod:`jumpdet.catalog`); no datamodels involved.
"""

import os
import secrets
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "write_atomically"]

TEMP_SUFFIX = ".part"


def write_atomically(path, write, *, fsync: bool = True) -> str:
    """Write ``path`` through a temporary file renamed into place.

    Parameters
    ----------
    path : str or os.PathLike
        The final path. Its folder must exist.
    write : callable
        Called with the open binary stream of the temporary file; writes the content.
    fsync : bool, optional
        Flush the content to disk before the rename (default True); see above.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    OSError
        If writing or renaming fails; the temporary file is removed and the
        previous file at ``path``, if any, is untouched.
    """
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # honours the umask
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            if fsync:
                os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return os.fspath(path)
