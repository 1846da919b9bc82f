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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from apps import FRAMEWORKS, KNOWN_APPS  # noqa: E402
from common import OtherLoad, environment, note_start, parse_names  # noqa: E402

ENDPOINT_KEYS = ("GET /", "GET /json", "GET /items/7?q=x", "POST /json", "websocket echo")


def child(name: str, endpoint_key: str, warmup: int, requests: int) -> None:
    """Serve ``name`` in-process and make ``warmup`` + ``requests`` requests (no timing);
    for the websocket echo, that many round trips over one connection."""
    import trio
    from apps import get_app
    from inprocess import ENDPOINTS, WEBSOCKET, WebsocketPeer, serving, time_requests

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


def _total_instructions(path: Path) -> int:
    """The total of the first event (Ir) in a callgrind output file."""
    text = path.read_text(errors="replace")
    match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no totals in {path}")
    return int(match.group(1))


def count(
    name: str, endpoint_key: str, warmup: int, requests: int, out_dir: Path, timeout: float
) -> int:
    out_file = out_dir / f"callgrind.{name}.{requests}.{_slug(endpoint_key)}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
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
    return _total_instructions(out_file)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "root"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="frameworks to count")
    parser.add_argument(
        "--endpoint",
        action="append",
        metavar="KEY",
        help=f"endpoints (default GET /): {', '.join(ENDPOINT_KEYS)}",
    )
    parser.add_argument("--requests", type=int, default=500, help="counted requests")
    parser.add_argument("--warmup", type=int, default=50, help="uncounted warm-up requests")
    parser.add_argument("--quick", action="store_true", help="100 counted requests")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per valgrind run")
    parser.add_argument("--keep", metavar="DIR", help="keep the callgrind.out files here")
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
    endpoints = parse_names(args.endpoint or ["GET /"], ENDPOINT_KEYS, "endpoint")

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
                try:
                    base = count(name, endpoint_key, args.warmup, 0, out_dir, args.timeout)
                    total = count(name, endpoint_key, args.warmup, requests, out_dir, args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    results[endpoint_key][name] = {"error": str(error)}
                    print(f"{endpoint_key:18} {name:12} FAILED: {error}", flush=True)
                    continue
                per_request = (total - base) / requests
                results[endpoint_key][name] = {
                    "instructions_per_request": per_request,
                    "baseline_total": base,
                    "total": total,
                    "requests": requests,
                }
                print(
                    f"{endpoint_key:18} {name:12} {per_request / 1000:9.1f} k instructions "
                    f"per request  (baseline run {base / 1e6:,.0f} M)",
                    flush=True,
                )
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
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        document = {
            "benchmark": "callgrind",
            "environment": environment(as_dict=True, other_load=other_load),
            "settings": {"requests": requests, "warmup": args.warmup},
            "results": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=2))
    failed = any("error" in cell for row in results.values() for cell in row.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
