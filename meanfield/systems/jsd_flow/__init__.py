"""The Jensen–Shannon gradient flow of Huang and Zhang (docs/model.md §7): the density-level
Fokker–Planck solver (:mod:`.fokker_planck`). The vanilla GAN and the particle ODE build on it."""
