"""Tests of the torch-free run-directory protocol (engine/protocol)."""
