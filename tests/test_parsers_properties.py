"""Property tests over the request parsers trioquart drives, through the in-process client.

Each property sends input that hypothesis makes up (arbitrary bytes where a server could
deliver them) at handlers that use what was parsed, and checks that the app answers it:

* never a 5xx, and never an exception escaping the app. ``PROPAGATE_EXCEPTIONS`` is on, so
  an error nobody handled reaches the test as itself (and hypothesis shrinks the input
  that caused it) instead of becoming a 500;
* parsing time grows about linearly with the input: an input ten times larger takes less
  than 30 times as long (median of several runs, see :func:`assert_roughly_linear`).

Raw scope fields (``headers``, ``query_string``, ``path``) are given through the client's
``scope_base``, since werkzeug's request builder would refuse or re-encode them first: these
are what an ASGI server may hand over. HTTP/2 puts no restriction on the bytes of a query
string or a header value, so arbitrary bytes there are realistic. A path is a ``str`` in
ASGI, decoded by the server as UTF-8 with replacement, so it never holds a lone surrogate.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trioquart import Response, TrioQuart, request, session
from trioquart.files import send_file
from trioquart.wrappers.response import Response as ResponseType

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TIMING_SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: The header properties werkzeug parses on demand; the inspecting handler reads them all.
HEADER_PROPERTIES = (
    "accept_charsets",
    "accept_encodings",
    "accept_languages",
    "accept_mimetypes",
    "access_control_request_headers",
    "access_control_request_method",
    "access_route",
    "authorization",
    "base_url",
    "cache_control",
    "content_encoding",
    "content_length",
    "content_md5",
    "content_type",
    "date",
    "full_path",
    "host",
    "host_url",
    "if_match",
    "if_modified_since",
    "if_none_match",
    "if_range",
    "if_unmodified_since",
    "is_json",
    "is_secure",
    "max_forwards",
    "mimetype",
    "mimetype_params",
    "origin",
    "pragma",
    "range",
    "referrer",
    "remote_addr",
    "root_url",
    "url",
    "user_agent",
)

KNOWN_HEADERS = [
    name.encode()
    for name in (
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "access-control-request-headers",
        "access-control-request-method",
        "authorization",
        "cache-control",
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "cookie",
        "date",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "max-forwards",
        "origin",
        "pragma",
        "range",
        "referer",
        "transfer-encoding",
        "user-agent",
        "x-forwarded-for",
    )
]

BOUNDARY = "propertyboundary"
FILE_DATA = bytes(range(256)) * 4


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.config.update(
        SECRET_KEY="property test key",
        PROPAGATE_EXCEPTIONS=True,  # anything unhandled reaches the test as itself
        BODY_TIMEOUT=5,
        # Room for the timing tests' forms (up to 10,000 short fields), so that they time
        # parsing rather than the refusal (MAX_FORM_PARTS is tested on the wire).
        MAX_FORM_PARTS=20_000,
    )

    @app.route("/inspect", methods=["GET", "POST"])
    async def inspect() -> str:
        seen = []
        for name in HEADER_PROPERTIES:
            value = getattr(request, name)
            if name == "if_range":
                # werkzeug's IfRange repr re-serialises its tag and refuses one with a
                # quote in it; that is the repr, not the parsing.
                value = (value.etag, value.date)
            seen.append(repr(value))
        # What handlers commonly do with the parsed values.
        seen.append(repr(request.accept_mimetypes.best_match(["text/html", "application/json"])))
        seen.append(repr(request.accept_languages.best_match(["en", "de"])))
        seen.append(repr(request.accept_encodings.best))
        authorization = request.authorization
        if authorization is not None:
            seen.append(repr((authorization.type, authorization.username, authorization.token)))
        if request.range is not None:
            seen.append(repr(request.range.range_for_length(1000)))
        seen.append(repr(request.if_none_match.contains("x")))
        seen.append(repr(request.user_agent.string))
        seen.append(repr(list(request.headers.items())))
        seen.append(repr(request.headers.get("X-Missing")))
        seen.append(repr(request.args.to_dict(flat=False)))
        seen.append(repr(request.cookies.to_dict(flat=False)))
        seen.append(repr(dict(session)))
        seen.append(repr((await request.values).to_dict(flat=False)))
        return str(sum(len(part) for part in seen))

    @app.get("/file")
    async def file() -> Response:
        # Conditional and range headers are evaluated against these validators.
        return await send_file(
            io.BytesIO(FILE_DATA),
            mimetype="text/plain",
            etag="fixed-tag",
            last_modified=1_700_000_000,
        )

    @app.post("/form")
    async def form() -> dict[str, Any]:
        fields = await request.form
        files = await request.files
        sizes = {}
        for name, storage in files.items(multi=True):
            sizes[str(name)] = len(storage.read())  # small, in memory
        return {"fields": fields.to_dict(flat=False), "files": sizes}

    @app.post("/text")
    async def text() -> str:
        return str(len(await request.get_data(as_text=True)))

    @app.post("/json")
    async def json_body() -> dict[str, Any]:
        value = await request.get_json(force=True)
        return {"type": type(value).__name__}

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> str:
        return str(item_id.bit_length())

    @app.get("/p/<path:rest>")
    async def path(rest: str) -> str:
        return str(len(rest))

    @app.get("/f/<float:number>")
    async def number(number: float) -> str:
        return repr(number)

    @app.get("/u/<uuid:ident>")
    async def ident(ident: Any) -> str:
        return str(ident)

    @app.get("/a/<any(left, right):side>/<string:name>")
    async def side(side: str, name: str) -> str:
        return f"{side}:{len(name)}"

    return app


APP = make_app()


def assert_answered(response: ResponseType) -> None:
    assert response.status_code < 500, response.status


async def send(
    path: str = "/inspect",
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query_string: bytes = b"",
    body: bytes = b"",
    content_type: bytes | None = None,
    raw_path: str | None = None,
) -> ResponseType:
    """One request through the test client, with the scope's fields given raw."""
    scope_headers = [(b"host", b"localhost")] if headers is None else list(headers)
    if content_type is not None:
        scope_headers.append((b"content-type", content_type))
    if body or method not in {"GET", "HEAD"}:
        scope_headers.append((b"content-length", str(len(body)).encode()))
    scope_base: dict[str, Any] = {"headers": scope_headers, "query_string": query_string}
    if raw_path is not None:
        scope_base["path"] = raw_path
        scope_base["raw_path"] = raw_path.encode("utf-8", "replace")
        path = "/"  # the client builds its own path from this; the scope's is replaced
    client = APP.test_client(use_cookies=False)
    response = await client.open(path, method=method, data=body, scope_base=scope_base)
    assert isinstance(response, Response)
    return response


