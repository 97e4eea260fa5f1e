"""Configs, result folders, figures and the run of one config: the layer between the library and files."""
