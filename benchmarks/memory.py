"""Memory per idle websocket: the server's RSS and tracemalloc growth with 1,000 open.

For each framework a server process (this script with ``--serve``, pinned to CPU 0) runs
Hypercorn's trio server in-process on 127.0.0.1 with the app, and answers ``measure`` on its
stdin with its RSS, the memory tracemalloc traces and its number of trio tasks. The client
is this process, a different one, so that only the server's side of each connection is
counted -- the client's sockets, trio-websocket objects and buffers would otherwise be
counted too, and would dwarf a framework's differences. The measurement:

1. warm-up: 20 connections each echo one message and close, so that lazily created state
   (first-request imports, caches, compiled routes) is not counted against the connections;
2. ``measure`` (after ``gc.collect()``): the baseline;
3. 1,000 connections are opened; each echoes one message (so its handler is running and has
   been through its receive path once), then stays open and idle;
4. ``measure`` again: growth / 1,000 is the cost of one idle websocket, Hypercorn's share
   included -- the bare ASGI app gives that floor, and ``- bare`` what the framework adds.

RSS and tracemalloc are measured in two separate server processes: tracemalloc keeps a
trace for every allocation, and that bookkeeping would inflate the RSS it runs beside. RSS
shows what the operating system sees (including allocator slack); tracemalloc shows the
Python objects alone, which is steadier.

    python benchmarks/memory.py                     # 1,000 connections, all four
    python benchmarks/memory.py --quick             # 200 connections
    python benchmarks/memory.py --only trioquart --connections 2000 --json memory.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from apps import FRAMEWORKS, KNOWN_APPS  # noqa: E402
from common import OtherLoad, environment, note_start, parse_names  # noqa: E402

WARMUP_CONNECTIONS = 20


def raise_fd_limit(wanted: int) -> int:
    """Raise the soft limit on open files toward ``wanted`` (within the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# ---- the server process ---------------------------------------------------------------------


def serve(name: str, trace: bool) -> None:
    import tracemalloc

    import trio
    from apps import get_app
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    raise_fd_limit(65536)
    app = get_app(name)
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.backlog = 1024
    config.keep_alive_timeout = 600
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    if trace:
        tracemalloc.start()

    def count_tasks() -> int:
        def walk(task: Any) -> int:
            return 1 + sum(
                walk(child) for nursery in task.child_nurseries for child in nursery.child_tasks
            )

        return walk(trio.lowlevel.current_root_task())

    async def main() -> None:
        stop = trio.Event()

        async def shutdown_trigger() -> None:
            await stop.wait()

        async with trio.open_nursery() as nursery:
            binds = await nursery.start(
                lambda task_status: hypercorn_serve(
                    app, config, shutdown_trigger=shutdown_trigger, task_status=task_status
                )
            )
            print(json.dumps({"ready": binds[0]}), flush=True)
            stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
            buffer = b""
            while not stop.is_set():
                chunk = await stdin.receive_some()
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    command = line.decode().strip()
                    if command == "measure":
                        await trio.sleep(0.2)  # let closes and handshakes settle
                        gc.collect()
                        gc.collect()
                        reply = {
                            "rss": rss_bytes(),
                            "traced": tracemalloc.get_traced_memory()[0] if trace else None,
                            "tasks": count_tasks(),
                        }
                        print(json.dumps(reply), flush=True)
                    elif command == "quit":
                        stop.set()
                        break
            stop.set()

    trio.run(main)


# ---- the client (this process) ----------------------------------------------------------------


async def measure_framework(name: str, connections: int, trace: bool, timeout: float) -> dict:
    import trio
    from trio_websocket import connect_websocket_url

    command = [sys.executable, str(Path(__file__).resolve()), "--serve", name]
    if trace:
        command.append("--trace")
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "0", *command]
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    buffer = b""

    async def read_line() -> dict:
        nonlocal buffer
        while b"\n" not in buffer:
            chunk = await process.stdout.receive_some()
            if not chunk:
                raise RuntimeError(f"the {name} server exited ({await process.wait()})")
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        return json.loads(line)

    async def ask_measure() -> dict:
        await process.stdin.send_all(b"measure\n")
        return await read_line()

    try:
        with trio.fail_after(timeout):
            ready = await read_line()
            url = ready["ready"].replace("http://", "ws://") + "/ws"
            opened = []
            closing = trio.Event()
            connect_limit = trio.CapacityLimiter(50)
            failures: list[str] = []

            async def hold(index: int, nursery: trio.Nursery, task_status: Any) -> None:
                async with connect_limit:
                    ws = await connect_websocket_url(nursery, url)
                message = f"hello from {index}"
                await ws.send_message(message)
                if await ws.get_message() != message:
                    failures.append(f"connection {index}: wrong echo")
                opened.append(ws)
                task_status.started()
                await closing.wait()
                await ws.aclose()

            # 1. Warm-up connections, closed again.
            async with trio.open_nursery() as nursery:
                for index in range(WARMUP_CONNECTIONS):
                    await nursery.start(hold, index, nursery)
                closing.set()
            closing = trio.Event()
            # 2. The baseline.
            before = await ask_measure()
            # 3. The idle connections (started in parallel, bounded by connect_limit).
            async with trio.open_nursery() as nursery:
                async with trio.open_nursery() as starters:
                    for index in range(connections):
                        starters.start_soon(nursery.start, hold, index, nursery)
                # 4. Every connection has echoed once and is idle now.
                after = await ask_measure()
                closing.set()
            await process.stdin.send_all(b"quit\n")
            with trio.move_on_after(10):
                await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if failures:
        raise RuntimeError(f"websocket echo failures: {failures[:3]}")
    result = {
        "connections": connections,
        "rss_per_connection": (after["rss"] - before["rss"]) / connections,
        "tasks_per_connection": (after["tasks"] - before["tasks"]) / connections,
        "rss_before": before["rss"],
        "rss_after": after["rss"],
    }
    if trace:
        result["traced_per_connection"] = (after["traced"] - before["traced"]) / connections
    return result


