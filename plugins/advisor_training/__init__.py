"""Built-in plugin: training."""
