"""Whether an app still uses trioquart's own version of a method.

The direct paths through a request (see :mod:`trioquart.direct` and the URL matching in
:mod:`trioquart.ctx`) skip a method's work only while nobody has replaced that method: an
extension may set it on the app instance (Quart-Schema does so with ``make_response``), a
subclass may override it. Either must still be called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import TrioQuart

_own: dict[str, Any] = {}


def uses_own(app: TrioQuart, name: str) -> bool:
    """Whether ``app.<name>`` is ``TrioQuart.<name>``, neither replaced nor overridden."""
    if name in app.__dict__:
        return False
    own = _own.get(name)
    if own is None:
        from .app import TrioQuart  # late: the app module imports the modules that ask

        own = _own[name] = getattr(TrioQuart, name)
    return getattr(type(app), name) is own
