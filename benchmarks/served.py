"""The benchmark apps as plain module attributes, for servers that take ``MODULE:ATTRIBUTE``.

``trioquart run`` loads ``MODULE:APP`` by attribute lookup only (no call expressions such as
Hypercorn's ``"benchmarks.apps:get_app('starlette')"``), so this module answers an
attribute lookup with :func:`apps.get_app`: the app built on first use, as before. The
attribute names are the app names with ``-`` spelled ``_`` (``bare``, ``bare_nursery``,
``starlette``, ``trioquart``, ``quart_trio``); from the repository root::

    python -m trioquart.cli run benchmarks.served:starlette --port 5000

The module defines nothing else but its imports, none of which is named like an app.
"""

from __future__ import annotations

from typing import Any


def __getattr__(attribute: str) -> Any:
    from benchmarks import apps

    name = attribute.replace("_", "-")
    if attribute.startswith("__") or name not in apps.KNOWN_APPS:
        # Dunder probes (copy, pickle, pydoc) must fail as they do on any module.
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
    return apps.get_app(name)
