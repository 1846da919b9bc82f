"""Run an app on a real socket for end-to-end tests.

:func:`serve_app` starts the server ``trioquart run`` uses (:func:`trioquart.serving.serve`,
on Hypercorn's protocol layer) in the current trio run, bound to a port the kernel picks, and
hands back a :class:`LiveServer` describing where it listens::

    async with serve_app(app) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/")

Unlike the in-process test client, this exercises the whole stack: sockets, HTTP parsing,
the server's ASGI glue and the lifespan protocol, so ``before_serving`` runs before the first
request and ``after_serving`` runs when the block exits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

import attrs
import trio
from hypercorn.trio import serve as hypercorn_serve

from ..serving import ServerConfig
from ..serving import serve as trioquart_serve
from ..typing import ASGIApp, ASGIReceive, ASGISend, Message, Scope

if TYPE_CHECKING:
    from hypercorn.typing import Framework

__all__ = ["LiveServer", "serve_app"]

#: Seconds the server lets open requests finish after shutdown is triggered. Tests want a quick
#: teardown even if one of them leaves a streaming response or websocket open; after this the
#: remaining connections are cancelled and the lifespan shutdown still runs.
TEST_GRACEFUL_TIMEOUT = 2.0


@attrs.frozen
class LiveServer:
    """Where a server started by :func:`serve_app` listens."""

    #: The base URL for HTTP requests, e.g. ``"http://127.0.0.1:43123"``.
    url: str
    #: The same address with the websocket scheme, e.g. ``"ws://127.0.0.1:43123"``.
    ws_url: str
    #: The host the socket is bound to (without brackets for IPv6).
    host: str
    #: The port the socket is bound to; never 0, even if port 0 was asked for.
    port: int

    @classmethod
    def from_url(cls, url: str) -> LiveServer:
        """Build the record from one of the URLs the server reports once it is listening."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or parts.hostname is None or parts.port is None:
            raise ValueError(f"Unexpected server URL {url!r}")
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        return cls(
            url=url,
            ws_url=f"{ws_scheme}://{parts.netloc}",
            host=parts.hostname,
            port=parts.port,
        )


def make_test_config(host: str, port: int, **overrides: Any) -> ServerConfig:
    """A server config suited to tests, bound to ``host:port``.

    No access log (it only adds noise), and errors go to the ``hypercorn.error`` logger rather
    than straight to stderr, so pytest captures them and shows them with a failing test.
    ``overrides`` set further attributes of the config (``keep_alive_timeout=1`` ...); an
    unknown name is an error rather than being silently ignored.
    """
    config = ServerConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = TEST_GRACEFUL_TIMEOUT
    for name, value in overrides.items():
        if name.startswith("_") or not hasattr(config, name):
            raise TypeError(f"serve_app() got an unknown server config option {name!r}")
        setattr(config, name, value)
    return config


def _watch_startup(app: ASGIApp, startup_failed: trio.Event) -> ASGIApp:
    """Wrap ``app`` so that a ``lifespan.startup.failed`` it sends sets ``startup_failed``.

    Needed for Hypercorn's own server only (trioquart's raises the failure before it reports
    its sockets): Hypercorn's trio worker still reports its sockets through ``task_status``
    when the startup fails, a moment before the failure tears it down; without this a test
    block could start running against a server that never properly started.
    """

    async def watched(scope: Scope, receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def send_and_watch(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                startup_failed.set()
            await send(message)

        await app(scope, receive, send_and_watch)

    return watched


@asynccontextmanager
async def serve_app(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    server: Literal["trioquart", "hypercorn"] = "trioquart",
    **config_overrides: Any,
) -> AsyncIterator[LiveServer]:
    """Serve ``app`` for the duration of the ``async with`` block.

    ``server="trioquart"`` (the default) is the server of ``trioquart run``;
    ``server="hypercorn"`` is Hypercorn's own trio worker, as ``hypercorn -k trio`` runs it.

    The block is entered once the lifespan startup has completed and the socket is listening,
    so requests can be sent straight away. ``port=0`` (the default) lets the kernel pick a
    free port, which keeps parallel servers and parallel test runs from colliding; read the
    real one from the yielded :class:`LiveServer`. Extra keyword arguments are set on the
    :class:`~trioquart.serving.ServerConfig` (Hypercorn's config, plus trioquart's limits).

    On exit the server is stopped through its ``shutdown_trigger`` rather than by
    cancelling it: cancellation would tear the server down without sending
    ``lifespan.shutdown``, so ``after_serving`` hooks would never run and tests could not check
    them. A graceful stop lets in-flight requests finish (for at most
    ``TEST_GRACEFUL_TIMEOUT`` seconds), runs the lifespan shutdown, and only then does the
    block exit, so nothing of the server outlives it. This holds when the block raises too:
    its exception is held back until the server has stopped, then raised unchanged (not
    wrapped in an exception group), so ``pytest.raises`` around the block works as expected.

    Server failures are never swallowed: if the lifespan startup fails the ``async with``
    raises without entering the block, and if the server crashes while the block runs, the
    block is cancelled and the crash is raised from the ``async with``.
    """
    config = make_test_config(host, port, **config_overrides)
    shutdown = trio.Event()
    startup_failed = trio.Event()
    body_error: BaseException | None = None
    serve: Any = trioquart_serve
    served = app  # trioquart's server reads the app's limits from it: not wrapped
    if server == "hypercorn":
        serve = partial(hypercorn_serve, mode="asgi")
        served = _watch_startup(app, startup_failed)
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(
                serve,
                # Hypercorn types scopes and messages as TypedDicts; ours are plain dicts.
                cast("Framework", served),
                config,
                shutdown_trigger=shutdown.wait,
            )
        )
        if startup_failed.is_set():
            # serve() is about to raise the failure; wait here to be cancelled by it.
            await trio.sleep_forever()
        try:
            yield LiveServer.from_url(binds[0])
        except GeneratorExit:
            raise
        except BaseException as error:
            # Letting the error into the nursery would cancel serve() and skip the lifespan
            # shutdown. Keep it until the server has stopped gracefully. (If the block was
            # cancelled because serve() crashed, the nursery raises that crash instead.)
            body_error = error
        finally:
            # serve() returns once the trigger fires and shutdown is complete; the nursery
            # then waits for it, so the server is fully stopped when the nursery exits.
            shutdown.set()
    if body_error is not None:
        raise body_error
