"""Quart-Rate-Limiter on trioquart, unchanged, as its README and how-to guides describe it.

``RateLimiter(app)`` (or ``init_app``) enforces the limits that ``@rate_limit`` puts on a
route, ``limit_blueprint`` on a blueprint and ``default_limits`` on every route, except
``@rate_exempt`` ones. A request over a limit gets a 429 with ``Retry-After``; the others
carry ``RateLimit-Limit``/``-Remaining``/``-Reset``. Requests are told apart by a key
(the client's address by default, or a ``key_function``); a ``skip_function`` lifts a
limit; ``QUART_RATE_LIMITER_ENABLED`` turns it all off. The store's ``before_serving`` and
``after_serving`` run in the app's lifespan.

The limits here are per minute or longer, so that no test depends on how fast it runs.

The Redis and Valkey stores are built on ``redis.asyncio`` and ``valkey.asyncio``, which
cannot run under trio: the tests at the end show the error they give, which names the
asyncio call, and that nothing hangs. A custom store (the guide's third kind) on coredis,
which runs on trio, shares limits through Redis instead.
"""

# The extension's annotations name the real Quart's classes, which is what mypy reads; at run
# time they are trioquart's (trioquart.quart_patch), and mypy cannot know that.
# mypy: disable-error-code="arg-type, type-var"

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import coredis
import httpx
import pytest
import trio
from quart_rate_limiter import (
    RateLimit,
    RateLimiter,
    RateLimitExceeded,
    limit_blueprint,
    rate_exempt,
    rate_limit,
)
from quart_rate_limiter.redis_store import RedisStore
from quart_rate_limiter.store import RateLimiterStoreABC
from quart_rate_limiter.valkey_store import ValkeyStore

from tests.redis_server import redis_server_running
from trioquart import Blueprint, TrioQuart, current_app, request, websocket
from trioquart.errors import ASYNCIO_NOTE_MARK
from trioquart.testing import LifespanError, TestClient, serve_app

MINUTE = timedelta(minutes=1)
#: An address nothing listens on: the asyncio stores fail before they would connect.
NOWHERE = "redis://127.0.0.1:9"


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    return app


def retry_after(values: list[str]) -> int:
    """The seconds a 429's ``Retry-After`` says. Quart-Rate-Limiter 0.12 sends the header
    twice, with the same value (werkzeug's ``TooManyRequests`` adds it for the exception's
    ``retry_after``, and the extension adds it again), on Quart as here."""
    assert values and len(set(values)) == 1, values
    return int(values[0])


async def statuses(
    client: TestClient, path: str, count: int, headers: dict[str, str] | None = None
) -> list[int]:
    """The status codes of ``count`` GET requests to ``path``, made one after another."""
    codes = []
    for _ in range(count):
        response = await client.get(path, headers=headers)
        codes.append(response.status_code)
    return codes


async def test_the_quickstart_limit_answers_429_with_retry_after() -> None:
    app = make_app()
    RateLimiter(app)

    @app.get("/")
    @rate_limit(1, timedelta(seconds=10))
    async def handler() -> str:
        return "served"

    client = app.test_client()
    with trio.fail_after(5):
        first = await client.get("/")
        second = await client.get("/")
    assert first.status_code == 200 and await first.get_data() == b"served"
    assert second.status_code == 429
    assert b"Too Many Requests" in await second.get_data()
    # Seconds until a request would be allowed again: the whole period, less a moment.
    assert 9 <= retry_after(second.headers.getlist("Retry-After")) <= 10


