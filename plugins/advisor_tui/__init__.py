"""Built-in plugin: tui."""
