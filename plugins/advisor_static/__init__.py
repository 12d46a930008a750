"""Built-in plugin: static."""
