"""``jumpdet.Detector1Pipeline``: jwst's Detector1Pipeline with jumpdet's jump step.

Every other step, parameter and output is jwst's own; only the class behind
``steps.jump`` changes.
"""

from jwst.pipeline import Detector1Pipeline as _JwstDetector1Pipeline

from .references.crds_access import CrdsOptionalMixin, make_crds_optional
from .saving import AtomicSaveMixin, make_saves_atomic
from .step import JumpStep

__all__ = ["Detector1Pipeline"]


class Detector1Pipeline(AtomicSaveMixin, CrdsOptionalMixin, _JwstDetector1Pipeline):
    """calwebb_detector1 with :class:`jumpdet.JumpStep` as its ``jump`` step.

    Every product it or its steps save is written atomically (:mod:`jumpdet.saving`);
    with every reference overridden it runs without CRDS (:mod:`jumpdet.references.crds_access`).
    """

    step_defs = {**_JwstDetector1Pipeline.step_defs, "jump": JumpStep}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.step_defs:
            make_saves_atomic(getattr(self, name))
            make_crds_optional(getattr(self, name))

    @staticmethod
    def get_stpipe_loggers():
        """jwst's loggers plus ``jumpdet``."""
        return JumpStep.get_stpipe_loggers()
