"""Sphinx configuration for the trioquart documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``. The theme is Furo
(the ``docs`` extra); the diagrams are Graphviz sources in the pages, drawn by the ``dot``
program (``.ci/install-services`` installs it); links to Python's, Flask's and the other
projects' documentation come from inventories kept in ``_inventories/`` (refreshed by
``update_inventories.py``), so nothing is fetched over the network.
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
    "sphinx.ext.graphviz",
    "sphinx.ext.intersphinx",
    "sphinx.ext.napoleon",
]

# Each project's published documentation, with the inventory of its names kept here.
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", "_inventories/python.inv"),
    "flask": ("https://flask.palletsprojects.com/en/stable/", "_inventories/flask.inv"),
    "werkzeug": ("https://werkzeug.palletsprojects.com/en/stable/", "_inventories/werkzeug.inv"),
    "jinja": ("https://jinja.palletsprojects.com/en/stable/", "_inventories/jinja.inv"),
    "click": ("https://click.palletsprojects.com/en/stable/", "_inventories/click.inv"),
    "trio": ("https://trio.readthedocs.io/en/stable/", "_inventories/trio.inv"),
}
# The diagrams as SVG: sharp at any size, and their text can be searched and copied.
graphviz_output_format = "svg"
graphviz_dot_args = [
    "-Gfontname=sans-serif",
    "-Nfontname=sans-serif",
    "-Efontname=sans-serif",
    # A light background of their own, so that they read in Furo's dark mode too.
    "-Gbgcolor=white",
    "-Gpad=0.2",
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

html_theme = "furo"
html_title = f"trioquart {release}"
html_static_path: list[str] = []
html_theme_options = {
    # Furo follows the reader's light or dark preference.
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}
exclude_patterns = ["_build", "_inventories"]
