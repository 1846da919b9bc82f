"""In-process benchmark: each ASGI app called directly under ``trio.run``, no sockets.

What one request costs inside the framework, with the server taken out: the harness builds
the scope Hypercorn would build, hands the app a ``receive`` that returns the request body
(and ``http.disconnect`` once the response is complete, as Hypercorn does) and a ``send``
that only records the status and body. The websocket echo drives the ``websocket`` scope
through two trio memory channels over one connection.

The frameworks are interleaved (bare, starlette, trioquart, quart-trio, bare, ...) over
several repetitions; each repetition is a fixed number of requests after a warm-up, with a
``gc.collect()`` before it so one framework's garbage is not collected on another's time.
The table shows the median over the repetitions, with the min-max range.

    python benchmarks/inprocess.py                 # the full run (about a minute)
    python benchmarks/inprocess.py --quick         # a short run
    python benchmarks/inprocess.py --only trioquart,starlette --json out.json
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps import FRAMEWORKS, KNOWN_APPS, get_app  # noqa: E402
from common import OtherLoad, environment, format_ratio, note_start, parse_names, summarize  # noqa: E402

# ---- the requests ------------------------------------------------------------------------

_POSTED = {"name": "bench", "values": [1, 2, 3], "nested": {"ok": True, "ratio": 0.5}}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    query: bytes = b""
    body: bytes = b""
    content_type: bytes | None = None
    check: Callable[[bytes], bool] = field(default=lambda body: True)


def _json_equals(expected: Any) -> Callable[[bytes], bool]:
    def check(body: bytes) -> bool:
        try:
            return json.loads(body) == expected
        except ValueError:
            return False

    return check


ENDPOINTS: dict[str, Endpoint] = {
    "GET /": Endpoint("GET", "/", check=lambda body: body == b"Hello, World!"),
    "GET /json": Endpoint("GET", "/json", check=_json_equals({"hello": "world"})),
    "GET /items/7?q=x": Endpoint(
        "GET", "/items/7", b"q=x", check=_json_equals({"id": 7, "q": "x"})
    ),
    "POST /json": Endpoint(
        "POST",
        "/json",
        body=json.dumps(_POSTED).encode(),
        content_type=b"application/json",
        check=_json_equals(_POSTED),
    ),
}
WEBSOCKET = "websocket echo"

_BASE_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"trioquart-bench"),
    (b"accept", b"*/*"),
]


def http_scope(endpoint: Endpoint, state: dict) -> dict:
    """The scope Hypercorn's HTTP/1.1 stream builds for this request."""
    headers = list(_BASE_HEADERS)
    if endpoint.content_type is not None:
        headers.append((b"content-type", endpoint.content_type))
    if endpoint.method != "GET":
        headers.append((b"content-length", str(len(endpoint.body)).encode()))
    return {
        "type": "http",
        "http_version": "1.1",
        "asgi": {"spec_version": "2.1", "version": "3.0"},
        "method": endpoint.method,
        "scheme": "http",
        "path": endpoint.path,
        "raw_path": endpoint.path.encode(),
        "query_string": endpoint.query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": state,
        "extensions": {},
    }


