"""Built-in plugin: datasets."""
