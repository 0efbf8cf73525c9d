"""stpipe entry point: the steps and pipelines jumpdet provides."""

__all__ = ["get_steps"]


def get_steps():
    """Describe jumpdet's stpipe classes for the ``stpipe.steps`` entry-point group.

    Returns
    -------
    list of (class name, alias, is_pipeline)
        Aliases do not clash with jwst's ``jump`` and ``calwebb_detector1``.
    """
    return [
        ("jumpdet.JumpStep", "jumpdet", False),
        ("jumpdet.Detector1Pipeline", "jumpdet_detector1", True),
    ]
