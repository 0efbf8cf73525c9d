"""Gain and read-noise references: CRDS, overrides and the offline cache.

- :mod:`jumpdet.references.loading`: the references of one exposure as float32
  arrays in stated units (gain in e/DN, read noise as CDS noise in DN);
- :mod:`jumpdet.references.crds_access`: whether CRDS can answer here, and a
  one-line error when it cannot;
- :mod:`jumpdet.references.crds_cache`: builds a genuine local CRDS cache with
  synthetic references, for offline use.

This package imports jwst and crds; the detection core never imports it.
"""
