"""The console's screens, one per module: runs (history), launcher, monitor."""