# ---- strategies ------------------------------------------------------------------------------

header_names = st.one_of(st.sampled_from(KNOWN_HEADERS), st.binary(min_size=1, max_size=30))
header_values = st.one_of(
    st.binary(max_size=120),
    # Values made of the characters header grammars care about.
    st.text(alphabet=' \t,;=*"\\/-:.q0123456789abcWxyz\xe9', max_size=80).map(
        lambda text: text.encode("latin-1")
    ),
)
query_bytes = st.one_of(
    st.binary(max_size=200),
    st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=12)), max_size=10).map(
        lambda pairs: b"&".join(
            quote_from_bytes(k).encode() + b"=" + quote_from_bytes(v).encode() for k, v in pairs
        )
    ),
    st.text(alphabet="%&=+;aF0f9x\xff", max_size=80).map(lambda text: text.encode("latin-1")),
)
cookie_bytes = st.one_of(
    st.binary(max_size=200),
    st.text(alphabet=' \t;=",\\.0123abcsion\xe9\xff', max_size=100).map(
        lambda text: text.encode("latin-1")
    ),
    st.binary(max_size=100).map(lambda raw: b"session=" + raw),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """Bytes from ``base``, sometimes cut short, spliced with random bytes or repeated."""
    data = draw(base)
    choice = draw(st.integers(0, 3))
    if choice == 1 and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif choice == 2:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=20)) + data[at:]
    elif choice == 3:
        data = data * draw(st.integers(2, 5))
    return data


part_names = st.one_of(
    st.binary(max_size=12), st.text(max_size=12).map(lambda text: text.encode("utf-8", "replace"))
)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(part_names)
        disposition = b'form-data; name="' + name + b'"'
        if draw(st.booleans()):
            disposition += b'; filename="' + draw(part_names) + b'"'
        headers = b"Content-Disposition: " + disposition + b"\r\n"
        if draw(st.booleans()):
            headers += b"Content-Type: " + draw(header_values) + b"\r\n"
        if draw(st.booleans()):
            headers += draw(st.binary(max_size=30)) + b"\r\n"
        value = draw(st.binary(max_size=60))
        parts.append(b"--" + BOUNDARY.encode() + b"\r\n" + headers + b"\r\n" + value + b"\r\n")
    return b"".join(parts) + b"--" + BOUNDARY.encode() + b"--\r\n"


