"""Sphinx configuration; builds offline (no intersphinx, no remote themes)."""

project = "jumpdet"
author = "jumpdet developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
