"""Data-quality bit values used by the detection core.

The core must not import datamodels, so the few JWST DQ bits it needs are
restated here; ``tests/test_core.py`` checks them against
``stdatamodels.jwst.datamodels.dqflags`` so they cannot drift.
"""

__all__ = ["DO_NOT_USE", "JUMP_DET", "NO_GAIN_VALUE", "REFERENCE_PIXEL", "SATURATED", "UNUSABLE"]

# GROUPDQ bits (uint8)
DO_NOT_USE = 1
SATURATED = 2
JUMP_DET = 4
# a group jwst never uses for a difference
UNUSABLE = SATURATED | DO_NOT_USE

# PIXELDQ bits (uint32)
NO_GAIN_VALUE = 1 << 19
REFERENCE_PIXEL = 1 << 31