urlencoded_bodies = st.one_of(
    query_bytes,
    st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=8).map(
        lambda form: "&".join(f"{k}={v}" for k, v in form.items()).encode("utf-8", "replace")
    ),
)
content_types = st.one_of(
    st.just(f"multipart/form-data; boundary={BOUNDARY}".encode()),
    st.sampled_from(
        [
            b"multipart/form-data",
            b"multipart/form-data; boundary=",
            b'multipart/form-data; boundary="' + BOUNDARY.encode() + b'"',
            b"multipart/form-data; boundary=" + BOUNDARY.encode() + b"; charset=bogus",
            b"application/x-www-form-urlencoded",
            b"application/x-www-form-urlencoded; charset=latin-1",
        ]
    ),
    header_values,
)

# Paths as an ASGI server hands them over: text without lone surrogates.
path_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
route_paths = st.one_of(
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(
            ["/items/", "/p/", "/f/", "/u/", "/a/left/", "/a/", "/", "//", "/items", "/p"]
        ),
        path_text,
    ),
    st.builds(lambda digits: "/items/" + digits, st.text("0123456789", min_size=1, max_size=6000)),
    st.builds(
        lambda digits: "/f/" + digits + "." + digits,
        st.text("0123456789", min_size=1, max_size=400),
    ),
    st.builds(
        lambda digits: "/items/" + digits,
        st.text(st.characters(categories=("Nd",)), min_size=1, max_size=8),
    ),
)


# ---- never a 5xx -----------------------------------------------------------------------------


@SETTINGS
@given(st.lists(st.tuples(header_names, header_values), max_size=8))
async def test_arbitrary_headers(headers: list[tuple[bytes, bytes]]) -> None:
    assert_answered(await send(headers=[(name.lower(), value) for name, value in headers]))


CONDITIONAL_HEADERS = [
    b"range",
    b"if-range",
    b"if-match",
    b"if-none-match",
    b"if-modified-since",
    b"if-unmodified-since",
]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(CONDITIONAL_HEADERS),
            st.one_of(
                header_values,
                st.sampled_from([b'"fixed-tag"', b'W/"fixed-tag"', b"*", b"bytes=0-10"]),
                st.builds(
                    lambda a, b: f"bytes={a}-{b}".encode(),
                    st.integers(-(10**30), 10**30) | st.just(""),
                    st.integers(-(10**30), 10**30) | st.just(""),
                ),
            ),
        ),
        max_size=4,
    ),
    st.sampled_from(["GET", "HEAD"]),
)
async def test_arbitrary_conditional_headers_on_a_file(
    headers: list[tuple[bytes, bytes]], method: str
) -> None:
    response = await send("/file", method=method, headers=[(b"host", b"localhost"), *headers])
    assert_answered(response)
    if response.status_code == 206:
        assert await response.get_data() in FILE_DATA


@SETTINGS
@given(st.lists(st.tuples(header_names, header_values), max_size=8))
async def test_arbitrary_header_names_keep_their_case(headers: list[tuple[bytes, bytes]]) -> None:
    """ASGI asks for lower-case names, but a middleware may add others."""
    assert_answered(await send(headers=headers))


@SETTINGS
@given(query_bytes)
@example(b"q=\xff\xfe")
@example(b"%ff=%fe&\xc0\xae")
async def test_arbitrary_query_strings(query: bytes) -> None:
    assert_answered(await send(query_string=query))


@SETTINGS
@given(st.lists(cookie_bytes, min_size=1, max_size=3))
async def test_arbitrary_cookies(cookies: list[bytes]) -> None:
    headers = [(b"host", b"localhost")] + [(b"cookie", cookie) for cookie in cookies]
    assert_answered(await send(headers=headers))


@SETTINGS
@given(mutated(urlencoded_bodies))
async def test_arbitrary_urlencoded_bodies(body: bytes) -> None:
    response = await send(
        "/form", method="POST", body=body, content_type=b"application/x-www-form-urlencoded"
    )
    assert_answered(response)


@SETTINGS
@given(st.binary(max_size=200))
@example(b"\xff\xfe")
async def test_arbitrary_bodies_as_text(body: bytes) -> None:
    """``get_data(as_text=True)`` replaces invalid UTF-8, as werkzeug's does."""
    response = await send("/text", method="POST", body=body)
    assert response.status_code == 200
    assert await response.get_data() == str(len(body.decode(errors="replace"))).encode()


@SETTINGS
@given(mutated(multipart_bodies()), content_types)
async def test_arbitrary_multipart_bodies(body: bytes, content_type: bytes) -> None:
    assert_answered(await send("/form", method="POST", body=body, content_type=content_type))


