"""The client report: one self-contained HTML file (inline CSS and SVG charts, no script, no network)."""
