"""Built-in plugin: onnx."""
