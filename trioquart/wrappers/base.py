"""What a request and a websocket share: the matched route and the connection's nursery."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from werkzeug.datastructures import Headers

if TYPE_CHECKING:
    from werkzeug.routing import Rule


def headers_from_scope(raw: list[tuple[bytes, bytes]]) -> Headers:
    """werkzeug ``Headers`` from an ASGI scope's header list.

    The server has already parsed these, so they go straight into werkzeug's list instead
    of being validated one by one (which costs more than the rest of building a request).
    """
    headers = Headers()
    headers._list = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
    return headers


class ConnectionMixin:
    """Routing results and the nursery, for :class:`Request` and :class:`Websocket`."""

    url_rule: Rule | None = None
    view_args: dict[str, Any] | None = None
    routing_exception: Exception | None = None
    _nursery: trio.Nursery | None = None

    @property
    def nursery(self) -> trio.Nursery:
        """This connection's own nursery: tasks started here see its context and are
        cancelled when the connection ends (the response is complete, the websocket closes,
        or the client goes away)."""
        if self._nursery is None:
            raise RuntimeError("This connection is not being served, so it has no nursery.")
        return self._nursery

    @property
    def endpoint(self) -> str | None:
        return self.url_rule.endpoint if self.url_rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The (dotted) name of the blueprint of the matched endpoint, if any."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    _blueprints: list[str] | None = None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first."""
        if self._blueprints is None or self._blueprints_rule is not self.url_rule:
            name = self.blueprint
            parts = name.split(".") if name is not None else []
            self._blueprints = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
            self._blueprints_rule = self.url_rule
        return self._blueprints

    _blueprints_rule: Rule | None = None
