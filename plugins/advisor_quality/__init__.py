"""Built-in plugin: quality."""
