"""Config files and vocabularies: YAML with line numbers, field validators, language and licence vocabularies, and the
table of task types."""
