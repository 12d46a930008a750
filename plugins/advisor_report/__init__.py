"""Built-in plugin: report."""
