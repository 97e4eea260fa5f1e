"""Measurements of particle measures: Wasserstein distances, moments, coagulation, couplings."""
