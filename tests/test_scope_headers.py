"""``ScopeHeaders``: werkzeug Headers over the scope's list, decoded only when needed."""

from __future__ import annotations

import copy

import pytest
from werkzeug.datastructures import Headers

from trioquart import TrioQuart, request
from trioquart.wrappers.base import ScopeHeaders

RAW = [
    (b"host", b"example.com"),
    (b"X-Added-By-Middleware", b"capitalised"),
    (b"accept", b"text/html"),
    (b"x-multi", b"one"),
    (b"x-multi", b"two"),
    (b"x-latin", "caf\u00e9".encode("latin-1")),
]


def test_looking_up_a_header_by_name_decodes_only_that_value() -> None:
    headers = ScopeHeaders(raw=RAW)
    assert headers.get("Host") == "example.com"
    assert headers["ACCEPT"] == "text/html"
    assert headers.get("x-multi") == "one"
    assert headers.get("X-Latin") == "caf\u00e9"
    assert headers.get("x-added-by-middleware") == "capitalised"
    assert "accept" in headers
    assert "missing" not in headers
    assert headers.get("missing", "default") == "default"
    assert headers.get("snowman-\u2603") is None
    with pytest.raises(KeyError):
        headers["missing"]
    assert "_list" not in vars(headers)  # nothing needed the whole list yet


def test_get_converts_with_type_as_werkzeug_does() -> None:
    raw = [(b"content-length", b"42"), (b"x-bad-number", b"forty")]
    for headers in (ScopeHeaders(raw=raw), Headers([(n.decode(), v.decode()) for n, v in raw])):
        assert headers.get("Content-Length", type=int) == 42
        assert headers.get("X-Bad-Number", -1, type=int) == -1
        assert headers.get("X-Missing", 7, type=int) == 7
        assert headers.get("x-missing") is None
    lazy = ScopeHeaders(raw=raw)
    assert "content-length" in lazy and "x-missing" not in lazy
    assert "_list" not in vars(lazy)
    lazy.add("X-Later", "1")  # the decoded list from here on
    assert "x-later" in lazy and "x-missing" not in lazy
    assert lazy.get("content-length", type=int) == 42
    assert lazy.get("x-missing", "none") == "none"


def test_anything_else_sees_the_whole_decoded_list() -> None:
    headers = ScopeHeaders(raw=RAW)
    assert headers.getlist("X-Multi") == ["one", "two"]
    assert len(headers) == 6
    assert headers.get("X-ADDED-BY-MIDDLEWARE") == "capitalised"
    assert list(headers)[0] == ("host", "example.com")
    headers["X-Added"] = "yes"
    assert headers.get("x-added") == "yes"
    assert headers.get("host") == "example.com"
    assert headers == ScopeHeaders(headers)
    assert isinstance(headers.copy(), Headers)
    assert copy.copy(headers).getlist("x-multi") == ["one", "two"]


def test_a_lazy_copy_stays_correct() -> None:
    headers = ScopeHeaders(raw=RAW)
    copied = copy.deepcopy(headers)
    assert copied.getlist("x-multi") == ["one", "two"]
    assert headers.get("host") == "example.com"


async def test_requests_read_their_headers_as_before() -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def index() -> dict[str, object]:
        return {
            "agent": request.headers.get("User-Agent"),
            "all": sorted(k for k, _ in request.headers.items()),
            "host": request.host,
        }

    response = await app.test_client().get("/", headers={"User-Agent": "probe/1"})
    data = await response.get_json()
    assert data["agent"] == "probe/1"
    assert "user-agent" in data["all"] and "host" in data["all"]
    assert data["host"] == "localhost"


def test_headers_for_scope_lowers_names_and_keeps_every_value() -> None:
    from trioquart.wrappers.base import headers_for_scope

    headers = Headers(
        [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Caf\u00e9", "\u00e9t\u00e9")]
    )
    expected = [
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        ("x-caf\u00e9".encode("latin-1"), "\u00e9t\u00e9".encode("latin-1")),
    ]
    assert headers_for_scope(headers) == expected
    assert headers_for_scope(headers) == expected  # names now come from the remembered table
    assert headers_for_scope(ScopeHeaders(raw=RAW)) == [(n.lower(), v) for n, v in RAW]


async def test_a_request_that_reads_no_header_keeps_only_the_scopes_list() -> None:
    app = TrioQuart(__name__)
    seen: list[bool] = []

    @app.get("/")
    async def index() -> str:
        seen.append("_list" in vars(request.headers))  # routing read the Host header only
        return "ok"

    response = await app.test_client().get("/", headers={"User-Agent": "probe/1"})
    assert response.status_code == 200
    assert seen == [False]