def measure(frameworks: list[str], connections: int, repetitions: int, progress: bool) -> dict:
    import trio

    results: dict[str, dict] = {
        name: {"rss": [], "traced": [], "tasks": [], "error": None} for name in frameworks
    }
    for repetition in range(repetitions):
        for trace in (False, True):
            for name in frameworks:
                cell = results[name]
                if cell["error"]:
                    continue
                if progress:
                    kind = "tracemalloc" if trace else "RSS"
                    print(
                        f"  repetition {repetition + 1}/{repetitions}: {name} ({kind})",
                        file=sys.stderr,
                        flush=True,
                    )
                try:
                    result = trio.run(measure_framework, name, connections, trace, 120.0)
                except Exception as error:  # report it, carry on with the others
                    cell["error"] = f"{type(error).__name__}: {error}"
                    continue
                if trace:
                    cell["traced"].append(result["traced_per_connection"])
                else:
                    cell["rss"].append(result["rss_per_connection"])
                    cell["tasks"].append(result["tasks_per_connection"])
    for cell in results.values():
        for key in ("rss", "traced", "tasks"):
            values = sorted(cell[key])
            cell[f"{key}_median"] = values[len(values) // 2] if values else None
    return results


def _kib(value: float | None) -> str:
    return f"{value / 1024:.1f} KiB" if value is not None else "-"


def _minus(cell: dict, bare: dict, key: str, is_bare: bool) -> str:
    """How many KiB more than the bare app's, or empty."""
    base, value = bare.get(key), cell.get(key)
    if is_bare or base is None or value is None:
        return ""
    return f"{(value - base) / 1024:+.1f}"


def report(results: dict, connections: int, repetitions: int) -> str:
    lines = [
        f"Server memory per idle websocket, {connections} connections open (Hypercorn trio "
        f"server in-process, client in another process; median of {repetitions}).",
        f"{'':14}{'RSS/conn':>12}{'- bare':>10}{'traced/conn':>14}{'- bare':>10}{'tasks/conn':>12}",
    ]
    bare = results.get("bare", {})
    for name, cell in results.items():
        if cell["error"]:
            lines.append(f"{name:14}FAILED: {cell['error']}")
            continue

        lines.append(
            f"{name:14}{_kib(cell['rss_median']):>12}"
            f"{_minus(cell, bare, 'rss_median', name == 'bare'):>10}"
            f"{_kib(cell['traced_median']):>14}"
            f"{_minus(cell, bare, 'traced_median', name == 'bare'):>10}"
            f"{cell['tasks_median'] if cell['tasks_median'] is not None else '-':>12}"
        )
    trioquart, starlette = results.get("trioquart", {}), results.get("starlette", {})
    for key, label in (("rss_median", "RSS"), ("traced_median", "traced")):
        if trioquart.get(key) and starlette.get(key):
            ratio = trioquart[key] / starlette[key]
            lines.append(f"trioquart/starlette {label}: {ratio:.2f}× (target ≤ 1.00)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 connections")
    parser.add_argument("--only", action="append", metavar="NAME", help="frameworks to measure")
    parser.add_argument("--connections", type=int, help="idle websockets to open (1000)")
    parser.add_argument("--repetitions", type=int, default=1)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--serve", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        serve(args.serve, args.trace)
        return 0

    connections = args.connections or (200 if args.quick else 1000)
    limit = raise_fd_limit(connections + 256)
    if limit < connections + 64:
        raise SystemExit(f"the open-file limit is {limit}: too low for {connections} sockets")
    frameworks = parse_names(args.only, KNOWN_APPS, "framework", FRAMEWORKS)
    started = time.perf_counter()
    load = OtherLoad()
    note_start()
    results = measure(frameworks, connections, args.repetitions, not args.quiet)
    other_load = load.share()
    print(environment(other_load=other_load))
    print(report(results, connections, args.repetitions))
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        document = {
            "benchmark": "memory",
            "environment": environment(as_dict=True, other_load=other_load),
            "settings": {"connections": connections, "repetitions": args.repetitions},
            "units": "bytes per idle websocket connection",
            "results": results,
        }
        Path(args.json).write_text(json.dumps(document, indent=2))
    return 1 if any(cell["error"] for cell in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
