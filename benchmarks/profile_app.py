"""Profile the in-process request path of one framework with pyinstrument.

Serves the app in-process exactly as ``inprocess.py`` does, makes a warm-up, then profiles
a batch of requests (or websocket round trips) and prints the call tree -- where the time
per request goes, for deciding what to cut.

    python benchmarks/profile_app.py                                   # trioquart, GET /
    python benchmarks/profile_app.py --framework starlette --endpoint "GET /items/7?q=x"
    python benchmarks/profile_app.py --endpoint "websocket echo" --html /tmp/ws.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps import KNOWN_APPS, get_app  # noqa: E402
from inprocess import ENDPOINTS, WEBSOCKET, WebsocketPeer, serving, time_requests  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--framework", default="trioquart", choices=KNOWN_APPS)
    parser.add_argument("--endpoint", default="GET /", choices=[*ENDPOINTS, WEBSOCKET])
    parser.add_argument("--requests", type=int, default=5000, help="profiled requests")
    parser.add_argument("--interval", type=float, default=0.0001, help="sampling interval, s")
    parser.add_argument("--html", metavar="PATH", help="write pyinstrument's HTML view here")
    args = parser.parse_args(argv)

    from pyinstrument import Profiler

    app = get_app(args.framework)
    profiler = Profiler(interval=args.interval, async_mode="disabled")

    async def run() -> None:
        async with serving(app) as state:
            if args.endpoint == WEBSOCKET:
                async with WebsocketPeer(app, state).connected() as peer:
                    await peer.round_trips(200)
                    profiler.start()
                    await peer.round_trips(args.requests)
                    profiler.stop()
            else:
                endpoint = ENDPOINTS[args.endpoint]
                await time_requests(app, endpoint, state, 200)
                profiler.start()
                await time_requests(app, endpoint, state, args.requests)
                profiler.stop()

    trio.run(run)
    print(f"{args.framework}, {args.endpoint}, {args.requests} requests:")
    print(profiler.output_text(unicode=True, color=False))
    if args.html:
        Path(args.html).write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    sys.exit(main())
