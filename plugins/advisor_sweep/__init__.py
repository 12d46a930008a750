"""Built-in plugin: sweep."""
