"""The torch-free core that the console and the engine share: run-folder protocol, control channel, config schema
and presets, schedule math, freeze plans, registries, errors, launching (local and Slurm).

It imports neither side: the console (`tui`) and the engine (the rest of `engine`) import it, and it starts the
engine by name (`engine.core.launch`, `engine.core.engine_calls`) instead of importing its code. Standard
library, PyYAML and NumPy only; contracts in the test suite keep it so.
"""
