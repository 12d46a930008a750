"""One screen per step: catalog, policy, datasets, run, results, plot, recommendation."""
