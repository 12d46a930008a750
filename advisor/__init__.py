"""embedding-advisor: choose, shrink and ship an embedding model with evidence from your own data and hardware.

The core package stays light: importing it never imports torch, transformers or textual. Heavy libraries are
imported lazily inside the plugins that need them.
"""

__version__ = "0.1.0"
