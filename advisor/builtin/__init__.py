"""The built-in plugins: ordinary plugins, found through the ``advisor`` entry points as third-party ones are.

They sit outside the core's layers (each may import any of the core), and the core never imports them: a command
reaches them only through the plugin manager (``advisor.plugins``).
"""
