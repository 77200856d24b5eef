"""Console tests: Pilot, snapshots, import hygiene and a real-terminal (tmux) run."""
