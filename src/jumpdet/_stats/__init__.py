"""Private compiled statistics kernels of the detection core.

Order statistics (:mod:`jumpdet._stats.medians`) and astropy-exact sigma
clipping (:mod:`jumpdet._stats.sigma_clip`). Nothing here is public API: the
kernels take the layouts the core's tiles use and may change without notice.
"""
