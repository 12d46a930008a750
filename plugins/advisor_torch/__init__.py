"""Built-in plugin: torch."""
