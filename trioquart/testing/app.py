"""``TestApp``: run an app's lifespan in-process around a block of tests.

``async with app.test_app() as test_app:`` sends ``lifespan.startup`` (so the serving hooks
run and ``app.nursery`` opens), and on exit ``lifespan.shutdown`` (background tasks finish or
are cancelled, ``after_serving`` runs). A startup or shutdown failure raises
:class:`LifespanError` with the app's message.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from ..app import TrioQuart
    from .client import TestClient


class LifespanError(Exception):
    """The app reported a failed startup or shutdown."""


class TestApp:
    """The app, started as a server would start it. Use ``test_client()`` inside."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, app: TrioQuart, startup_timeout: float = 60, shutdown_timeout: float = 60
    ) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._to_app, self._app_inbox = trio.open_memory_channel[dict[str, Any]](math.inf)
        self._app_outbox, self._from_app = trio.open_memory_channel[dict[str, Any]](math.inf)
        self._nursery_manager: Any = None
        self._nursery: trio.Nursery | None = None

    def test_client(self) -> TestClient:
        return self.app.test_client()

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        await self.app(scope, self._app_inbox.receive, self._app_outbox.send)

    async def _exchange(self, kind: str) -> None:
        """Send the lifespan ``kind`` message and check the app's reply (the caller bounds
        the wait)."""
        await self._to_app.send({"type": f"lifespan.{kind}"})
        reply = await self._from_app.receive()
        if reply["type"] == f"lifespan.{kind}.failed":
            raise LifespanError(reply.get("message", ""))
        if reply["type"] != f"lifespan.{kind}.complete":
            raise LifespanError(f"Unexpected lifespan message {reply['type']!r}")

    async def __aenter__(self) -> TestApp:
        self._nursery_manager = trio.open_nursery()
        self._nursery = await self._nursery_manager.__aenter__()
        self._nursery.start_soon(self._run)
        try:
            with trio.fail_after(self.startup_timeout):
                await self._exchange("startup")
        except BaseException as error:
            self._nursery.cancel_scope.cancel()
            await self._close(type(error), error, error.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            with trio.fail_after(self.shutdown_timeout):
                await self._exchange("shutdown")
        finally:
            await self._close(exc_type, exc, tb)

    async def _close(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._nursery_manager.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1 and group.exceptions[0] is exc:
                return
            raise
