"""Sweeps: plan cells, run them in workers, store the results."""
