"""What a request and a websocket share: the matched route and the connection's nursery."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import trio
from werkzeug.datastructures import Headers, MultiDict
from werkzeug.exceptions import BadRequestKeyError
from werkzeug.utils import cached_property

if TYPE_CHECKING:
    from collections.abc import Callable

    from werkzeug.routing import Rule

    from ..typing import Scope


class ScopeHeaders(Headers):
    """werkzeug ``Headers`` over an ASGI scope's header list, decoded when first needed.

    The server has parsed the headers already, so they go straight into werkzeug's list
    instead of being validated one by one (which costs more than the rest of building a
    request). Many connections read none but a header or two (a GET routed on its Host, an
    idle websocket), so until something needs the whole list, looking up a header by name
    reads the scope's list directly and no decoded copy is held.
    """

    def __init__(self, defaults: Any = None, *, raw: list[tuple[bytes, bytes]] | None = None):
        if raw is None:
            super().__init__(defaults)
        else:
            self._raw = raw  # ``_list`` is made from it on first use (see __getattr__)

    def __getattr__(self, name: str) -> Any:
        if name == "_list" and "_raw" in self.__dict__:
            raw = self.__dict__.pop("_raw")
            self._list = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in raw]
            return self._list
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _get_key(self, key: str) -> str:
        if "_raw" not in self.__dict__:
            return super()._get_key(key)
        value = self._lookup(key)
        if value is None:
            raise BadRequestKeyError(key)
        return value

    # A missing header is common (``Content-Encoding``, ``Transfer-Encoding``): werkzeug's
    # ``get`` and ``in`` find it missing by catching the error ``_get_key`` raises, which
    # costs more than the search, so over the scope's list they ask ``_lookup`` instead.
    def get(  # type: ignore[override]
        self, key: str, default: Any = None, type: Callable[[str], Any] | None = None
    ) -> Any:
        if "_raw" not in self.__dict__:
            return super().get(key, default, type)  # type: ignore[arg-type]
        value = self._lookup(key)
        if value is None:
            return default
        if type is None:
            return value
        try:
            return type(value)
        except ValueError:
            return default

    def __contains__(self, key: str) -> bool:
        if "_raw" not in self.__dict__:
            return super().__contains__(key)
        return self._lookup(key) is not None

    def _lookup(self, key: str) -> str | None:
        """The first value of header ``key`` in the scope's list, or None."""
        try:
            wanted = key.lower().encode("latin-1")
        except UnicodeEncodeError:
            return None
        size = len(wanted)
        for name, value in self.__dict__["_raw"]:
            # ASGI asks servers for lower-case names, but a middleware may add others:
            # those of the right length are compared without case too.
            if name == wanted or (len(name) == size and name.lower() == wanted):
                return value.decode("latin-1")
        return None


def url_parts_from_scope(
    scope: Scope, default_scheme: str
) -> tuple[str, tuple[str, int | None] | None, str, str, bytes, Headers, str | None]:
    """What werkzeug's request constructor takes after the method, from an ASGI scope:
    scheme, server, root path, path (below the root path), query string, headers and the
    client's address."""
    root_path = scope.get("root_path", "")
    path = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    server = scope.get("server")
    client = scope.get("client")
    return (
        scope.get("scheme", default_scheme),
        (server[0], server[1]) if server else None,
        root_path,
        path,
        scope.get("query_string", b""),
        ScopeHeaders(raw=scope["headers"]),
        client[0] if client else None,
    )


_RAW_NAMES: dict[str, bytes] = {}
_RAW_NAMES_KEPT = 512


def headers_for_scope(headers: Headers) -> list[tuple[bytes, bytes]]:
    """``headers`` as an ASGI message's header list: lower-case names, latin-1 bytes.

    A program sends the same few header names over and over, so each name's encoded form
    is remembered (in a bounded table: a name could come from a client).
    """
    raw_names = _RAW_NAMES
    encoded = []
    pairs = headers._list if type(headers) is Headers else headers.items()
    for name, value in pairs:
        raw_name = raw_names.get(name)
        if raw_name is None:
            raw_name = name.lower().encode("latin-1")
            if len(raw_names) >= _RAW_NAMES_KEPT:
                raw_names.clear()
            raw_names[name] = raw_name
        encoded.append((raw_name, value.encode("latin-1")))
    return encoded


def parse_query(query: str) -> list[tuple[str, str]]:
    """``parse_qsl(query, keep_blank_values=True)``, decoding invalid UTF-8 as werkzeug
    does (percent-encoded).

    A query with nothing to unquote (no ``%``, no ``+``: ``q=x``, ``page=2``) is split
    directly, into the same pairs: ``parse_qsl`` costs several times the rest of reading
    the query (callgrind, in-process ``GET /items/7?q=x``: 265.5 k -> 254.1 k instructions
    per request when this was added).
    """
    if "%" in query or "+" in query:
        return parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote")
    pairs = []
    for field in query.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((name, value))
    return pairs


class ConnectionMixin:
    """Routing results and the nursery, for :class:`Request` and :class:`Websocket`."""

    url_rule: Rule | None = None
    view_args: dict[str, Any] | None = None
    if TYPE_CHECKING:  # werkzeug's request provides them
        path: str
        query_string: bytes
        parameter_storage_class: type[MultiDict[str, str]]
    routing_exception: Exception | None = None
    _nursery: trio.Nursery | None = None

    # werkzeug keeps invalid UTF-8 in the query string percent-encoded (``%FF``) when it
    # came percent-encoded, but fails on raw bytes, which HTTP/2 lets a client send in a
    # query string. These two decode raw ones the same way, rather than answering 500.

    @cached_property
    def args(self) -> MultiDict[str, str]:
        """The parsed query string; invalid UTF-8 in it stays percent-encoded."""
        query = self.query_string.decode("utf-8", "werkzeug.url_quote")
        return self.parameter_storage_class(parse_query(query))

    @cached_property
    def full_path(self) -> str:
        """The path and the query string; invalid UTF-8 in it stays percent-encoded."""
        return f"{self.path}?{self.query_string.decode('utf-8', 'werkzeug.url_quote')}"

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
