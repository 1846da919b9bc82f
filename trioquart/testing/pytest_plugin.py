"""A pytest plugin with a ``live_server`` fixture: your app served on a real socket.

Installing trioquart registers this plugin with pytest (a ``pytest11`` entry point named
``trioquart``), so no ``conftest.py`` line is needed. Define a fixture named ``app`` that
returns the app to serve::

    # conftest.py
    import pytest

    from myproject import create_app


    @pytest.fixture
    def app():
        return create_app()

Then any trio test can ask for ``live_server``, a :class:`~trioquart.testing.server.LiveServer`
with the ``url``, ``ws_url``, ``host`` and ``port`` the server listens on::

    import httpx


    async def test_home_page(live_server):
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            response = await client.get("/")
        assert response.status_code == 200

Each test gets a fresh server on a port the kernel picks (starting one takes a few
milliseconds). The lifespan runs around the test: ``before_serving`` before it,
``after_serving`` after it, during fixture teardown. The fixture is a pytest-trio fixture, so
tests using it must run under trio: set ``trio_mode = true`` in your pytest configuration or
mark them with ``@pytest.mark.trio``.

The plugin is loaded into every pytest run of an environment where trioquart is installed,
so it stays inert until a test asks for ``live_server``: importing it imports none of your
code and changes no setting, the fixture runs only for the tests that ask for it, and the
plugin's hooks act only on those tests. ``-p no:trioquart`` turns it off altogether. A
``pytest_plugins = ["trioquart.testing.pytest_plugin"]`` line left from the time the plugin
was opt-in is harmless.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import LiveServer

__all__ = ["live_server"]

#: The fixture the plugin serves, and the one it needs from the project.
FIXTURE = "live_server"
APP_FIXTURE = "app"

MISSING_APP = (
    "live_server: fixture 'app' not found. live_server serves the app that a fixture named "
    "'app' returns; define one, for example in conftest.py:\n\n"
    "    @pytest.fixture\n"
    "    def app():\n"
    "        return create_app()\n"
)
MISSING_PYTEST_TRIO = (
    "live_server needs pytest-trio (pip install pytest-trio) and tests that run under trio "
    "(trio_mode = true, or @pytest.mark.trio)."
)


def _make_fixture() -> Any:
    try:
        import pytest_trio  # type: ignore[import-untyped]
    except ImportError:
        # Without pytest-trio there is no trio run to serve in; say so to whoever asks.
        @pytest.fixture(name=FIXTURE)
        def missing_pytest_trio() -> None:
            pytest.fail(MISSING_PYTEST_TRIO, pytrace=False)

        return missing_pytest_trio

    async def live_server(app: Any) -> AsyncIterator[LiveServer]:
        """Serve the ``app`` fixture with trioquart's server on 127.0.0.1 and a free port
        for one test.

        Teardown shuts the server down gracefully, so the app's ``after_serving`` hooks run,
        and an error in the server or in the lifespan fails the test rather than being
        hidden.
        """
        # Imported here rather than at the top: only a test that asks for a server should
        # wait for one to be imported.
        from .server import serve_app

        async with serve_app(app) as server:
            yield server

    # A pytest-trio fixture runs in the test's trio run even outside trio_mode.
    return pytest_trio.trio_fixture(live_server)


live_server = _make_fixture()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test that uses ``live_server`` in a project without an ``app`` fixture with a
    message that says what to add, before pytest's generic "fixture not found" error."""
    if FIXTURE not in getattr(item, "fixturenames", ()):
        return
    # pytest records the definitions it found for each fixture a test needs (the last one
    # is used); a name it could not resolve has none. (A private attribute: without it,
    # pytest's own error.) A project's own ``live_server`` is none of our business.
    info = getattr(item, "_fixtureinfo", None)
    definitions = getattr(info, "name2fixturedefs", None)
    if definitions is None or not definitions.get(FIXTURE):
        return
    if getattr(definitions[FIXTURE][-1].func, "__module__", None) != __name__:
        return
    if APP_FIXTURE not in definitions:
        pytest.fail(MISSING_APP, pytrace=False)


def pytest_plugin_registered(plugin: object, manager: pytest.PytestPluginManager) -> None:
    """Keep a ``pytest_plugins`` line naming this module working next to the entry point.

    The entry point registers the module as ``trioquart``; pytest would then refuse to
    register it again under its module name (with a ``ValueError`` that ends the run).
    Blocking that second name makes such a line the no-op it should be.
    """
    if plugin is sys.modules[__name__] and manager.get_name(plugin) != __name__:
        manager.set_blocked(__name__)
