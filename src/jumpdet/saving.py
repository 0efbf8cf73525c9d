"""Atomic products: a file jumpdet saves appears whole, or not at all.

stpipe saves a product with ``model.save(path)``, which writes in place: a run
killed while writing leaves a truncated file, and the previous product is
already gone. Here the product is written to a hidden temporary file in the
target folder, flushed to disk, and renamed over the target
(:func:`jumpdet.atomic.write_atomically`). At any moment the target is the
previous file or the complete new one. The file names itself with its final name (FILENAME
keyword, ``meta.filename``), exactly as jwst's output does.

:class:`AtomicSaveMixin` gives a step or pipeline class this behaviour for
everything it saves; :func:`make_saves_atomic` gives it to one step instance
(jwst's steps inside :class:`jumpdet.Detector1Pipeline`). Both also refuse to
write over the file the run was started on.
"""

import os
from functools import partial
from pathlib import Path

from stdatamodels import DataModel

from .atomic import write_atomically
from .errors import OutputPathError

__all__ = ["AtomicSaveMixin", "OutputIsInputError", "make_saves_atomic", "save_atomically"]


class OutputIsInputError(OutputPathError, FileExistsError):
    """The product would be written over the input file of the run."""


def save_atomically(model, path, *, input_file=None, fsync: bool = True) -> str:
    """Write `model` to `path` through a temporary file renamed into place.

    Parameters
    ----------
    model : `~stdatamodels.DataModel`
        Saved as FITS or ASDF by the extension of `path`, as ``model.save`` does;
        its ``meta.filename`` becomes the name of `path`.
    path : str or os.PathLike
        The product's final path. Its folder must exist.
    input_file : str or os.PathLike, optional
        The run's input file; writing over it is refused.
    fsync : bool, optional
        Flush the file to disk before renaming it into place (default True);
        only a power loss or a system crash needs it (:mod:`jumpdet.atomic`).

    Returns
    -------
    str
        `path`, as ``model.save`` returns it.

    Raises
    ------
    OutputIsInputError
        If `path` is `input_file`. Nothing is written.
    ValueError
        For an extension other than ``.fits`` or ``.asdf``.
    OSError
        If writing or renaming fails; the temporary file is removed and the
        previous file at `path`, if any, is untouched.
    """
    target = Path(path)
    write = {".fits": model.to_fits, ".asdf": model.to_asdf}.get(target.suffix)
    if write is None:
        raise ValueError(f"unknown filetype {target.suffix} of {target}; use .fits or .asdf")
    _refuse_input(target, input_file)
    model.meta.filename = target.name  # written into the file: its final name, not the temporary one
    return write_atomically(path, write, fsync=fsync)


def _refuse_input(target: Path, input_file) -> None:
    if input_file is not None and target.exists() and os.path.samefile(target, input_file):
        raise OutputIsInputError(
            f"{target}: the product would be written over the input file; "
            "choose another output_dir or output_file (--output_dir, --output_file), or rename the input",
            filename=target,
        )


def _check_output_dir(output_dir) -> None:
    """One line, before any work, for an output_dir that is a file (stpipe would fail to create it)."""
    folder = os.path.expandvars(os.path.expanduser(output_dir or ""))
    if folder and os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputPathError(
            f"output_dir {output_dir} is a file, not a folder; pass a folder to --output_dir "
            "(it is created if missing)",
            filename=output_dir,
        )


class _SavedAtomically:
    """``model`` as stpipe's ``Step.save_model`` uses it, with an atomic ``save``."""

    def __init__(self, model, input_file, fsync):
        self._model = model
        self._input_file = input_file
        self._fsync = fsync

    def __getattr__(self, name):
        return getattr(self._model, name)

    def save(self, path):
        return save_atomically(self._model, path, input_file=self._input_file, fsync=self._fsync)


def _save_model(step, save_model, model, *args, **kwargs):
    """``step.save_model`` (stpipe's naming rules) with each single model written atomically."""
    if isinstance(model, DataModel):
        fsync = step.search_attr("fsync_products")  # a pipeline's setting reaches its steps
        model = _SavedAtomically(model, step.search_attr("_jumpdet_input_file"), fsync is not False)
    return save_model(model, *args, **kwargs)


def make_saves_atomic(step) -> None:
    """Make one stpipe step instance save its products atomically.

    Parameters
    ----------
    step : `stpipe.Step`
        Typically a jwst step inside a jumpdet pipeline; its input file is the
        pipeline's.
    """
    if not isinstance(step, AtomicSaveMixin):
        step.save_model = partial(_save_model, step, step.save_model)


class AtomicSaveMixin:
    """For stpipe ``Step``/``Pipeline`` subclasses: every product saved atomically.

    Put it first among the bases. ``run`` records the input file (if the
    input is a file) so that no product is written over it.

    Attributes
    ----------
    fsync_products : bool or None
        Flush each product to disk before renaming it into place. None (the
        default) means True; False leaves the flush to the operating system,
        which keeps products whole against a killed process but not against a
        power loss (:mod:`jumpdet.atomic`). Not a step parameter: set on the
        instance (``jumpdet run`` sets it from ``--fsync``); a pipeline's value
        applies to its steps.
    """

    _jumpdet_input_file = None
    fsync_products = None

    def run(self, *args):
        """Record the input file, then ``run`` as stpipe does."""
        first = args[0] if args else None
        is_file = isinstance(first, str | os.PathLike) and os.path.isfile(first)
        self._jumpdet_input_file = os.path.abspath(first) if is_file else None
        _check_output_dir(self.output_dir)
        return super().run(*args)

    def save_model(self, model, *args, **kwargs):
        """stpipe's ``save_model``, each file written through a temporary name and a rename."""
        return _save_model(self, super().save_model, model, *args, **kwargs)

    def refuse_output_over_input(self) -> None:
        """Raise :class:`OutputIsInputError` now if the default product path is the input file."""
        if self.save_results or self.output_file:
            _refuse_input(Path(self.make_output_path()), self.search_attr("_jumpdet_input_file"))
