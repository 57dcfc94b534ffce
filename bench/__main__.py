"""`python -m bench`: run the benchmark (see bench/run.py and README, "Benchmarks")."""

from bench.run import main

main()
