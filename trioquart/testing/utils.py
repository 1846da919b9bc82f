"""Building ASGI scopes and request bodies for the in-process test client.

werkzeug's ``EnvironBuilder`` does the encoding (query strings, urlencoded and multipart
forms, JSON, basic auth); this module turns its result into an ASGI scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder

from ..asgi.http import HTTPConnection

if TYPE_CHECKING:
    from ..app import TrioQuart
    from ..typing import Scope
    from ..wrappers.request import Request
    from ..wrappers.response import Response
    from .client import CookieJar

#: The default of the test client's ``json`` argument: no JSON body (``None`` is JSON's null).
#: Extensions that wrap the test client compare with it, under Quart's name.
sentinel: Any = object()


async def _never(*args: Any) -> Any:
    raise RuntimeError("A made-up request has no connection to receive from or send to.")


def split_path(path: str, query_string: Any) -> tuple[str, Any]:
    """``/a?b=c`` with no separate query string becomes ``("/a", "b=c")``."""
    if "?" in path:
        if query_string is not None:
            raise ValueError("Give the query string in the path or as query_string, not both.")
        path, query_string = path.split("?", 1)
    return path, query_string


def encode_request(
    app: TrioQuart,
    path: str,
    *,
    method: str = "GET",
    headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    query_string: Any = None,
    data: str | bytes | None = None,
    form: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
    json: Any = sentinel,
    auth: tuple[str, str] | Any = None,
    subdomain: str | None = None,
    scheme: str = "http",
    streamed: bool = False,
) -> tuple[str, bytes, Headers, bytes]:
    """Encode a request: returns ``(path, query_string, headers, body)``. For a
    ``streamed`` request no Content-Length is added (as with a chunked upload)."""
    given = [data is not None, bool(form or files), json is not sentinel]
    if sum(given) > 1:
        raise ValueError("Give at most one of data, form/files and json.")
    path, query_string = split_path(path, query_string)
    builder = EnvironBuilder(
        path=path,
        method=method,
        headers=Headers(headers) if headers is not None else None,
        query_string=query_string,
        data=data,
        auth=auth,
        **({"json": json} if json is not sentinel else {}),
    )
    if json is not sentinel:
        builder.json_dumps = app.json.dumps
    for key, value in (form or {}).items():
        builder.form.add(key, value)
    for key, value in (files or {}).items():
        if isinstance(value, tuple):
            builder.files.add_file(key, *value)
        else:
            builder.files.add_file(key, value)
    caller_headers = Headers(headers) if headers is not None else Headers()
    given_length = caller_headers.get("Content-Length")
    try:
        environ = builder.get_environ()
        with environ["wsgi.input"] as stream:  # a temporary file for large bodies
            body = stream.read()
    finally:
        builder.close()
    request_headers = Headers(builder.headers)
    if environ.get("CONTENT_TYPE"):
        request_headers["Content-Type"] = environ["CONTENT_TYPE"]
    if streamed:
        # The body is sent piece by piece: only a Content-Length the caller gave stands.
        request_headers.remove("Content-Length")
        if given_length is not None:
            request_headers["Content-Length"] = given_length
        else:
            request_headers["Transfer-Encoding"] = "chunked"  # as a real client would say
        if "Content-Type" in caller_headers:  # the caller's own (a boundary, say) stands
            request_headers["Content-Type"] = caller_headers["Content-Type"]
    elif body or method not in {"GET", "HEAD", "OPTIONS"}:
        request_headers["Content-Length"] = str(len(body))
    if "Host" not in request_headers:
        server_name = app.config["SERVER_NAME"] or "localhost"
        request_headers["Host"] = f"{subdomain}.{server_name}" if subdomain else server_name
    request_headers.setdefault("User-Agent", "trioquart")
    # Text in a query string given with the path goes as UTF-8, as a browser sends it (and
    # as werkzeug's WSGI test client passes it on); ASCII stays exactly as given.
    return builder.path, builder.query_string.encode("utf-8"), request_headers, body


def make_scope(
    kind: str,
    method: str,
    scheme: str,
    path: str,
    query_string: bytes,
    headers: Headers,
    *,
    root_path: str = "",
    http_version: str = "1.1",
    scope_base: Mapping[str, Any] | None = None,
) -> Scope:
    """An ASGI scope for the test client, marked so unhandled errors propagate to it."""
    scope: Scope = {
        "type": kind,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": http_version,
        "method": method,
        "scheme": scheme,
        # As a server does: ``path`` percent-decoded, ``raw_path`` as sent.
        "path": unquote(root_path + path),
        "raw_path": (root_path + path).encode("ascii", "backslashreplace"),
        "query_string": query_string,
        "root_path": root_path,
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "extensions": {},
        "state": {},
        "trioquart.propagate_exceptions": True,
    }
    if scope_base:
        scope.update(scope_base)
    return scope


def decode_headers(raw: list[tuple[bytes, bytes]]) -> Headers:
    """werkzeug ``Headers`` from ASGI's raw header pairs."""
    return Headers([(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw])


def received_response(app: TrioQuart, body: bytes, status: int, headers: Headers) -> Response:
    """A response as the client received it: headers exactly as sent (a HEAD response keeps
    its Content-Length although no body came)."""
    response = app.response_class(body, status)
    response.headers = headers
    return response


def http_test_scope(
    app: TrioQuart,
    path: str,
    method: str,
    kwargs: dict[str, Any],
    *,
    streamed: bool = False,
    cookie_jar: CookieJar | None = None,
) -> tuple[Scope, bytes]:
    """An ``http`` scope for a test request and its body, from the test client's keyword
    arguments (``kwargs`` is consumed); a ``Cookie`` header comes from ``cookie_jar`` unless
    one was given."""
    scheme = kwargs.pop("scheme", "http")
    root_path = kwargs.pop("root_path", "")
    http_version = kwargs.pop("http_version", "1.1")
    scope_base = kwargs.pop("scope_base", None)
    path, query_string, headers, body = encode_request(
        app, path, method=method, scheme=scheme, streamed=streamed, **kwargs
    )
    if cookie_jar is not None and "Cookie" not in headers:
        cookie = cookie_jar.header_for(path)
        if cookie is not None:
            headers["Cookie"] = cookie
    scope = make_scope(
        "http",
        method,
        scheme,
        path,
        query_string,
        headers,
        root_path=root_path,
        http_version=http_version,
        scope_base=scope_base,
    )
    return scope, body


def make_test_request(app: TrioQuart, path: str = "/", **kwargs: Any) -> Request:
    """A request object for ``app.test_request_context``: its body is already complete."""
    method = kwargs.pop("method", "GET").upper()
    scope, body = http_test_scope(app, path, method, kwargs)
    request = HTTPConnection(app, scope, _never, _never).build_request()
    request.body.set_complete_data(body)
    return request
