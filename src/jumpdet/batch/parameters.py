"""Step options for a batch: read from the command line, checked by stpipe on the client.

Options are written as strun takes them (``--rejection_threshold 5``,
``--steps.jump.rejection_threshold=5``) and may come with a ``.cfg``/``.asdf``
parameter file. stpipe itself converts and checks them against the step's spec
(``Step.build_config`` and ``Step.from_config_section``, as ``Step.call`` does),
once on the client, so that a typo stops the run before any file is sent.
The workers receive the same options and repeat the same conversion per file,
after the CRDS parameters of that file, exactly as ``Step.call`` would.
"""

import os
from pathlib import Path

__all__ = ["checked_parameters", "parse_step_options", "step_class"]

# parameters the batch decides itself, with the fix to give instead
_RESERVED = {
    "output_file": "each file gets its own product named by the step; use --output-dir",
    "save_results": "products are always saved",
    "input_dir": "give the input paths (or globs) themselves",
}
_PLAIN = (str, int, float, bool, type(None), os.PathLike)


def step_class(pipeline: bool):
    """``jumpdet.Detector1Pipeline`` if ``pipeline`` else ``jumpdet.JumpStep``."""
    if pipeline:
        from ..pipeline import Detector1Pipeline

        return Detector1Pipeline
    from ..step import JumpStep

    return JumpStep


def parse_step_options(tokens: list[str]) -> dict:
    """``["--a.b", "1", "--c=x"]`` -> ``{"a": {"b": "1"}, "c": "x"}``: names and text values.

    Values stay text; stpipe converts them with the spec's types.
    """
    options: dict = {}
    rest = list(tokens)
    while rest:
        token = rest.pop(0)
        if not token.startswith("--") or token == "--":
            raise ValueError(f"unexpected argument {token!r}; step options are written --name value")
        name, equals, value = token[2:].partition("=")
        if not equals:
            if not rest:
                raise ValueError(f"step option --{name} needs a value, e.g. --{name}=true")
            value = rest.pop(0)
        *sections, key = name.split(".")
        target = options
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    return options


def checked_parameters(parameters: dict, *, pipeline: bool = False) -> dict:
    """The parameters to send to the workers, checked by stpipe; paths made absolute.

    Parameters
    ----------
    parameters : dict
        Keyword arguments as for ``Step.call``: step options (text or typed),
        ``output_dir``, ``config_file``, and for the pipeline ``steps``.
    pipeline : bool
        Check them against ``jumpdet.Detector1Pipeline`` instead of ``jumpdet.JumpStep``.

    Returns
    -------
    dict
        A new dict: ``output_dir`` and ``config_file`` absolute (``output_dir``
        defaults to the current folder, as for strun), override paths absolute.

    Raises
    ------
    ValueError
        In one line: a reserved or unknown option, a value of the wrong type, a
        missing parameter file, or a parameter file for the other class.
    """
    _refuse_reserved(parameters)
    checked = _absolute_paths(parameters)
    if "config_file" in checked:
        _check_parameter_file(checked["config_file"], pipeline)
    _validate(step_class(pipeline), checked)
    return checked


def _refuse_reserved(parameters: dict) -> None:
    for name, value in parameters.items():
        if name in _RESERVED:
            raise ValueError(f"{name} cannot be set for a batch: {_RESERVED[name]}")
        _refuse_objects(name, value)


def _refuse_objects(name: str, value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_objects(f"{name}.{key}", item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_objects(name, item)
    elif not isinstance(value, _PLAIN):
        raise ValueError(
            f"{name} is a {type(value).__name__}; only paths and plain values are sent to the workers, "
            "so pass the file's path instead"
        )


def _absolute_paths(parameters: dict) -> dict:
    checked = {key: _absolute_if_file(key, value) for key, value in parameters.items()}
    checked["output_dir"] = str(Path(checked.get("output_dir") or ".").expanduser().resolve())
    if "config_file" in checked:
        path = Path(checked["config_file"]).expanduser()
        if not path.is_file():
            raise ValueError(f"parameter file {path} not found; give the path of a .cfg or .asdf file")
        checked["config_file"] = str(path.resolve())
    return checked


def _absolute_if_file(key: str, value):
    """Reference overrides given relative to this folder still resolve on the workers."""
    if isinstance(value, dict):
        return {name: _absolute_if_file(name, item) for name, item in value.items()}
    if key.startswith("override_") and isinstance(value, str | os.PathLike) and Path(value).is_file():
        return str(Path(value).resolve())
    return str(value) if isinstance(value, os.PathLike) else value


def _check_parameter_file(path: str, pipeline: bool) -> None:
    from stpipe import Pipeline, config_parser, utilities
    from stpipe.step import Step

    config = config_parser.load_config_file(path)
    if "class" not in config:
        return
    declared = utilities.import_class(utilities.resolve_step_class_alias(config["class"]), Step)
    if issubclass(declared, Pipeline) != pipeline:
        fix = "add --pipeline" if not pipeline else "drop --pipeline or use a pipeline's parameter file"
        raise ValueError(f"parameter file {path} is for {config['class']}; {fix}")


def _validate(cls, parameters: dict) -> None:
    from stpipe.exceptions import ValidationError

    try:
        config, config_file = cls.build_config(None, **parameters)
        cls.from_config_section(config, name=config.get("name"), config_file=config_file)
    except ValidationError as exc:
        problems = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise ValueError(
            f"invalid options for jumpdet.{cls.__name__}: {problems} (see `strun jumpdet.{cls.__name__} -h`)"
        ) from exc
