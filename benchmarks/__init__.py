"""Side-by-side measurements (run from the repository root): `python -m benchmarks.<name>`."""
