"""Instructions per request, counted by ``valgrind --tool=callgrind``: deterministic, so a
change of a few percent shows up where timings would drown it in noise.

For each framework, a child process serves the app in-process (as ``inprocess.py`` does),
makes a warm-up of requests, then N counted requests, under callgrind; a second run makes
the same warm-up and 0 requests. The difference of the two totals divided by N is the cost
of one request: interpreter start-up, imports, the app's construction, the lifespan and the
warm-up cancel out. ``PYTHONHASHSEED`` is fixed so the two runs execute the same code.

    python benchmarks/callgrind.py                       # GET / for all four, 500 requests
    python benchmarks/callgrind.py --only trioquart --requests 2000 --endpoint "GET /json"
    python benchmarks/callgrind.py --keep /tmp/cg        # keep callgrind.out files to inspect
                                                         # with callgrind_annotate / kcachegrind
    python benchmarks/callgrind.py --only starlette,trioquart --simulate
    python benchmarks/callgrind.py --endpoint "served GET /"

A ``served`` endpoint counts the whole server's work instead: the app is served in the
child by trioquart's serve loop (the one ``trioquart run`` uses, with Hypercorn's HTTP/1.1
protocol code), and a client process that valgrind does not trace sends keep-alive
requests over one connection. The difference per request then holds the protocol, trio's
socket I/O and scheduling, and the app: the served cost of one request, without the noise
of a served rate, which on a shared virtual machine moves by 10 % or more between server
starts. (Time in the kernel is not counted, and is the same for every framework.)

``--simulate`` turns on callgrind's cache and branch-predictor simulation (a run takes
about twice as long) and reports, per request, the level-1 instruction and data cache
misses and the mispredicted conditional and indirect branches beside the instructions.
Instruction counts alone understate what a wider code path costs: a request that runs
through more distinct code misses the caches and the branch predictor more often, so its
time grows faster than its instruction count. The simulation shows by how much.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from apps import FRAMEWORKS, KNOWN_APPS  # noqa: E402
from common import OtherLoad, environment, note_start, parse_names  # noqa: E402

if TYPE_CHECKING:
    from inprocess import Endpoint

ENDPOINT_KEYS = ("GET /", "GET /json", "GET /items/7?q=x", "POST /json", "websocket echo")
SERVED = "served "
SERVED_KEYS = tuple(SERVED + key for key in ENDPOINT_KEYS if key != "websocket echo")

#: The client of a served count: ``count`` requests over one keep-alive connection, each
#: read to the end of its body; it fails on anything but a complete 200.
CLIENT = """
import socket, sys
port, request, count = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), int(sys.argv[3])
with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
    pending = b""
    def more():
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("the server closed the connection")
        return chunk
    for _ in range(count):
        sock.sendall(request)
        while b"\\r\\n\\r\\n" not in pending:
            pending += more()
        head, _, pending = pending.partition(b"\\r\\n\\r\\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            sys.exit(f"unexpected response: {head[:200]!r}")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.lower().split(b"\\r\\n")
            if line.startswith(b"content-length:")
        )
        while len(pending) < length:
            pending += more()
        pending = pending[length:]
