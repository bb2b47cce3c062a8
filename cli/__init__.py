"""Command-line interface: a thin layer of click commands and renderers."""
