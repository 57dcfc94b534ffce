"""Load and latency benchmarks of the deployed server (see README, "Benchmarks")."""
