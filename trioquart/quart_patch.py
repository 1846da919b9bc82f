"""Opt in to Quart's extensions: after ``import trioquart.quart_patch``, ``quart`` is trioquart.

Quart's extensions (Quart-CORS, Quart-Auth, Quart-Schema, Quart-Rate-Limiter, ...) are
written against ``quart``'s public names: they import ``request``, ``current_app``,
``Quart``, ``quart.typing`` and a few submodules, and read context variables through those
proxies. Run on trioquart unchanged, they would import the real Quart and read *its*
context variables, which trioquart never sets. Importing this module first, at the top of
the app module::

    import trioquart.quart_patch  # noqa: F401  (before any extension)

    from quart_cors import cors
    from trioquart import TrioQuart

makes ``import quart`` and ``from quart.X import Y`` resolve to trioquart's own objects:
the same proxies, ``Quart`` as :class:`~trioquart.TrioQuart`, and so on, module for
module (:data:`MODULES`). A submodule of Quart's that trioquart has no counterpart for
(``quart.asgi``, Quart's asyncio plumbing) fails to import with an error that says so.

It is the same device Quart used for Flask's extensions (``quart.flask_patch``), kept
small: a finder on ``sys.meta_path`` answers for the ``quart`` names and nothing else, so
apps that do not opt in, and every other import, are untouched. Installing twice is
harmless; installing after ``quart`` itself was imported raises :class:`QuartAlreadyImported`,
because objects bound to the real Quart by then would stay bound to it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["MODULES", "QuartAlreadyImported", "install", "installed"]

#: Each ``quart`` module an extension may import, and the trioquart module behind it.
MODULES: dict[str, str] = {
    "quart": "trioquart",
    "quart.app": "trioquart.app",
    "quart.blueprints": "trioquart.blueprints",
    "quart.cli": "trioquart.cli",
    "quart.config": "trioquart.config",
    "quart.ctx": "trioquart.ctx",
    "quart.datastructures": "trioquart.datastructures",
    "quart.formparser": "trioquart.formparser",
    "quart.globals": "trioquart.globals",
    "quart.helpers": "trioquart.helpers",
    "quart.json": "trioquart.json",
    "quart.json.provider": "trioquart.json.provider",
    "quart.json.tag": "trioquart.json.tag",
    "quart.routing": "trioquart.routing",
    "quart.sessions": "trioquart.sessions",
    "quart.signals": "trioquart.signals",
    "quart.templating": "trioquart.templating",
    "quart.testing": "trioquart.testing",
    "quart.testing.app": "trioquart.testing.app",
    "quart.testing.client": "trioquart.testing.client",
    "quart.testing.connections": "trioquart.testing",
    "quart.testing.utils": "trioquart.testing.utils",
    "quart.typing": "trioquart.typing",
    "quart.views": "trioquart.views",
    "quart.wrappers": "trioquart.wrappers",
    "quart.wrappers.base": "trioquart.wrappers.base",
    "quart.wrappers.request": "trioquart.wrappers.request",
    "quart.wrappers.response": "trioquart.wrappers.response",
    "quart.wrappers.websocket": "trioquart.wrappers.websocket",
}

#: Names Quart has under another name in trioquart, per module.
RENAMED: dict[str, dict[str, str]] = {
    "quart": {"Quart": "TrioQuart"},
    "quart.app": {"Quart": "TrioQuart"},
    "quart.typing": {"Quart": "TrioQuart"},
    "quart.testing": {"QuartClient": "TestClient"},
    "quart.testing.client": {"QuartClient": "TestClient"},
}


class QuartAlreadyImported(ImportError):  # noqa: N818 -- says what went wrong
    """``trioquart.quart_patch`` was imported after the real ``quart``."""


class QuartModule(ModuleType):
    """A ``quart`` module that forwards every attribute to its trioquart module.

    A module of its own (rather than the trioquart module under a second name) so that
    the trioquart module is not changed, and ``quart.Quart`` can exist without trioquart
    having a ``Quart`` name.
    """

    def __init__(self, name: str, target: ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__dict__["_trioquart_target"] = target
        self.__dict__["_trioquart_renamed"] = RENAMED.get(name, {})

    def __getattr__(self, name: str) -> Any:
        target: ModuleType = self.__dict__["_trioquart_target"]
        renamed: dict[str, str] = self.__dict__["_trioquart_renamed"]
        submodule = f"{self.__name__}.{name}"
        if submodule in MODULES:  # ``quart.app`` without ``import quart.app`` first
            return importlib.import_module(submodule)
        try:
            return getattr(target, renamed.get(name, name))
        except AttributeError:
            raise AttributeError(
                f"{self.__name__!r} (trioquart's {target.__name__}, by trioquart.quart_patch)"
                f" has no attribute {name!r}: trioquart does not provide it."
            ) from None

    def __dir__(self) -> list[str]:
        target: ModuleType = self.__dict__["_trioquart_target"]
        return sorted({*dir(target), *self.__dict__["_trioquart_renamed"]})

    def __repr__(self) -> str:
        target: ModuleType = self.__dict__["_trioquart_target"]
        return f"<module {self.__name__!r}: trioquart's {target.__name__}>"


class QuartLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = importlib.import_module(MODULES[spec.name])
        module = QuartModule(spec.name, target)
        if hasattr(target, "__path__"):
            module.__path__ = []  # a package: its submodules come through the finder too
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module forwards to trioquart's."""


class QuartFinder(importlib.abc.MetaPathFinder):
    """Answers for ``quart`` and its submodules, and for nothing else."""

    loader = QuartLoader()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "quart" and not fullname.startswith("quart."):
            return None
        if fullname not in MODULES:
            raise ModuleNotFoundError(
                f"{fullname} is part of Quart that trioquart has no counterpart for"
                " (trioquart.quart_patch maps: " + ", ".join(sorted(MODULES)) + ")."
                " An extension that needs it does not run on trioquart.",
                name=fullname,
            )
        is_package = hasattr(importlib.import_module(MODULES[fullname]), "__path__")
        return importlib.machinery.ModuleSpec(
            fullname, self.loader, origin=MODULES[fullname], is_package=is_package
        )


def installed() -> bool:
    """Whether ``quart`` names trioquart in this process."""
    return any(isinstance(finder, QuartFinder) for finder in sys.meta_path)


def install() -> None:
    """Make ``quart`` and its submodules resolve to trioquart (what importing this module
    does). Harmless when already installed."""
    if installed():
        return
    already = sorted(name for name in sys.modules if name == "quart" or name.startswith("quart."))
    if already:
        origin = getattr(sys.modules[already[0]], "__file__", None) or "an unknown file"
        raise QuartAlreadyImported(
            f"quart was imported (from {origin}) before trioquart.quart_patch. Move"
            " `import trioquart.quart_patch` to the top of the app module, above every"
            " import of quart or of a Quart extension."
        )
    sys.meta_path.insert(0, QuartFinder())


install()
