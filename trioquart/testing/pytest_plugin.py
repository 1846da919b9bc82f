"""A pytest plugin with a ``live_server`` fixture: your app served on a real socket.

It is opt-in. Enable it in your top-level ``conftest.py`` (pytest only honours
``pytest_plugins`` there or in test modules) and define a fixture named ``app`` that returns
the app to serve::

    # conftest.py
    import pytest

    from myproject import create_app

    pytest_plugins = ["trioquart.testing.pytest_plugin"]


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
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

import pytest_trio  # type: ignore[import-untyped]

from ..typing import ASGIApp
from .server import LiveServer, serve_app

__all__ = ["live_server"]

_F = TypeVar("_F", bound=Callable[..., Any])

# pytest-trio ships no type information; its decorator returns the function it is given (as
# a pytest fixture that pytest-trio runs even outside trio_mode).
_trio_fixture = cast(Callable[[_F], _F], pytest_trio.trio_fixture)


@_trio_fixture
async def live_server(app: ASGIApp) -> AsyncIterator[LiveServer]:
    """Serve the ``app`` fixture with Hypercorn on 127.0.0.1 and a free port for one test.

    Teardown shuts the server down gracefully, so the app's ``after_serving`` hooks run, and
    an error in the server or in the lifespan fails the test rather than being hidden.
    """
    async with serve_app(app) as server:
        yield server
