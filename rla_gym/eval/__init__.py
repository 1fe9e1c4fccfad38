"""Measurement, once: open-loop rollout and scoring, object and outcome metrics, speed. Benchmarks and the main job
call these; a benchmark script is presets, a table and a plot around them."""
