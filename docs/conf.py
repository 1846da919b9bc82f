"""Sphinx configuration for the trioquart documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``. Only Sphinx's own
extensions and its default theme are used, and nothing is fetched over the network.
"""

from __future__ import annotations

import os
import sys

# Import the package from this checkout even when it is not installed.
sys.path.insert(0, os.path.abspath(".."))

import trioquart  # noqa: E402

project = "trioquart"
author = "The trioquart developers"
copyright = "the trioquart developers"
release = trioquart.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

highlight_language = "python3"

# Classes are documented with their own docstring; the signature of __init__ is shown.
autoclass_content = "class"
autodoc_member_order = "bysource"
# TrioQuart, Blueprint, Request and Response subclass Flask's and werkzeug's classes. Their
# docstrings are written for those projects (and reference pages we do not have), so an
# overriding method without a docstring of its own is left out rather than borrowing one.
autodoc_inherit_docstrings = False
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

html_theme = "alabaster"
html_title = f"trioquart {release}"
html_static_path: list[str] = []
exclude_patterns = ["_build"]
