"""Studies built on runs: sweeps (and the studies a sweep can run: plain, the coupled N-scaling
study), benchmarks."""

from meanfield.studies import nscaling, sweep  # noqa: F401  (registers the sweep studies)
