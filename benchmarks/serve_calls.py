"""Python calls per request in each serve loop: Hypercorn's ``serve`` and trioquart's.

Served rates move by a few per cent between runs, more than the two serve loops differ;
the number of Python function calls each makes per request is steady. This serves the
trioquart benchmark app in this process with each loop in turn, sends ``--requests``
keep-alive ``GET /`` from a client process (after a warm-up), counts the calls with
cProfile while they are served, and prints calls per request and the functions one loop
calls that the other does not::

    python benchmarks/serve_calls.py                # 500 requests
    python benchmarks/serve_calls.py --requests 2000 --json calls.json
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import trio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from apps import get_app  # noqa: E402

CLIENT = """
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
    for _ in range(count):
        sock.sendall(b"GET / HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n")
        received = b""
        while not received.endswith(b"Hello, World!"):
            received += sock.recv(65536)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load(port: int, count: int) -> None:
    subprocess.run([sys.executable, "-c", CLIENT, str(port), str(count)], check=True, timeout=120)


async def count_calls(server: str, requests: int) -> dict[str, float]:
    """Calls per request, by function, while ``server``'s loop serves ``requests``."""
    app = get_app("trioquart")
    if server == "hypercorn":
        from hypercorn.config import Config
        from hypercorn.trio import serve as hypercorn_serve

        config = Config()
        serve = partial(hypercorn_serve, mode="asgi")
    else:
        from trioquart.serving import ServerConfig
        from trioquart.serving import serve as trioquart_serve

        config = ServerConfig()
        serve = trioquart_serve
    port = free_port()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    stop = trio.Event()
    profile = cProfile.Profile()
    with trio.fail_after(300):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
            await trio.to_thread.run_sync(load, port, 50)  # warm-up, not counted
            profile.enable()
            await trio.to_thread.run_sync(load, port, requests)
            profile.disable()
            stop.set()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    return {
        f"{Path(file).name}:{line} {name}": calls / requests
        for (file, line, name), (calls, *_rest) in stats.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args()
    counts = {
        server: trio.run(count_calls, server, args.requests)
        for server in ("hypercorn", "trioquart")
    }
    totals = {server: sum(calls.values()) for server, calls in counts.items()}
    print(f"Python calls per keep-alive GET / ({args.requests} requests, cProfile):")
    for server, total in totals.items():
        print(f"  {server:10} {total:8.1f}")
    print(f"  trioquart/hypercorn {totals['trioquart'] / totals['hypercorn']:.3f}x")
    for server, other in (("trioquart", "hypercorn"), ("hypercorn", "trioquart")):
        only = sorted(set(counts[server]) - set(counts[other]))
        print(f"Only in {server}'s loop:")
        for function in only:
            print(f"  {counts[server][function]:6.2f}  {function}")
    if args.json:
        Path(args.json).write_text(json.dumps({"totals": totals, "requests": args.requests}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
