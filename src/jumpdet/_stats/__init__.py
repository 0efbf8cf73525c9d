"""Private compiled statistics kernels of the detection core.

Order statistics (:mod:`jumpdet._stats.medians`), astropy-exact sigma
clipping (:mod:`jumpdet._stats.sigma_clip`), and the likelihood test's
chi-square improvements (:mod:`jumpdet._stats.ramp_likelihood`) and screen
(:mod:`jumpdet._stats.likelihood_screen`). Nothing here is public API: the
kernels take the layouts the core's tiles use and may change without notice.
"""
