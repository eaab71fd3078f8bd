"""Archived experiments: sweeps whose result was "keep the default" and one-off measurements
(experiments/README.md). Importable and runnable; not run by CI."""