@SETTINGS
@given(
    st.one_of(
        json_values.map(lambda value: json.dumps(value).encode()),
        mutated(json_values.map(lambda value: json.dumps(value).encode())),
        st.binary(max_size=100),
        st.builds(
            lambda n, s: s * n, st.integers(1, 5000), st.sampled_from([b"[", b'{"a":', b"1"])
        ),
    )
)
async def test_arbitrary_json_bodies(body: bytes) -> None:
    response = await send("/json", method="POST", body=body, content_type=b"application/json")
    assert_answered(response)
    if response.status_code != 200:
        assert response.status_code == 400


@SETTINGS
@given(route_paths)
@example("/items/" + "9" * 5000)
async def test_route_matching_with_converters(path: str) -> None:
    assert_answered(await send(raw_path=path))


# ---- roughly linear time ---------------------------------------------------------------------

RUNS = 7
SMALL = 4_000


async def assert_roughly_linear(
    unit: bytes, request_for: Callable[[bytes], Awaitable[ResponseType]]
) -> None:
    """``unit`` repeated to about SMALL bytes, and to ten times that: the larger request
    takes less than 30 times as long (a quadratic parser would take about 100 times).

    Each size is timed RUNS times, alternating, and the medians compared, so one slow run
    (a garbage collection, the machine being busy) does not decide it. Both are answered
    without a 5xx as well.
    """
    count = max(1, SMALL // max(1, len(unit)))
    small, large = unit * count, unit * (count * 10)
    timings: dict[bytes, list[float]] = {small: [], large: []}
    for response in (await request_for(small), await request_for(large)):  # warm up
        assert_answered(response)
    for _ in range(RUNS):
        for data in (small, large):
            started = time.perf_counter()
            await request_for(data)
            timings[data].append(time.perf_counter() - started)
    small_time = statistics.median(timings[small])
    large_time = statistics.median(timings[large])
    assert large_time < 30 * small_time, (len(small), small_time, len(large), large_time)


units = st.binary(min_size=1, max_size=12)
special_units = st.text(alphabet='"\\;=, \t%&+-[]{}:\r\n', min_size=1, max_size=8).map(
    lambda text: text.encode()
)


@TIMING_SETTINGS
@given(st.one_of(units, special_units))
async def test_query_string_parsing_is_roughly_linear(unit: bytes) -> None:
    await assert_roughly_linear(unit, lambda data: send(query_string=data))


@TIMING_SETTINGS
@given(st.one_of(units, special_units))
async def test_cookie_parsing_is_roughly_linear(unit: bytes) -> None:
    await assert_roughly_linear(
        unit, lambda data: send(headers=[(b"host", b"localhost"), (b"cookie", data)])
    )


@TIMING_SETTINGS
@given(st.sampled_from(KNOWN_HEADERS), st.one_of(units, special_units))
async def test_header_parsing_is_roughly_linear(name: bytes, unit: bytes) -> None:
    await assert_roughly_linear(
        unit, lambda data: send(headers=[(b"host", b"localhost"), (name, data)])
    )


@TIMING_SETTINGS
@given(st.one_of(units, special_units))
async def test_urlencoded_parsing_is_roughly_linear(unit: bytes) -> None:
    await assert_roughly_linear(
        unit,
        lambda data: send(
            "/form", method="POST", body=data, content_type=b"application/x-www-form-urlencoded"
        ),
    )


@TIMING_SETTINGS
@given(
    st.one_of(
        units,
        special_units,
        st.sampled_from([b"--" + BOUNDARY.encode() + b"\r\n", b"\r\n--", b"\r"]),
    )
)
async def test_multipart_parsing_is_roughly_linear(unit: bytes) -> None:
    head = b"--" + BOUNDARY.encode() + b'\r\nContent-Disposition: form-data; name="x"\r\n\r\n'
    await assert_roughly_linear(
        unit,
        lambda data: send(
            "/form",
            method="POST",
            body=head + data + b"\r\n--" + BOUNDARY.encode() + b"--\r\n",
            content_type=f"multipart/form-data; boundary={BOUNDARY}".encode(),
        ),
    )


@TIMING_SETTINGS
@given(st.one_of(units, special_units, st.sampled_from([b"[", b'{"a":', b'"\\u00e9', b"1,"])))
async def test_json_parsing_is_roughly_linear(unit: bytes) -> None:
    await assert_roughly_linear(
        unit,
        lambda data: send("/json", method="POST", body=data, content_type=b"application/json"),
    )


@TIMING_SETTINGS
@given(
    st.one_of(
        units.map(lambda unit: unit.decode("latin-1")), st.sampled_from(["/", "a/", "%", "9"])
    )
)
async def test_route_matching_is_roughly_linear(unit: str) -> None:
    await assert_roughly_linear(
        unit.encode("utf-8"),
        lambda data: send(raw_path="/p/" + data.decode("utf-8", "replace")),
    )
