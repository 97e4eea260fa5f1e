"""Shallow networks as empirical measures of neurons: readouts and initial laws."""
