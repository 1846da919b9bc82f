"""End-to-end tests of ``serve_app`` and the ``live_server`` fixture: a real Hypercorn server
on a loopback socket, driven with httpx."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import httpx
import pytest
import trio
from hypercorn.utils import LifespanFailureError

from trioquart import TrioQuart
from trioquart.testing.pytest_plugin import live_server  # noqa: F401  (the fixture under test)
from trioquart.testing.server import LiveServer, serve_app
from trioquart.typing import ASGIReceive, ASGISend, Scope

# pytester runs a separate pytest session to check the documented opt-in set-up.
pytest_plugins = ["pytester"]

TIMEOUT = 10


def make_app(events: list[str] | None = None) -> TrioQuart:
    """An app that records its lifespan hooks and requests in ``events``."""
    app = TrioQuart(__name__)
    seen = events if events is not None else []

    @app.before_serving
    async def starting() -> None:
        seen.append("before_serving")

    @app.after_serving
    async def stopping() -> None:
        seen.append("after_serving")

    @app.get("/")
    async def index() -> str:
        seen.append("request")
        return "hello from a real socket"

    @app.get("/events")
    async def list_events() -> dict[str, list[str]]:
        return {"events": list(seen)}

    return app


async def test_get_returns_the_body() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/")
    assert response.status_code == 200
    assert response.text == "hello from a real socket"
    assert response.headers["content-type"].startswith("text/html")


async def test_the_record_holds_the_bound_port() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as server:
            assert isinstance(server, LiveServer)
            assert server.port != 0
            assert server.host == "127.0.0.1"
            assert server.url == f"http://127.0.0.1:{server.port}"
            assert server.ws_url == f"ws://127.0.0.1:{server.port}"
            # Something really listens there.
            async with await trio.open_tcp_stream(server.host, server.port):
                pass


async def test_lifespan_runs_around_the_block() -> None:
    events: list[str] = []
    app = make_app(events)
    with trio.fail_after(TIMEOUT):
        async with serve_app(app) as server:
            assert events == ["before_serving"]
            async with httpx.AsyncClient(base_url=server.url) as client:
                await client.get("/")
                response = await client.get("/events")
            assert response.json() == {"events": ["before_serving", "request"]}
            assert not app.shutdown_event.is_set()
    # Stopped through the shutdown trigger, not cancelled: the lifespan shutdown ran, and
    # had finished by the time the block exited.
    assert events == ["before_serving", "request", "after_serving"]
    assert app.shutdown_event.is_set()


async def test_two_servers_at_once_get_different_ports() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app()) as first, serve_app(make_app()) as second:
            assert first.port != second.port
            async with httpx.AsyncClient() as client:
                for server in (first, second):
                    response = await client.get(server.url + "/")
                    assert response.text == "hello from a real socket"


async def test_an_error_in_the_block_comes_out_unwrapped_after_a_clean_shutdown() -> None:
    events: list[str] = []
    with trio.fail_after(TIMEOUT), pytest.raises(LookupError, match="from the test"):
        async with serve_app(make_app(events)):
            raise LookupError("from the test")
    assert events == ["before_serving", "after_serving"]


async def test_a_failed_startup_raises() -> None:
    app = TrioQuart(__name__)

    @app.before_serving
    async def broken() -> None:
        raise RuntimeError("no database")

    entered = False
    with (
        trio.fail_after(TIMEOUT),
        pytest.RaisesGroup(LifespanFailureError, flatten_subgroups=True) as info,
    ):
        async with serve_app(app):
            entered = True
    assert not entered
    assert "no database" in str(info.value.exceptions)


class ServerKiller(BaseException):
    """Not an ``Exception``: Hypercorn's trio worker lets it take the whole server down."""


async def crashing_app(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
    """A bare ASGI app that handles the lifespan properly but blows up on any request."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    raise ServerKiller("boom")


async def test_a_server_crash_fails_loudly() -> None:
    # Hypercorn's own trio worker dies of it; serve_app must not hide that.
    with (
        trio.fail_after(TIMEOUT),
        pytest.RaisesGroup(ServerKiller, flatten_subgroups=True),
    ):
        async with serve_app(crashing_app, server="hypercorn") as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                await client.get("/")
            await trio.sleep_forever()  # the crash must cancel this, not leave it hanging


async def test_trioquarts_server_contains_what_kills_hypercorns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(crashing_app) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                first = await client.get("/")
                second = await client.get("/")
    assert (first.status_code, second.status_code) == (500, 500)
    errors = [record for record in caplog.records if record.levelname == "ERROR"]
    assert len(errors) == 2  # one per failed request
    assert all("ServerKiller: boom" in record.exc_text for record in errors if record.exc_text)


async def test_config_overrides_are_applied_and_checked() -> None:
    with trio.fail_after(TIMEOUT):
        async with serve_app(make_app(), include_server_header=False) as server:
            async with httpx.AsyncClient(base_url=server.url) as client:
                response = await client.get("/")
        assert "server" not in response.headers

        with pytest.raises(TypeError, match="graceful_timout"):
            async with serve_app(make_app(), graceful_timout=1):
                pass


# ---- the live_server fixture ----------------------------------------------------------

fixture_events: list[str] = []


@pytest.fixture
def app() -> Iterator[TrioQuart]:
    fixture_events.clear()
    app = make_app(fixture_events)
    yield app
    # ``live_server`` depends on this fixture, so it was torn down first: gracefully.
    assert fixture_events[-1] == "after_serving"
    assert app.shutdown_event.is_set()


async def test_live_server_fixture_serves_the_app_fixture(
    live_server: LiveServer,  # noqa: F811
    app: TrioQuart,
) -> None:
    assert live_server.port != 0
    assert fixture_events == ["before_serving"]
    with trio.fail_after(TIMEOUT):
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            response = await client.get("/")
    assert response.text == "hello from a real socket"
    assert not app.shutdown_event.is_set()


def test_live_server_fixture_as_documented(pytester: pytest.Pytester) -> None:
    """The set-up the plugin's docstring describes works in a fresh project, and a test
    module without an ``app`` fixture gets a clear error rather than a hang or a crash."""
    pytester.makeini("[pytest]\ntrio_mode = true\n")
    pytester.makeconftest('pytest_plugins = ["trioquart.testing.pytest_plugin"]\n')
    pytester.makepyfile(
        test_with_app=textwrap.dedent(
            """
            import httpx
            import pytest
            import trio
            from trioquart import TrioQuart


            @pytest.fixture
            def app():
                app = TrioQuart("project")

                @app.get("/")
                async def index():
                    return "documented"

                return app


            async def test_home(live_server):
                with trio.fail_after(10):
                    async with httpx.AsyncClient(base_url=live_server.url) as client:
                        response = await client.get("/")
                assert response.text == "documented"
            """
        ),
        test_without_app=textwrap.dedent(
            """
            async def test_needs_app(live_server):
                pass
            """
        ),
    )
    # "no:trioquart" blocks the plugin in case an old install still registers it through an
    # entry point, so the run sees only what the conftest opts into.
    result = pytester.runpytest_subprocess("-p", "no:trioquart", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'app' not found*"])
