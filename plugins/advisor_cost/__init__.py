"""Built-in plugin: cost."""
