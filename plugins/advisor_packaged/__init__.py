"""Built-in plugin: packaged."""