async def test_responses_carry_the_ratelimit_headers() -> None:
    app = make_app()
    RateLimiter(app)

    @app.get("/")
    @rate_limit(3, MINUTE)
    async def handler() -> str:
        return "counted"

    client = app.test_client()
    with trio.fail_after(5):
        responses = [await client.get("/") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Limit"] for r in responses] == ["3"] * 4
    assert [r.headers["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    # Seconds until the allowance is whole again: 20 per request made (60 s / 3).
    assert [r.headers["RateLimit-Reset"] for r in responses[:3]] == ["20", "40", "60"]
    assert retry_after(responses[3].headers.getlist("Retry-After")) == 20  # one request's worth


async def test_several_limits_on_one_route_all_apply() -> None:
    app = make_app()
    RateLimiter(app)

    @app.get("/stacked")
    @rate_limit(1, MINUTE)
    @rate_limit(20, timedelta(hours=1))
    async def stacked() -> str:
        return "stacked"

    @app.get("/listed")
    @rate_limit(limits=[RateLimit(5, MINUTE), RateLimit(2, timedelta(hours=1))])
    async def listed() -> str:
        return "listed"

    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/stacked", 2) == [200, 429]
        # The hourly limit of 2 bites before the per-minute one of 5.
        assert await statuses(client, "/listed", 3) == [200, 200, 429]


async def test_limits_count_per_route() -> None:
    app = make_app()
    RateLimiter(app, default_limits=[RateLimit(1, MINUTE)])

    @app.get("/a")
    async def a() -> str:
        return "a"

    @app.get("/b")
    async def b() -> str:
        return "b"

    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/a", 2) == [200, 429]
        assert await statuses(client, "/b", 2) == [200, 429]


async def test_the_default_key_is_the_client_address() -> None:
    app = make_app()
    RateLimiter(app)

    @app.get("/")
    @rate_limit(1, MINUTE)
    async def handler() -> str:
        return f"hello {request.access_route[0]}"

    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/", 2) == [200, 429]  # the test client's 127.0.0.1
        # Behind a proxy, the client's address is the first one it forwarded.
        first = {"X-Forwarded-For": "203.0.113.7"}
        second = {"X-Forwarded-For": "203.0.113.8"}
        assert await statuses(client, "/", 2, headers=first) == [200, 429]
        assert await statuses(client, "/", 1, headers=second) == [200]


async def test_a_key_function_identifies_users_app_wide_or_per_limit() -> None:
    async def user_key() -> str:
        return request.headers.get("X-User", "anonymous")

    async def team_key() -> str:
        return request.headers.get("X-Team", "none")

    app = make_app()
    RateLimiter(app, key_function=user_key)

    @app.get("/profile")
    @rate_limit(1, MINUTE)
    async def profile() -> str:
        return "profile"

    @app.get("/team")
    @rate_limit(1, MINUTE, key_function=team_key)
    async def team() -> str:
        return "team"

    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/profile", 2, headers={"X-User": "ada"}) == [200, 429]
        assert await statuses(client, "/profile", 1, headers={"X-User": "bob"}) == [200]
        # The limit's own key function wins: two users of one team share its allowance.
        red_ada = {"X-User": "ada", "X-Team": "red"}
        red_bob = {"X-User": "bob", "X-Team": "red"}
        assert await statuses(client, "/team", 1, headers=red_ada) == [200]
        assert await statuses(client, "/team", 1, headers=red_bob) == [429]


async def test_default_limits_apply_everywhere_but_exempt_routes() -> None:
    app = make_app()
    RateLimiter(app, default_limits=[RateLimit(1, MINUTE), RateLimit(20, timedelta(hours=1))])

    @app.get("/")
    async def index() -> str:
        return "limited by default"

    @app.get("/exempt")
    @rate_exempt
    async def exempt() -> str:
        return "never limited"

    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/", 2) == [200, 429]
        exempt_responses = [await client.get("/exempt") for _ in range(3)]
    assert [r.status_code for r in exempt_responses] == [200, 200, 200]
    assert "RateLimit-Limit" not in exempt_responses[0].headers


async def test_a_blueprint_limit_covers_its_routes_but_not_nested_blueprints() -> None:
    app = make_app()
    RateLimiter(app)
    api = Blueprint("api", __name__, url_prefix="/api")
    limit_blueprint(api, 1, MINUTE)
    inner = Blueprint("inner", __name__, url_prefix="/inner")

    @api.get("/data")
    async def data() -> str:
        return "data"

    @inner.get("/deep")
    async def deep() -> str:
        return "deep"

    @app.get("/page")
    async def page() -> str:
        return "page"

    api.register_blueprint(inner)
    app.register_blueprint(api)
    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/api/data", 2) == [200, 429]
        # The guide's warning: a blueprint's limits do not reach the blueprints inside it.
        assert await statuses(client, "/api/inner/deep", 3) == [200, 200, 200]
        assert await statuses(client, "/page", 3) == [200, 200, 200]


async def test_a_skip_function_lifts_a_limit() -> None:
    async def skip_trusted() -> bool:
        return request.headers.get("X-Trusted") == "yes"

    app = make_app()
    RateLimiter(
        app,
        default_limits=[
            RateLimit(1, MINUTE, skip_function=skip_trusted),
            RateLimit(3, MINUTE),
        ],
    )

    @app.get("/")
    async def index() -> str:
        return "index"

    client = app.test_client()
    trusted = {"X-Trusted": "yes"}
    with trio.fail_after(5):
        # The 1-a-minute limit is skipped for trusted requests; the 3-a-minute one is not.
        assert await statuses(client, "/", 4, headers=trusted) == [200, 200, 200, 429]


async def test_a_global_skip_function_can_spare_static_files(tmp_path: Path) -> None:
    async def skip_static() -> bool:
        return (request.endpoint or "").endswith("static")

    app = TrioQuart(__name__, static_folder=str(tmp_path), static_url_path="/static")
    app.testing = True
    (tmp_path / "app.js").write_text("// js")
    RateLimiter(app, default_limits=[RateLimit(1, MINUTE)], skip_function=skip_static)

    @app.get("/")
    async def index() -> str:
        return "index"

    client = app.test_client()
    with trio.fail_after(5):
        assert await statuses(client, "/static/app.js", 3) == [200, 200, 200]
        assert await statuses(client, "/", 2) == [200, 429]


async def test_the_enabled_setting_turns_limiting_off() -> None:
    off_by_config = make_app()
    off_by_config.config["QUART_RATE_LIMITER_ENABLED"] = False
    RateLimiter(off_by_config)
    off_by_argument = make_app()
    RateLimiter(off_by_argument, enabled=False)

    for app in (off_by_config, off_by_argument):

        @app.get("/")
        @rate_limit(1, MINUTE)
        async def handler() -> str:
            return "unlimited"

        client = app.test_client()
        with trio.fail_after(5):
            responses = [await client.get("/") for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert "RateLimit-Limit" not in responses[0].headers


async def test_the_factory_pattern() -> None:
    rate_limiter = RateLimiter(default_limits=[RateLimit(1, MINUTE)])

    def create_app() -> TrioQuart:
        app = make_app()

        @app.get("/")
        async def index() -> str:
            return "made by a factory"

        rate_limiter.init_app(app)
        return app

    app = create_app()
    assert app.config["QUART_RATE_LIMITER_ENABLED"] is True
    with trio.fail_after(5):
        assert await statuses(app.test_client(), "/", 2) == [200, 429]


async def test_an_error_handler_can_shape_the_429() -> None:
    app = make_app()
    RateLimiter(app)

    @app.errorhandler(RateLimitExceeded)
    async def too_many(error: RateLimitExceeded) -> tuple[dict[str, object], int, dict[str, str]]:
        body: dict[str, object] = {"error": "slow down", "retry_after": error.retry_after}
        return body, 429, {"Retry-After": str(error.retry_after)}

    @app.get("/")
    @rate_limit(1, MINUTE)
    async def handler() -> str:
        return "ok"

    client = app.test_client()
    with trio.fail_after(5):
        await client.get("/")
        refused = await client.get("/")
    assert refused.status_code == 429
    body = await refused.get_json()
    assert body["error"] == "slow down" and 59 <= body["retry_after"] <= 60
    assert refused.headers["Retry-After"] == str(body["retry_after"])


async def test_websockets_are_not_limited() -> None:
    """The limiter hooks HTTP requests only (``before_request``), so a websocket route is not
    limited even when decorated, as on Quart."""
    app = make_app()
    RateLimiter(app, default_limits=[RateLimit(1, MINUTE)])

    @app.websocket("/ws")
    @rate_limit(1, MINUTE)
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("open")

    client = app.test_client()
    with trio.fail_after(5):
        for _ in range(3):
            async with client.websocket("/ws") as connection:
                assert await connection.receive() == "open"


class RecordingStore(RateLimiterStoreABC):
    """A store of the guide's "custom store" kind, in memory, that records its calls."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.tats: dict[str, datetime] = {}

    async def before_serving(self) -> None:
        await trio.lowlevel.checkpoint()
        self.events.append("before_serving")

    async def get(self, key: str, default: datetime) -> datetime:
        await trio.lowlevel.checkpoint()
        self.events.append("get")
        return self.tats.get(key, default)

    async def set(self, key: str, tat: datetime) -> None:
        await trio.lowlevel.checkpoint()
        self.events.append("set")
        self.tats[key] = tat

    async def after_serving(self) -> None:
        await trio.lowlevel.checkpoint()
        self.events.append("after_serving")


async def test_the_lifespan_sets_up_and_closes_a_custom_store() -> None:
    store = RecordingStore()
    app = make_app()
    RateLimiter(app, store=store)

    @app.get("/")
    @rate_limit(1, MINUTE)
    async def handler() -> str:
        return "stored"

    with trio.fail_after(5):
        async with app.test_app() as test_app:
            assert store.events == ["before_serving"]
            client = test_app.test_client()
            assert await statuses(client, "/", 2) == [200, 429]
            assert len(store.tats) == 1
            [key] = store.tats
            assert key.endswith("-127.0.0.1") and "-handler-" in key
    assert store.events[0] == "before_serving" and store.events[-1] == "after_serving"
    assert {"get", "set"} <= set(store.events)


async def test_through_a_real_server() -> None:
    store = RecordingStore()
    app = TrioQuart(__name__)
    RateLimiter(app, store=store)

    @app.get("/")
    @rate_limit(2, MINUTE)
    async def handler() -> str:
        return "live"

    with trio.fail_after(20):
        async with serve_app(app) as server:
            assert store.events == ["before_serving"]
            async with httpx.AsyncClient(base_url=server.url) as http:
                responses = [await http.get("/") for _ in range(3)]
    assert store.events[-1] == "after_serving"
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[0].text == "live" and responses[0].headers["ratelimit-remaining"] == "1"
    assert 29 <= retry_after(responses[2].headers.get_list("retry-after")) <= 30


class CoredisStore(RateLimiterStoreABC):
    """The guide's custom store, shared through Redis with coredis, which runs on anyio and
    so on trio: what to use on trioquart instead of ``RedisStore``.

    The client is held open by a task in the app nursery (its ``async with`` must start and
    end in one task), started in ``before_serving``; shutdown cancels it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: coredis.Redis[str] | None = None

    async def before_serving(self) -> None:
        self.client = await current_app.nursery.start(self._hold_client)

    async def _hold_client(self, task_status: trio.TaskStatus[coredis.Redis[str]]) -> None:
        async with coredis.Redis.from_url(self.url, decode_responses=True) as client:
            task_status.started(client)
            await trio.sleep_forever()

    async def get(self, key: str, default: datetime) -> datetime:
        assert self.client is not None
        value = await self.client.get(key)
        return default if value is None else datetime.fromtimestamp(float(value), UTC)

    async def set(self, key: str, tat: datetime) -> None:
        assert self.client is not None
        await self.client.set(key, str(tat.timestamp()))

    async def after_serving(self) -> None:
        self.client = None


async def test_a_custom_trio_store_shares_limits_between_instances() -> None:
    """The guide's reason for a central store: two instances of an app, each with its own
    store on the same Redis, share one allowance."""

    def make_instance(url: str) -> TrioQuart:
        app = make_app()
        RateLimiter(app, store=CoredisStore(url))

        @app.get("/")
        @rate_limit(1, MINUTE)
        async def handler() -> str:
            return "shared"

        return app

    with redis_server_running() as redis_server:
        first, second = make_instance(redis_server.url), make_instance(redis_server.url)
        with trio.fail_after(10):
            async with first.test_app() as one, second.test_app() as two:
                assert await statuses(one.test_client(), "/", 1) == [200]
                assert await statuses(two.test_client(), "/", 1) == [429]
        keys = redis_server.command("KEYS", "*")
    assert b"-handler-1-60.0-127.0.0.1" in keys


# ---- the asyncio stores --------------------------------------------------------------------


def asyncio_note(error: BaseException) -> str:
    [note] = [n for n in getattr(error, "__notes__", ()) if n.startswith(ASYNCIO_NOTE_MARK)]
    return note


def closing_warning(package: str) -> AbstractContextManager[object]:
    """What closing the store warns: ``RedisStore.after_serving`` calls redis-py's
    deprecated ``close()`` (Quart-Rate-Limiter 0.12, whatever the event loop)."""
    if package == "redis":
        return pytest.warns(DeprecationWarning, match="deprecated close")
    return nullcontext()


@pytest.mark.parametrize(
    ("store", "package"),
    [(RedisStore(NOWHERE), "redis"), (ValkeyStore(NOWHERE), "valkey")],
    ids=["redis", "valkey"],
)
async def test_an_asyncio_store_fails_clearly_instead_of_hanging(
    store: RateLimiterStoreABC, package: str
) -> None:
    """The store's client is made in ``before_serving`` without any I/O; its first command
    calls ``asyncio.timeout()``, which needs asyncio's loop. The library reports it as a
    connection error (valkey), or fails again while cleaning up after that (redis calls
    ``asyncio.current_task()``), with only "no running event loop" to say why; trioquart's
    note names the first asyncio call, and the shutdown's ``asyncio.gather`` (closing the
    client) is named the same way."""
    app = make_app()
    RateLimiter(app, store=store)

    @app.get("/")
    @rate_limit(1, MINUTE)
    async def handler() -> str:
        return "unreachable"

    with trio.fail_after(10), closing_warning(package):
        with pytest.raises(LifespanError) as shutdown:
            async with app.test_app() as test_app:
                with pytest.raises(Exception, match="no running event loop") as failed:
                    await test_app.test_client().get("/")
    note = asyncio_note(failed.value)
    assert "asyncio.timeout()" in note and f"in {package}.asyncio.connection line" in note
    assert "trioquart runs on trio" in note
    message = str(shutdown.value)
    assert ASYNCIO_NOTE_MARK in message and "`resp = await asyncio.gather(`" in message
    assert f"{package}.asyncio.connection" in message


async def test_an_asyncio_store_behind_a_real_server_answers_500_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = TrioQuart(__name__)
    RateLimiter(app, store=RedisStore(NOWHERE))

    @app.get("/")
    @rate_limit(1, MINUTE)
    async def handler() -> str:
        return "unreachable"

    with trio.fail_after(20), closing_warning("redis"):
        async with serve_app(app) as server:
            async with httpx.AsyncClient(base_url=server.url) as http:
                response = await http.get("/")
    assert response.status_code == 500
    request_errors = [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR and record.getMessage() == "Exception on GET /"
    ]
    [record] = request_errors
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert "asyncio.timeout()" in asyncio_note(record.exc_info[1])
    [shutdown] = [
        r for r in caplog.records if r.getMessage().endswith("failed to shut down cleanly")
    ]
    assert shutdown.exc_info is not None and shutdown.exc_info[1] is not None
    assert "await asyncio.gather(" in asyncio_note(shutdown.exc_info[1])
