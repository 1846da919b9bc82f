"""The API page's "Inherited from Flask" section links only what trioquart really inherits.

Each ``:meth:``/``:attr:`` reference to ``flask.Flask.X`` or ``flask.Blueprint.X`` must be in
the stored Flask inventory (so the link resolves) and must not be overridden by trioquart
(or the link would send readers to Flask's description of something trioquart changed).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest
from sphinx.util.inventory import InventoryFile

from trioquart import Blueprint, TrioQuart

DOCS = Path(__file__).resolve().parent.parent / "docs"
REFERENCE = re.compile(r":(?:meth|attr):`~flask\.(Flask|Blueprint)\.([A-Za-z_]+)`")
CLASSES = {"Flask": TrioQuart, "Blueprint": Blueprint}


def references() -> list[tuple[str, str]]:
    return sorted(set(REFERENCE.findall((DOCS / "api.rst").read_text())))


def flask_names() -> set[str]:
    with (DOCS / "_inventories" / "flask.inv").open("rb") as stream:
        inventory = InventoryFile.load(stream, "", posixpath.join)
    data = getattr(inventory, "data", inventory)  # Sphinx 8.2+ wraps the mapping
    return {name for entries in data.values() for name in entries}


def test_the_section_has_its_references() -> None:
    assert ("Flask", "route") in references()
    assert ("Blueprint", "before_app_request") in references()


@pytest.mark.parametrize(("owner", "name"), references())
def test_reference_resolves_and_is_inherited(owner: str, name: str) -> None:
    assert f"flask.{owner}.{name}" in flask_names()
    ours = [k for k in CLASSES[owner].__mro__ if k.__module__.startswith("trioquart")]
    overriding = [k.__qualname__ for k in ours if name in vars(k)]
    assert not overriding, f"{name} is trioquart's own (in {overriding}), not Flask's"