"""


def request_bytes(endpoint: Endpoint) -> bytes:
    """The HTTP/1.1 request for one of ``inprocess.ENDPOINTS``."""
    target = endpoint.path + (f"?{endpoint.query.decode()}" if endpoint.query else "")
    lines = [f"{endpoint.method} {target} HTTP/1.1", "Host: bench"]
    if endpoint.content_type:
        lines.append(f"Content-Type: {endpoint.content_type.decode()}")
    if endpoint.body:
        lines.append(f"Content-Length: {len(endpoint.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + endpoint.body


def served_child(name: str, endpoint_key: str, warmup: int, requests: int) -> None:
    """Serve ``name`` with trioquart's serve loop on a free port while a client process
    makes ``warmup`` + ``requests`` keep-alive requests, then shut the server down."""
    import socket
    from functools import partial

    import trio
    from apps import get_app
    from inprocess import ENDPOINTS

    from trioquart.serving import ServerConfig, serve

    app = get_app(name)
    request = request_bytes(ENDPOINTS[endpoint_key.removeprefix(SERVED)])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ServerConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None

    async def run() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(serve, app, config, shutdown_trigger=stop.wait))
            command = [
                sys.executable,
                "-c",
                CLIENT,
                str(port),
                request.hex(),
                str(warmup + requests),
            ]
            with trio.fail_after(600):
                await trio.run_process(command)
            stop.set()

    trio.run(run)


def child(name: str, endpoint_key: str, warmup: int, requests: int) -> None:
    """Serve ``name`` in-process and make ``warmup`` + ``requests`` requests (no timing);
    for the websocket echo, that many round trips over one connection."""
    import trio
    from apps import get_app
    from inprocess import ENDPOINTS, WEBSOCKET, WebsocketPeer, serving, time_requests

    if endpoint_key.startswith(SERVED):
        served_child(name, endpoint_key, warmup, requests)
        return
    app = get_app(name)

    async def run() -> None:
        async with serving(app) as state:
            if endpoint_key == WEBSOCKET:
                async with WebsocketPeer(app, state).connected() as peer:
                    await peer.round_trips(warmup)
                    if requests:
                        await peer.round_trips(requests)
                return
            endpoint = ENDPOINTS[endpoint_key]
            await time_requests(app, endpoint, state, warmup)
            if requests:
                await time_requests(app, endpoint, state, requests)

    trio.run(run)


#: valgrind's options for ``--simulate``.
SIMULATE = ["--cache-sim=yes", "--branch-sim=yes"]

#: What ``--simulate`` reports per request: a name and the callgrind events it adds up.
SIMULATED = {
    "I1 misses": ("I1mr",),
    "D1 misses": ("D1mr", "D1mw"),
    "mispredicted conditional branches": ("Bcm",),
    "mispredicted indirect branches": ("Bim",),
}


def _totals(path: Path) -> dict[str, int]:
    """The total of each event (Ir, and with ``--simulate`` the cache and branch events)
    in a callgrind output file."""
    text = path.read_text(errors="replace")
    events = re.search(r"^events:\s*(.+)$", text, re.MULTILINE)
    totals = re.search(r"^(?:summary|totals):\s*([\d ]+)$", text, re.MULTILINE)
    if events is None or totals is None:
        raise RuntimeError(f"no totals in {path}")
    return dict(zip(events.group(1).split(), map(int, totals.group(1).split()), strict=False))


def count(
    name: str,
    endpoint_key: str,
    warmup: int,
    requests: int,
    out_dir: Path,
    timeout: float,
    simulate: bool = False,
) -> dict[str, int]:
    """The event totals of one valgrind run of ``child``."""
    out_file = out_dir / f"callgrind.{name}.{requests}.{_slug(endpoint_key)}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        *(SIMULATE if simulate else []),
        f"--callgrind-out-file={out_file}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--endpoint",
        endpoint_key,
        "--warmup",
        str(warmup),
        "--requests",
        str(requests),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if completed.returncode != 0:
        raise RuntimeError(
            f"valgrind run failed ({completed.returncode}):\n{completed.stderr[-2000:]}"
        )
    return _totals(out_file)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "root"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="frameworks to count")
    parser.add_argument(
        "--endpoint",
        action="append",
        metavar="KEY",
        help=f"endpoints (default GET /): {', '.join(ENDPOINT_KEYS + SERVED_KEYS)}",
    )
    parser.add_argument("--requests", type=int, default=500, help="counted requests")
    parser.add_argument("--warmup", type=int, default=50, help="uncounted warm-up requests")
    parser.add_argument("--quick", action="store_true", help="100 counted requests")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per valgrind run")
    parser.add_argument("--keep", metavar="DIR", help="keep the callgrind.out files here")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="also simulate the caches and branch predictor: misses per request",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--child", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child(args.child, (args.endpoint or ["GET /"])[0], args.warmup, args.requests)
        return 0

    if shutil.which("valgrind") is None:
        print("valgrind is not installed: skipping the instruction counts.", file=sys.stderr)
        return 0
    requests = 100 if args.quick and args.requests == 500 else args.requests
    frameworks = parse_names(args.only, KNOWN_APPS, "framework", FRAMEWORKS)
    endpoints = parse_names(args.endpoint or ["GET /"], ENDPOINT_KEYS + SERVED_KEYS, "endpoint")

    started = time.perf_counter()
    load = OtherLoad()
    note_start()
    out_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="callgrind-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, dict]] = {}
    try:
        for endpoint_key in endpoints:
            results[endpoint_key] = {}
            for name in frameworks:
                # Run once without valgrind, so that both counted runs find the same
                # compiled bytecode caches and import the same way.
                child_env = {**os.environ, "PYTHONHASHSEED": "0"}
                subprocess.run(
                    [sys.executable, __file__, "--child", name, "--endpoint", endpoint_key]
                    + ["--warmup", "1", "--requests", "0"],
                    check=True,
                    timeout=120,
                    env=child_env,
                    capture_output=True,
                )
                options = {"timeout": args.timeout, "simulate": args.simulate}
                try:
                    base = count(name, endpoint_key, args.warmup, 0, out_dir, **options)
                    total = count(name, endpoint_key, args.warmup, requests, out_dir, **options)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    results[endpoint_key][name] = {"error": str(error)}
                    print(f"{endpoint_key:18} {name:12} FAILED: {error}", flush=True)
                    continue
                per_request = (total["Ir"] - base["Ir"]) / requests
                cell: dict[str, object] = {
                    "instructions_per_request": per_request,
                    "baseline_total": base["Ir"],
                    "total": total["Ir"],
                    "requests": requests,
                }
                print(
                    f"{endpoint_key:18} {name:12} {per_request / 1000:9.1f} k instructions "
                    f"per request  (baseline run {base['Ir'] / 1e6:,.0f} M)",
                    flush=True,
                )
                if args.simulate:
                    simulated = {
                        label: sum(total[event] - base[event] for event in events) / requests
                        for label, events in SIMULATED.items()
                    }
                    cell["simulated_per_request"] = simulated
                    print(
                        f"{'':31}"
                        + ", ".join(f"{label} {value:,.0f}" for label, value in simulated.items()),
                        flush=True,
                    )
                results[endpoint_key][name] = cell
    finally:
        if not args.keep:
            shutil.rmtree(out_dir, ignore_errors=True)

    other_load = load.share()
    print(environment(other_load=other_load))
    print(
        f"Instructions per request (callgrind, {requests} requests after {args.warmup} "
        "warm-up, minus a run with 0 requests):"
    )
    for endpoint_key, row in results.items():
        cells = []
        for name in frameworks:
            cell = row.get(name, {})
            value = cell.get("instructions_per_request")
            cells.append(f"{name} {value / 1000:,.1f} k" if value is not None else f"{name} FAILED")
        print(f"  {endpoint_key:18} " + " | ".join(cells))
        tq, st = row.get("trioquart", {}), row.get("starlette", {})
        if "instructions_per_request" in tq and "instructions_per_request" in st:
            ratio = tq["instructions_per_request"] / st["instructions_per_request"]
            print(f"  {'':18} trioquart/starlette {ratio:.2f}×")
            if "simulated_per_request" in tq and "simulated_per_request" in st:
                ratios = [
                    f"{label} {value / st['simulated_per_request'][label]:.2f}×"
                    for label, value in tq["simulated_per_request"].items()
                ]
                print(f"  {'':18} {', '.join(ratios)}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        document = {
            "benchmark": "callgrind",
            "environment": environment(as_dict=True, other_load=other_load),
            "settings": {"requests": requests, "warmup": args.warmup, "simulate": args.simulate},
            "results": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=2))
    failed = any("error" in cell for row in results.values() for cell in row.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
