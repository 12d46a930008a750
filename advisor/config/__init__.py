"""Config files: YAML with line numbers, field validators, language and licence vocabularies."""
