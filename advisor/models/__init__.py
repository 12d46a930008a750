"""Models: catalog entries, where their files are, the backend contract, variants and the one model runtime."""
