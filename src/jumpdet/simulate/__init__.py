"""Synthetic ramps with known truth, for the demo, the tests and the benchmarks.

- :mod:`jumpdet.simulate.ramps`: ramps with injected jumps, and RampModels
  built from them;
- :mod:`jumpdet.simulate.events`: seeded ramps with NIR snowballs and MIRI
  showers.
"""
