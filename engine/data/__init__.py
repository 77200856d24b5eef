"""Data sets, loaders, samplers and augmentations for the engine (the embedded synthetic VPR city lives here)."""
