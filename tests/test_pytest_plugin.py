"""The pytest plugin through its entry point: fresh pytest processes (pytester) in projects
that have no conftest line for it, one using ``live_server`` against a real server, others
showing that the plugin leaves a project alone until a test asks for the fixture."""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

# Each run starts a fresh interpreter (and maybe a server): bounded, generously.
RUN_TIMEOUT = 120

INI = """
[pytest]
trio_mode = true
filterwarnings = error
"""

APP_FIXTURE = """
import pytest
from trioquart import TrioQuart

events = []


@pytest.fixture
def app():
    app = TrioQuart("project")

    @app.before_serving
    async def started():
        events.append("before_serving")

    @app.after_serving
    async def stopped():
        events.append("after_serving")

    @app.get("/")
    async def index():
        return "served for real"

    @app.websocket("/echo")
    async def echo():
        from trioquart import websocket

        await websocket.accept()
        await websocket.send(await websocket.receive())

    return app
"""

LIVE_SERVER_TESTS = """
import httpx
import trio
import trio_websocket

from conftest import events


async def test_http(live_server):
    assert live_server.url == f"http://127.0.0.1:{live_server.port}"
    assert events[-1:] == ["before_serving"]
    with trio.fail_after(10):
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            response = await client.get("/")
    assert response.status_code == 200
    assert response.text == "served for real"


async def test_websocket(live_server):
    with trio.fail_after(10):
        async with trio_websocket.open_websocket_url(live_server.ws_url + "/echo") as ws:
            await ws.send_message("ping")
            assert await ws.get_message() == "ping"


def test_lifespan_ran_around_each_test():
    assert events == ["before_serving", "after_serving"] * 2
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT)


def test_the_entry_point_names_the_plugin_module() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("trioquart") == "trioquart.testing.pytest_plugin"


def test_live_server_needs_no_conftest_line(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(APP_FIXTURE)
    pytester.makepyfile(test_live=LIVE_SERVER_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=3)


def test_an_async_app_fixture_works_too(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_async_app=textwrap.dedent(
            """
            import httpx
            import pytest
            import trio
            from trioquart import TrioQuart


            @pytest.fixture
            async def app():
                await trio.sleep(0)  # set up something asynchronously
                app = TrioQuart("project")

                @app.get("/")
                async def index():
                    return "async fixture"

                return app


            async def test_home(live_server):
                with trio.fail_after(10):
                    async with httpx.AsyncClient(base_url=live_server.url) as client:
                        response = await client.get("/")
                assert response.text == "async fixture"
            """
        )
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_missing_app_fixture_is_explained(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_no_app=textwrap.dedent(
            """
            async def test_needs_app(live_server):
                raise AssertionError("the test body must not run")
            """
        )
    )
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*live_server: fixture 'app' not found. live_server serves the app that a fixture*",
            "*def app():*",
            "*return create_app()*",
        ]
    )
    result.stdout.no_fnmatch_line("*the test body must not run*")
    # The message replaces pytest's traceback of the fixture machinery.
    result.stdout.no_fnmatch_line("*_pytest*")


def test_a_project_not_using_it_is_unaffected(pytester: pytest.Pytester) -> None:
    """No trio mode, no app: sync tests, a test asking for an undefined ``app`` fixture
    (pytest's own error, not the plugin's), and a project's own ``live_server`` fixture,
    which wins over the plugin's."""
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest


            @pytest.fixture
            def live_server():
                return "the project's own"
            """
        )
    )
    pytester.makepyfile(
        test_plain=textwrap.dedent(
            """
            def test_plain():
                assert 1 + 1 == 2


            def test_own_fixture(live_server):
                assert live_server == "the project's own"


            def test_wants_app(app):
                pass
            """
        )
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'app' not found*"])
    result.stdout.no_fnmatch_line("*live_server: fixture 'app' not found*")


def test_an_old_conftest_line_is_harmless(pytester: pytest.Pytester) -> None:
    """Projects that opted in before the entry point keep working unchanged."""
    pytester.makeini(INI)
    pytester.makeconftest(
        'pytest_plugins = ["trioquart.testing.pytest_plugin"]\n' + textwrap.dedent(APP_FIXTURE)
    )
    pytester.makepyfile(test_live=LIVE_SERVER_TESTS)
    run(pytester).assert_outcomes(passed=3)


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(APP_FIXTURE)
    pytester.makepyfile(test_live=LIVE_SERVER_TESTS)
    result = run(pytester, "-p", "no:trioquart")
    result.assert_outcomes(passed=0, errors=2, failed=1)
    result.stdout.fnmatch_lines(["*fixture 'live_server' not found*"])