def websocket_scope(state: dict) -> dict:
    """The scope Hypercorn's websocket stream builds for ``/ws``."""
    return {
        "type": "websocket",
        "asgi": {"spec_version": "2.3", "version": "3.0"},
        "scheme": "ws",
        "http_version": "1.1",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [
            *_BASE_HEADERS,
            (b"connection", b"upgrade"),
            (b"upgrade", b"websocket"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": state,
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }


# ---- the server's side of one HTTP request, in memory --------------------------------------


class Exchange:
    """``receive`` gives the request body, then (once the response is complete) a single
    ``http.disconnect``, then blocks; ``send`` records the status and the body."""

    __slots__ = ("_request", "_waiter", "_said_disconnect", "complete", "status", "body")

    def __init__(self, request: dict) -> None:
        self._request: dict | None = request
        self._waiter: trio.Event | None = None
        self._said_disconnect = False
        self.complete = False
        self.status = 0
        self.body = b""

    async def receive(self) -> dict:
        request = self._request
        if request is not None:
            self._request = None
            return request
        if not self.complete:
            if self._waiter is None:
                self._waiter = trio.Event()
            await self._waiter.wait()
        if self._said_disconnect:
            await trio.sleep_forever()
        self._said_disconnect = True
        return {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            body = message.get("body", b"")
            if body:
                self.body += body
            if not message.get("more_body", False):
                self.complete = True
                if self._waiter is not None:
                    self._waiter.set()
        elif kind == "http.response.start":
            self.status = message["status"]


async def one_request(app: Any, scope: dict, body: bytes) -> Exchange:
    exchange = Exchange({"type": "http.request", "body": body, "more_body": False})
    await app(scope, exchange.receive, exchange.send)
    return exchange


async def time_requests(app: Any, endpoint: Endpoint, state: dict, count: int) -> float:
    """Seconds for ``count`` requests; raises if one of them is not a complete 200."""
    template = http_scope(endpoint, state)
    body = endpoint.body
    failures = 0
    clock = time.perf_counter
    start = clock()
    for _ in range(count):
        scope = template.copy()
        scope["state"] = state.copy()  # Hypercorn gives each request a copy of the state
        exchange = Exchange({"type": "http.request", "body": body, "more_body": False})
        await app(scope, exchange.receive, exchange.send)
        if exchange.status != 200 or not exchange.complete:
            failures += 1
    elapsed = clock() - start
    if failures:
        raise RuntimeError(f"{failures} of {count} requests were not a complete 200")
    return elapsed


async def check_endpoint(app: Any, endpoint: Endpoint, state: dict) -> None:
    """One request whose response is checked in full; raises with what went wrong."""
    exchange = await one_request(app, http_scope(endpoint, dict(state)), endpoint.body)
    if exchange.status != 200 or not exchange.complete:
        raise RuntimeError(f"status {exchange.status}, complete={exchange.complete}")
    if not endpoint.check(exchange.body):
        raise RuntimeError(f"unexpected body {exchange.body[:200]!r}")


# ---- one websocket over memory channels ---------------------------------------------------


class WebsocketPeer:
    """The client's end of one in-memory websocket; the app runs in a nursery task."""

    def __init__(self, app: Any, state: dict) -> None:
        self.app = app
        self.scope = websocket_scope(state.copy())
        self._to_app, self._app_inbox = trio.open_memory_channel[dict](math.inf)
        self._app_outbox, self._from_app = trio.open_memory_channel[dict](math.inf)

    async def _run_app(self) -> None:
        async with self._app_outbox:
            await self.app(self.scope, self._app_inbox.receive, self._app_outbox.send)

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[WebsocketPeer]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run_app)
            await self._to_app.send({"type": "websocket.connect"})
            with trio.fail_after(10):
                reply = await self._from_app.receive()
            if reply["type"] != "websocket.accept":
                raise RuntimeError(f"the app answered the handshake with {reply['type']!r}")
            yield self
            await self._to_app.send({"type": "websocket.disconnect", "code": 1000})
            # The app should return by itself once told of the close.
            with trio.fail_after(10):
                async for _ in self._from_app:
                    pass

    async def round_trips(self, count: int, text: str = "hello, websocket") -> None:
        to_app, from_app = self._to_app, self._from_app
        for _ in range(count):
            await to_app.send({"type": "websocket.receive", "text": text, "bytes": None})
            reply = await from_app.receive()
            if reply.get("text") != text:
                raise RuntimeError(f"the echo was {reply!r}")


async def time_websocket(app: Any, state: dict, warmup: int, count: int) -> float:
    """Seconds for ``count`` echo round trips over one connection (after ``warmup``)."""
    async with WebsocketPeer(app, state).connected() as peer:
        await peer.round_trips(warmup)
        gc.collect()
        start = time.perf_counter()
        await peer.round_trips(count)
        return time.perf_counter() - start


# ---- the lifespan, as a server runs it ----------------------------------------------------


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[dict]:
    """Run the app's lifespan around the block and yield its state dict. An app that
    raises on the lifespan scope is served without one, as Hypercorn does."""
    state: dict = {}
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}
    to_app, app_inbox = trio.open_memory_channel[dict](math.inf)
    app_outbox, replies = trio.open_memory_channel[dict](math.inf)

    async def run() -> None:
        try:
            await app(scope, app_inbox.receive, app_outbox.send)
        except Exception as error:  # no lifespan support
            await app_outbox.send({"type": "lifespan.unsupported", "error": error})

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await to_app.send({"type": "lifespan.startup"})
        with trio.fail_after(10):
            reply = await replies.receive()
        if reply["type"] == "lifespan.startup.failed":
            raise RuntimeError(f"lifespan startup failed: {reply.get('message')}")
        try:
            yield state
        finally:
            if reply["type"] == "lifespan.startup.complete":
                with trio.CancelScope(shield=True), trio.move_on_after(10):
                    await to_app.send({"type": "lifespan.shutdown"})
                    await replies.receive()
            nursery.cancel_scope.cancel()


# ---- the run ------------------------------------------------------------------------------


@dataclass
class Settings:
    repetitions: int = 7
    requests: int = 2000
    warmup: int = 200
    ws_round_trips: int = 4000
    ws_warmup: int = 200

    @classmethod
    def quick(cls) -> Settings:
        return cls(repetitions=3, requests=300, warmup=50, ws_round_trips=600, ws_warmup=50)


async def measure(
    frameworks: list[str], endpoints: list[str], settings: Settings, progress: bool
) -> dict:
    apps = {name: get_app(name) for name in frameworks}
    results: dict[str, dict[str, dict]] = {}
    async with _all_serving(apps) as states:
        for key in endpoints:
            row: dict[str, dict] = {name: {"samples": [], "error": None} for name in frameworks}
            results[key] = row
            if key != WEBSOCKET:
                endpoint = ENDPOINTS[key]
                for name in frameworks:
                    try:
                        await check_endpoint(apps[name], endpoint, states[name])
                    except Exception as error:  # report it, carry on with the others
                        row[name]["error"] = f"{type(error).__name__}: {error}"
            for repetition in range(settings.repetitions):
                for name in frameworks:
                    cell = row[name]
                    if cell["error"] is not None:
                        continue
                    try:
                        cell["samples"].append(
                            await _one_sample(apps[name], key, states[name], settings)
                        )
                    except Exception as error:
                        cell["error"] = f"{type(error).__name__}: {error}"
                if progress:
                    print(
                        f"  {key}: repetition {repetition + 1}/{settings.repetitions}",
                        file=sys.stderr,
                        flush=True,
                    )
            for cell in row.values():
                cell.update(summarize(cell["samples"]))
    return results


async def _one_sample(app: Any, key: str, state: dict, settings: Settings) -> float:
    """µs per request (HTTP) or round trips per second (websocket) for one repetition."""
    if key == WEBSOCKET:
        seconds = await time_websocket(app, state, settings.ws_warmup, settings.ws_round_trips)
        return settings.ws_round_trips / seconds
    endpoint = ENDPOINTS[key]
    await time_requests(app, endpoint, state, settings.warmup)
    gc.collect()
    seconds = await time_requests(app, endpoint, state, settings.requests)
    return seconds / settings.requests * 1e6


@asynccontextmanager
async def _all_serving(apps: dict[str, Any]) -> AsyncIterator[dict[str, dict]]:
    async with AsyncExitStack() as stack:
        states = {}
        for name, app in apps.items():
            states[name] = await stack.enter_async_context(serving(app))
        yield states


def ratios(results: dict) -> dict[str, dict[str, float | None]]:
    """The ratios of medians the issue's targets are stated in."""

    def median(key: str, name: str) -> float | None:
        cell = results.get(key, {}).get(name)
        return cell["median"] if cell and cell.get("median") else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b is not None else None

    pairs = [("trioquart", "starlette"), ("trioquart", "bare"), ("quart-trio", "trioquart")]
    table: dict[str, dict[str, float | None]] = {}
    for key in results:
        table[key] = {f"{a}/{b}": ratio(median(key, a), median(key, b)) for a, b in pairs}
    return table


def report(results: dict, table: dict, frameworks: list[str], settings: Settings) -> str:
    lines = []
    lines.append(
        f"In-process (no sockets): median of {settings.repetitions} interleaved repetitions "
        f"[min-max]; HTTP: µs per request, {settings.requests} requests after "
        f"{settings.warmup} warm-up; websocket: round trips/s over one connection, "
        f"{settings.ws_round_trips} after {settings.ws_warmup} warm-up."
    )
    width = 22
    header = f"{'':24}" + "".join(f"{name:>{width}}" for name in frameworks)
    lines.append(header)
    for key, row in results.items():
        unit = "rt/s" if key == WEBSOCKET else "µs"
        cells = []
        for name in frameworks:
            cell = row[name]
            if cell["error"] is not None:
                cells.append(f"{'FAILED':>{width}}")
            elif key == WEBSOCKET:
                low, high = cell["min"] / 1000, cell["max"] / 1000
                text = f"{cell['median']:,.0f} [{low:.1f}k-{high:.1f}k]"
                cells.append(text.rjust(width))
            else:
                text = f"{cell['median']:.1f} [{cell['min']:.1f}-{cell['max']:.1f}]"
                cells.append(text.rjust(width))
        lines.append(f"{key + ' (' + unit + ')':24}" + "".join(cells))
    lines.append("")
    lines.append("Ratios of medians (targets from issue 5 in brackets):")
    names = ["trioquart/starlette", "trioquart/bare", "quart-trio/trioquart"]
    lines.append(f"{'':24}" + "".join(f"{n:>24}" for n in names))
    for key, row in table.items():
        if key == WEBSOCKET:
            targets = {"trioquart/starlette": "≥ 0.9"}
            label = WEBSOCKET + " (rt/s)"
        else:
            targets = {}
            if key in ("GET /", "GET /items/7?q=x"):
                targets = {"trioquart/starlette": "≤ 1.25", "quart-trio/trioquart": "≥ 8"}
            label = key + " (µs)"
        cells = [format_ratio(row[n], targets.get(n)).rjust(24) for n in names]
        lines.append(f"{label:24}" + "".join(cells))
    errors = [
        f"  {name} {key}: {cell['error']}"
        for key, row in results.items()
        for name, cell in row.items()
        if cell["error"] is not None
    ]
    if errors:
        lines.append("")
        lines.append("Failures:")
        lines.extend(errors)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"measure only these frameworks (repeat or comma-separate): {', '.join(KNOWN_APPS)}",
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        metavar="KEY",
        help=f"measure only these endpoints: {', '.join([*ENDPOINTS, WEBSOCKET])!s}",
    )
    parser.add_argument("--repetitions", type=int)
    parser.add_argument("--requests", type=int, help="requests per repetition")
    parser.add_argument("--warmup", type=int, help="warm-up requests before each repetition")
    parser.add_argument("--ws-round-trips", type=int, help="websocket round trips per repetition")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings()
    for option in ("repetitions", "requests", "warmup", "ws_round_trips"):
        if getattr(args, option) is not None:
            setattr(settings, option, getattr(args, option))
    frameworks = parse_names(args.only, KNOWN_APPS, "framework", FRAMEWORKS)
    endpoints = parse_names(args.endpoint, [*ENDPOINTS, WEBSOCKET], "endpoint")

    started = time.perf_counter()
    load = OtherLoad()
    note_start()
    results = trio.run(measure, frameworks, endpoints, settings, not args.quiet)
    table = ratios(results)
    other_load = load.share()
    print(environment(other_load=other_load))
    print(report(results, table, frameworks, settings))
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.json:
        document = {
            "benchmark": "inprocess",
            "environment": environment(as_dict=True, other_load=other_load),
            "settings": vars(settings),
            "units": {"http": "µs per request", WEBSOCKET: "round trips per second"},
            "results": results,
            "ratios": table,
        }
        Path(args.json).write_text(json.dumps(document, indent=2, ensure_ascii=False))
    failed = any(cell["error"] for row in results.values() for cell in row.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
