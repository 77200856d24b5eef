"""Torch-free data sources for the console: run listings and event streams read from the runs directory."""
