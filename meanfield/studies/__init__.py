"""Studies built on runs: sweeps (and the studies a sweep can run: plain, the coupled N-scaling
study, propagation of chaos for the particle flows), the flows' studies, benchmarks."""

from meanfield.studies import flows, mode_collapse, nscaling, sweep  # noqa: F401  (registers the sweep studies)
