"""Binding werkzeug's URL map to a request (werkzeug's own binder wants a WSGI environ),
and matching the request against it.

``Map.bind`` normalises the host (lower case, IDNA) every time it is called. The result
depends only on the host, scheme, root path and subdomain, so it is remembered per map in
a small bounded table (the Host header is the client's to choose, so it must be bounded),
and each request gets a fresh ``MapAdapter`` for its own path, method and query.

Matching walks werkzeug's state machine, the largest single part of trioquart's own work for
a typical request (an eighth of a ``GET /``), and most requests ask for one of a few URLs.
So a successful match is remembered too (also in a bounded table), but only when it is sure
to come out the same every time: its rule's converters are all werkzeug's own (a custom
converter's ``to_python`` may look something up), and no rule has been added since.
Failures (404, 405, redirects) are matched afresh each time. Where the host cannot change
a match (no host or subdomain matching, no ``TRUSTED_HOSTS`` to check), a remembered match
is found from the request's path alone, and the map is bound only when something needs the
adapter (a match not remembered, ``url_for``, an OPTIONS response).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, MapAdapter, Rule
from werkzeug.routing.converters import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
)

_BINDINGS_KEPT = 256
_MATCHES_KEPT = 1024
#: Converters whose ``to_python`` depends on the URL alone (and returns immutable values).
_PURE_CONVERTERS = frozenset(
    {AnyConverter, FloatConverter, IntegerConverter, PathConverter, UnicodeConverter, UUIDConverter}
)

if TYPE_CHECKING:
    from werkzeug.sansio.request import Request

MatchKey = tuple[str | None, str | None, str, str, bool]

_DEFAULT_PORTS = {"http": ":80", "ws": ":80", "https": ":443", "wss": ":443"}


def _strip_default_port(host: str, scheme: str) -> str:
    suffix = _DEFAULT_PORTS.get(scheme)
    if suffix is not None and host.endswith(suffix):
        return host[: -len(suffix)]
    return host


def bind_to_request(
    url_map: Map, request: Request, server_name: str | None, subdomain: str | None
) -> MapAdapter:
    """A ``MapAdapter`` for ``request``, as ``Map.bind_to_environ`` would make for WSGI.

    With ``server_name`` set and ``subdomain`` None (subdomain matching), the subdomain is
    what the request's host has in front of ``server_name``; a host outside it matches no
    subdomain rule and warns (once per host), as in werkzeug.
    """
    scheme = request.scheme
    script_name = request.root_path or "/"
    bindings: dict[tuple[str | None, ...], MapAdapter]
    bindings = url_map.__dict__.setdefault("_trioquart_bindings", {})
    # Keyed by the raw Host header where it alone decides the binding (no TRUSTED_HOSTS to
    # check it against), which spares werkzeug's host parsing on every request.
    raw_host = request.headers.get("Host") if request.trusted_hosts is None else None
    key = (raw_host, server_name, subdomain, scheme, script_name)
    base = bindings.get(key) if raw_host is not None else None
    if base is None:
        base = _bind(url_map, request.host, server_name, subdomain, scheme, script_name)
        if raw_host is not None:
            if len(bindings) >= _BINDINGS_KEPT:
                bindings.clear()
            bindings[key] = base
    return MapAdapter(
        url_map,
        base.server_name,
        base.script_name,
        base.subdomain,
        base.url_scheme,
        request.path,
        request.method,
        request.query_string.decode("latin-1"),
    )


def _bind(
    url_map: Map,
    request_host: str,
    server_name: str | None,
    subdomain: str | None,
    scheme: str,
    script_name: str,
) -> MapAdapter:
    host = _strip_default_port(request_host.lower(), scheme)
    if server_name is None:
        server_name = host
    else:
        server_name = _strip_default_port(server_name.lower(), scheme)
    if subdomain is None and not url_map.host_matching:
        current = host.split(".")
        real = server_name.split(".")
        offset = -len(real)
        if current[offset:] != real:
            warnings.warn(
                f"Current server name {host!r} doesn't match configured server name"
                f" {server_name!r}",
                stacklevel=3,
            )
            subdomain = "<invalid>"
        else:
            subdomain = ".".join(filter(None, current[:offset]))
    return url_map.bind(
        server_name, script_name=script_name, subdomain=subdomain, url_scheme=scheme
    )


def unbound_match_key(
    url_map: Map, connection: Request, subdomain_matching: bool, trusted_hosts: Any
) -> MatchKey | None:
    """The key of ``connection``'s match in the table of earlier matches, known without
    binding the map, or None where the binding decides it. Without host or subdomain
    matching, a match depends only on the path, method and scheme (the host only shapes
    redirects, which are never remembered); with ``TRUSTED_HOSTS`` the host must be
    checked first, which binding does."""
    if url_map.host_matching or subdomain_matching or trusted_hosts is not None:
        return None
    return (
        None,
        url_map.default_subdomain or "",
        connection.path,
        connection.method,
        connection.scheme in _WEBSOCKET_SCHEMES,
    )


_WEBSOCKET_SCHEMES = frozenset({"ws", "wss"})


def remembered_match(url_map: Map, key: MatchKey) -> tuple[Rule, dict[str, Any]] | None:
    """The earlier match under ``key`` (with a fresh ``view_args``), or None."""
    matches = _matches(url_map)
    known = matches.get(key)
    if known is None:
        return None
    return known[0], dict(known[1])  # a copy: a handler may change its view_args


def _matches(url_map: Map) -> dict[MatchKey, tuple[Rule, dict[str, Any]]]:
    matches: dict[MatchKey, tuple[Rule, dict[str, Any]]] | None
    matches = url_map.__dict__.get("_trioquart_matches")
    if matches is None or url_map._remap:  # rules were added: werkzeug re-sorts them
        matches = url_map.__dict__["_trioquart_matches"] = {}
    return matches


def match(adapter: MapAdapter) -> tuple[Rule, dict[str, Any]]:
    """``adapter.match(return_rule=True)``, from the map's table of earlier matches when
    it can be (see the module docstring). Raises what werkzeug raises."""
    url_map = adapter.map
    key = (
        adapter.server_name if url_map.host_matching else None,
        adapter.subdomain,
        adapter.path_info,
        adapter.default_method,
        adapter.websocket,
    )
    known = remembered_match(url_map, key)
    if known is not None:
        return known
    rule, view_args = adapter.match(return_rule=True)
    if all(type(converter) in _PURE_CONVERTERS for converter in rule._converters.values()):
        matches = _matches(url_map)
        if len(matches) >= _MATCHES_KEPT:
            matches.clear()
        matches[key] = (rule, dict(view_args))
    return rule, dict(view_args)
