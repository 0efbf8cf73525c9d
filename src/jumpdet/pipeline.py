"""``jumpdet.Detector1Pipeline``: jwst's Detector1Pipeline with jumpdet's jump step.

Every other step, parameter and output is jwst's own; only the class behind
``steps.jump`` changes.
"""

from jwst.pipeline import Detector1Pipeline as _JwstDetector1Pipeline

from .step import JumpStep

__all__ = ["Detector1Pipeline"]


class Detector1Pipeline(_JwstDetector1Pipeline):
    """calwebb_detector1 with :class:`jumpdet.JumpStep` as its ``jump`` step."""

    step_defs = {**_JwstDetector1Pipeline.step_defs, "jump": JumpStep}

    @staticmethod
    def get_stpipe_loggers():
        """jwst's loggers plus ``jumpdet``."""
        return JumpStep.get_stpipe_loggers()
