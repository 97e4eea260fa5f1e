"""The core: the particle-system protocol, the chunked driver and its time grid, the kind registry, devices."""
