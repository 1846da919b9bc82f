"""Through a real server on 127.0.0.1, loaded from outside: ``hypercorn -k trio -w 1`` and
``trioquart run`` (trioquart's own serve loop on Hypercorn's protocol layer), side by side.

For each framework in turn, and for each server in turn within it (interleaved over
repetitions, a fresh server each time: bare on hypercorn, bare on trioquart run, starlette
on hypercorn, ...) this starts the server in a subprocess on a free port, pinned to CPU 0
when ``taskset`` exists, and then, from CPU 1:

* ``wrk -t1 -c32`` against ``/`` and ``/items/7?q=x`` (after a short warm-up run);
* a websocket echo load: a separate client process (trio-websocket) opens many connections
  to ``/ws`` and each makes a bounded number of round trips, all inside ``trio.fail_after``.

It reports, per server, requests/s and round trips/s (median of the repetitions, min-max)
with the ratio to the bare ASGI app, and the server's CPU time per request (user + system
time of the server's processes during the load, divided by the requests served): with two
cores the load generator competes for the machine too, and CPU per request is the cost that
stays meaningful when the server is not the only bottleneck. With both servers it then sets
``trioquart run`` against ``hypercorn -k trio`` for each app and endpoint (issue 10: at
least 0.95x on each, in rate and in CPU per request).

Neither server writes an access log (``trioquart run --no-access-log``; Hypercorn's is off
unless asked for), so the figures measure the serving loop, as earlier runs did.
``--access-log`` turns it on for both (``--access-logfile -`` for Hypercorn).

Everything listens on 127.0.0.1 only; every server has a bounded lifetime (``timeout``) and
is stopped by its process group when its turn ends.

    python benchmarks/server.py                    # 3 repetitions, wrk -d5s, both servers
    python benchmarks/server.py --quick            # 1 repetition, wrk -d2s
    python benchmarks/server.py --only trioquart,bare --duration 10 --json server.json
    python benchmarks/server.py --servers hypercorn                 # Hypercorn alone, as before
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from apps import FRAMEWORKS, KNOWN_APPS, hypercorn_target, trioquart_run_target  # noqa: E402
from common import (  # noqa: E402
    OtherLoad,
    environment,
    format_ratio,
    note_start,
    parse_names,
    stop_process,
    summarize,
)

HTTP_PATHS = {
    "/": lambda body: body == b"Hello, World!",
    "/items/7?q=x": lambda body: json.loads(body) == {"id": 7, "q": "x"},
}
WEBSOCKET = "websocket echo"
SERVER_LIFETIME = 300  # seconds: the most one server may live, whatever happens here
#: The servers ``--servers`` may name, in the order each app is served by them.
SERVERS = ("hypercorn", "trioquart")
#: How each server is named in the report.
SERVER_LABELS = {"hypercorn": "hypercorn -k trio -w 1", "trioquart": "trioquart run"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Settings:
    repetitions: int = 3
    duration: float = 5.0
    warmup: float = 1.0
    connections: int = 32
    ws_connections: int = 50
    ws_rounds: int = 400
    #: Both servers write an access log line per request (off by default).
    access_log: bool = False

    @classmethod
    def quick(cls) -> Settings:
        return cls(repetitions=1, duration=2.0, warmup=0.5, ws_rounds=100)


# ---- CPU pinning --------------------------------------------------------------------------


def _pin(cpu: int) -> list[str]:
    """A ``taskset`` prefix for ``cpu``, if there is a second CPU and taskset exists."""
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(cpu)]


SERVER_CPU, CLIENT_CPU = 0, 1


# ---- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_target(kind: str, name: str) -> str:
    """How the server ``kind`` names the app ``name``: trioquart run takes no call
    expression, so it loads an attribute of ``benchmarks/served.py``."""
    return hypercorn_target(name) if kind == "hypercorn" else trioquart_run_target(name)


def server_command(kind: str, target: str, port: int | str, access_log: bool) -> list[str]:
    """The arguments to Python that serve ``target`` on 127.0.0.1:``port`` with one worker,
    from the repository root.

    ``hypercorn -w 1`` runs a supervisor and one worker process; ``trioquart run`` with one
    worker serves in its own process (both count: the CPU time is the process group's).
    With ``access_log`` both log every request to stdout."""
    if kind == "hypercorn":
        logging = ["--access-logfile", "-"] if access_log else []
        return [
            *("-m", "hypercorn", "-k", "trio", "-w", "1", *logging),
            *("-b", f"127.0.0.1:{port}", target),
        ]
    if kind == "trioquart":
        return [
            *("-m", "trioquart.cli", "run", target),
            *("--host", "127.0.0.1", "--port", str(port)),
            "--access-log" if access_log else "--no-access-log",
        ]
    raise ValueError(f"unknown server {kind!r}")


class Server:
    """One server (``kind``, one of :data:`SERVERS`) serving one app, in a subprocess with a
    process group of its own."""

    def __init__(self, kind: str, name: str, log_dir: Path, access_log: bool = False) -> None:
        self.kind = kind
        self.name = name
        self.access_log = access_log
        self.port = free_port()
        self.log_path = log_dir / f"{kind}-{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        command = [
            *_pin(SERVER_CPU),
            "timeout",
            "--kill-after=5",
            str(SERVER_LIFETIME),
            sys.executable,
            *server_command(
                self.kind, server_target(self.kind, self.name), self.port, self.access_log
            ),
        ]
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited early:\n{self.log_path.read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not listen within {timeout} s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, group=True)

    def cpu_seconds(self) -> float:
        """User + system CPU time of every process in the server's process group."""
        assert self.process is not None
        group = self.process.pid
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the command name: state ppid pgrp ... utime (12th) stime (13th).
            if int(fields[2]) == group:
                total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK


@contextmanager
def running(kind: str, name: str, log_dir: Path, access_log: bool = False) -> Iterator[Server]:
    server = Server(kind, name, log_dir, access_log)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def check_http(server: Server, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200 or not HTTP_PATHS[path](body):
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")


# ---- wrk ----------------------------------------------------------------------------------


def run_wrk(url: str, connections: int, duration: float) -> dict:
    seconds = max(1, round(duration))
    command = [
        *_pin(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        url,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    output = completed.stdout
    rate = re.search(r"Requests/sec:\s*([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if completed.returncode != 0 or rate is None or total is None:
        raise RuntimeError(f"wrk failed: {completed.stdout}{completed.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rate": float(rate.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


# ---- the websocket load (a client process of its own) ------------------------------------


def websocket_client(url: str, connections: int, rounds: int, timeout: float) -> dict:
    """Open ``connections`` websockets, then make ``rounds`` echo round trips on each, all
    at once; return the round trips per second of the echo phase (connecting excluded).

    It talks to the parent over stdin/stdout around the echo phase, so that the parent can
    read the server's CPU time exactly over it: it prints ``connected`` and waits for a line,
    echoes, prints ``done`` and waits for a line, then closes and prints the JSON result."""
    import trio
    from trio_websocket import connect_websocket_url

    result: dict = {}

    async def handshake_with_parent(word: str) -> None:
        print(word, flush=True)
        await trio.to_thread.run_sync(sys.stdin.readline)

    async def main() -> None:
        ready = trio.Semaphore(0)
        go, done, close = trio.Event(), trio.Event(), trio.Event()
        failures: list[str] = []
        finished = 0
        # Not more connects in flight than the server's listen backlog takes.
        connect_limit = trio.CapacityLimiter(50)

        async def one(index: int, nursery: trio.Nursery) -> None:
            nonlocal finished
            async with connect_limit:
                ws = await connect_websocket_url(nursery, url)
            try:
                ready.release()
                await go.wait()
                message = f"message from connection {index}"
                for _ in range(rounds):
                    await ws.send_message(message)
                    if await ws.get_message() != message:
                        failures.append(f"connection {index}: wrong echo")
                        break
            finally:
                finished += 1
                if finished == connections:
                    done.set()
                await close.wait()  # close only once every connection is through
                await ws.aclose()

        with trio.fail_after(timeout):
            async with trio.open_nursery() as nursery:
                for index in range(connections):
                    nursery.start_soon(one, index, nursery)
                for _ in range(connections):
                    await ready.acquire()
                await handshake_with_parent("connected")
                started = time.perf_counter()
                cpu_started = time.process_time()
                go.set()
                await done.wait()
                elapsed = time.perf_counter() - started
                result["client_cpu_seconds"] = time.process_time() - cpu_started
                await handshake_with_parent("done")
                close.set()
        result.update(
            rate=connections * rounds / elapsed,
            round_trips=connections * rounds,
            seconds=elapsed,
            failures=failures,
        )

    trio.run(main)
    return result


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError("the websocket client did not answer in time or exited")
    return line.strip()


def run_websocket_load(server: Server, connections: int, rounds: int) -> dict:
    """Run the websocket client against ``server``; adds ``server_cpu_seconds``: the server's
    CPU time over the echo phase alone."""
    command = [
        *_pin(CLIENT_CPU),
        sys.executable,
        str(Path(__file__).resolve()),
        "--ws-client",
        f"ws://127.0.0.1:{server.port}/ws",
        "--ws-connections",
        str(connections),
        "--ws-rounds",
        str(rounds),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stdin is not None
    try:
        if _read_line(process, 60) != "connected":
            raise RuntimeError("unexpected output from the websocket client")
        cpu_before = server.cpu_seconds()
        process.stdin.write("go\n")
        process.stdin.flush()
        if _read_line(process, 120) != "done":
            raise RuntimeError("unexpected output from the websocket client")
        cpu = server.cpu_seconds() - cpu_before
        process.stdin.write("close\n")
        process.stdin.flush()
        output, errors = process.communicate(timeout=60)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        process.kill()
        _, errors = process.communicate()
        raise RuntimeError(f"websocket client failed: {error}\n{errors[-2000:]}") from None
    if process.returncode != 0:
        raise RuntimeError(f"websocket client failed:\n{errors[-2000:]}")
    result = json.loads(output)
    if result["failures"]:
        raise RuntimeError(f"websocket echo failures: {result['failures'][:3]}")
    result["server_cpu_seconds"] = cpu
    return result


# ---- the run ------------------------------------------------------------------------------


def measure_one_server(kind: str, name: str, settings: Settings, log_dir: Path, row: dict) -> None:
    """One turn of one framework on one server: a fresh server, the HTTP loads, the
    websocket load; the samples go into ``row`` (that server's results)."""
    with running(kind, name, log_dir, settings.access_log) as server:
        for path in HTTP_PATHS:
            if path not in row:
                continue
            cell = row[path][name]
            if cell["error"]:
                continue
            try:
                check_http(server, path)
                run_wrk(server.base_url + path, settings.connections, settings.warmup)
                cpu_before = server.cpu_seconds()
                load = run_wrk(server.base_url + path, settings.connections, settings.duration)
                cpu = server.cpu_seconds() - cpu_before
            except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
                cell["error"] = str(error)
                continue
            if load["non_2xx"] or load["socket_errors"]:
                cell["error"] = (
                    f"{load['non_2xx']} non-2xx responses, {load['socket_errors']} socket errors"
                )
                continue
            cell["samples"].append(load["rate"])
            cell["cpu_us"].append(cpu / load["requests"] * 1e6)
        if WEBSOCKET not in row:
            return
        cell = row[WEBSOCKET][name]
        if cell["error"]:
            return
        try:
            run_websocket_load(server, 10, 20)  # warm-up
            load = run_websocket_load(server, settings.ws_connections, settings.ws_rounds)
            cpu = load["server_cpu_seconds"]
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
            cell["error"] = str(error)
            return
        cell["samples"].append(load["rate"])
        cell["cpu_us"].append(cpu / load["round_trips"] * 1e6)
        cell.setdefault("client_cpu_share", []).append(load["client_cpu_seconds"] / load["seconds"])


def measure(
    frameworks: list[str],
    servers: list[str],
    settings: Settings,
    parts: set[str],
    progress: bool,
) -> dict:
    """``{server: {endpoint: {framework: cell}}}``. Within each repetition every framework
    is served by each server in turn, so that both servers of one app are measured as close
    together in time as possible."""
    keys = [key for key in HTTP_PATHS if "http" in parts]
    if "websocket" in parts:
        keys.append(WEBSOCKET)
    results = {
        kind: {
            key: {name: {"samples": [], "cpu_us": [], "error": None} for name in frameworks}
            for key in keys
        }
        for kind in servers
    }
    with tempfile.TemporaryDirectory(prefix="bench-server-") as log_dir:
        for repetition in range(settings.repetitions):
            for name in frameworks:
                for kind in servers:
                    if progress:
                        print(
                            f"  repetition {repetition + 1}/{settings.repetitions}: {name} on "
                            f"{SERVER_LABELS[kind]}",
                            file=sys.stderr,
                            flush=True,
                        )
                    row = results[kind]
                    try:
                        measure_one_server(kind, name, settings, Path(log_dir), row)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                        for key in keys:
                            row[key][name]["error"] = row[key][name]["error"] or str(error)
    for row in results.values():
        for cells in row.values():
            for cell in cells.values():
                cell.update(summarize(cell["samples"]))
                cell["cpu_us_median"] = summarize(cell["cpu_us"])["median"]
    return results


def ratios(results: dict, field: str = "median") -> dict:
    """Each framework's ``field`` (the median rate, or ``cpu_us_median``) over the bare
    app's, per endpoint, for one server's results."""
    table = {}
    for key, cells in results.items():
        bare = cells.get("bare", {}).get(field)
        table[key] = {
            f"{name}/bare": (cell[field] / bare if bare and cell.get(field) else None)
            for name, cell in cells.items()
            if name != "bare"
        }
    return table


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator and denominator else None


def _paired(numerators: list[float], denominators: list[float]) -> list[float]:
    """Ratios of samples taken in the same repetition (one after the other), when both
    servers have one for every repetition; otherwise none."""
    if len(numerators) != len(denominators):
        return []
    return [a / b for a, b in zip(numerators, denominators, strict=True) if a and b]


def server_ratios(results: dict) -> dict:
    """``trioquart run`` against ``hypercorn -k trio``, per endpoint and framework:

    * ``rate``: trioquart run's median rate / Hypercorn's (> 1: trioquart run serves more);
    * ``cpu``: Hypercorn's median server CPU per request / trioquart run's (> 1: trioquart
      run is cheaper), i.e. requests per CPU second relative to Hypercorn's;

    both of which issue 10 wants at 0.95 or more; with ``_paired`` the min-max of the same
    ratios repetition by repetition, which shows how far the noise reaches."""
    hypercorn, trioquart = results.get("hypercorn"), results.get("trioquart")
    if not hypercorn or not trioquart:
        return {}
    table: dict = {}
    for key, cells in hypercorn.items():
        table[key] = {}
        for name, theirs in cells.items():
            ours = trioquart[key][name]
            if theirs["error"] or ours["error"]:  # one server's figures alone compare to nothing
                table[key][name] = {
                    "rate": None,
                    "cpu": None,
                    "rate_paired": summarize([]),
                    "cpu_paired": summarize([]),
                }
                continue
            table[key][name] = {
                "rate": _ratio(ours["median"], theirs["median"]),
                "cpu": _ratio(theirs["cpu_us_median"], ours["cpu_us_median"]),
                "rate_paired": summarize(_paired(ours["samples"], theirs["samples"])),
                "cpu_paired": summarize(_paired(theirs["cpu_us"], ours["cpu_us"])),
            }
    return table


def _format_ratio_range(value: float | None, paired: dict) -> str:
    """``0.97× [0.95-0.99]`` (the brackets: min-max of the per-repetition ratios)."""
    text = format_ratio(value)
    if value is not None and paired.get("min") is not None and paired["min"] != paired["max"]:
        text += f" [{paired['min']:.2f}-{paired['max']:.2f}]"
    return text


def report_one_server(kind: str, results: dict, frameworks: list[str], settings: Settings) -> str:
    """One server's table: every framework's rates and CPU per request, and the ratios to
    the bare app."""
    command = SERVER_LABELS[kind]
    if kind == "hypercorn" and settings.access_log:
        command += " --access-logfile -"
    lines = [
        f"Through {command} (server on CPU {SERVER_CPU}, load on CPU {CLIENT_CPU}"
        f"{'' if _pin(0) else ' -- not pinned: no taskset or one CPU'}): median of "
        f"{settings.repetitions} [min-max]. HTTP: wrk -t1 -c{settings.connections} "
        f"-d{round(settings.duration)}s, req/s. Websocket: {settings.ws_connections} "
        f"connections x {settings.ws_rounds} echo round trips, round trips/s.",
        "Server CPU: user+system time of the server processes per request (µs), median.",
    ]
    width = 26
    lines.append(f"{'':24}" + "".join(f"{name:>{width}}" for name in frameworks))
    for key, cells in results.items():
        unit = "rt/s" if key == WEBSOCKET else "req/s"
        texts, cpu_texts = [], []
        for name in frameworks:
            cell = cells[name]
            if cell["error"] or cell["median"] is None:
                texts.append("FAILED".rjust(width))
                cpu_texts.append("".rjust(width))
                continue
            texts.append(
                f"{cell['median']:,.0f} [{cell['min']:,.0f}-{cell['max']:,.0f}]".rjust(width)
            )
            cpu_texts.append(f"{cell['cpu_us_median']:,.0f} µs CPU".rjust(width))
        lines.append(f"{key + ' (' + unit + ')':24}" + "".join(texts))
        lines.append(f"{'':24}" + "".join(cpu_texts))
    if "bare" in frameworks and len(frameworks) > 1:
        # Issue 5's target is set through Hypercorn.
        target = "≥ 0.95" if kind == "hypercorn" else None
        lines.append("")
        lines.append(
            "Rate relative to the bare ASGI app"
            + (f" (target for trioquart: {target}):" if target else ":")
        )
        for key, row in ratios(results).items():
            cells = [
                f"{pair} {format_ratio(value, target if pair.startswith('trioquart') else None)}"
                for pair, value in row.items()
            ]
            lines.append(f"  {key:22}" + "   ".join(cells))
        lines.append("Server CPU per request relative to the bare ASGI app (steadier than rates):")
        for key, row in ratios(results, "cpu_us_median").items():
            cells = [f"{pair} {format_ratio(value)}" for pair, value in row.items()]
            lines.append(f"  {key:22}" + "   ".join(cells))
    shares = [
        f"{name} {share:.0%}"
        for name, cell in results.get(WEBSOCKET, {}).items()
        for share in [summarize(cell.get("client_cpu_share", []))["median"]]
        if share is not None
    ]
    if shares:
        lines.append(
            "Websocket client CPU use during the echo (near 100% = the client, not the "
            "server, limits the rate): " + ", ".join(shares)
        )
    return "\n".join(lines)


def _rate_text(cell: dict) -> str:
    return "FAILED" if cell["error"] or cell["median"] is None else f"{cell['median']:,.0f}"


def _cpu_text(cell: dict) -> str:
    value = cell["cpu_us_median"]
    return "-" if cell["error"] or value is None else f"{value:,.0f} µs"


def report_comparison(results: dict, table: dict, frameworks: list[str]) -> str:
    """The two servers side by side, per endpoint and framework (issue 10)."""
    lines = [
        "trioquart run against hypercorn -k trio, same app and load (issue 10: at least 0.95x "
        "on each). rate: trioquart run / hypercorn; CPU: hypercorn's server CPU per request / "
        "trioquart run's, so > 1 means trioquart run is cheaper. Medians; [min-max of the "
        "ratios repetition by repetition].",
        f"{'':16}{'hypercorn':>11}{'trioquart':>11}{'rate':>20}"
        f"{'hypercorn':>12}{'trioquart':>12}{'CPU':>20}",
    ]
    for key in table:
        lines.append(f"{key} ({'round trips/s' if key == WEBSOCKET else 'req/s'})")
        for name in frameworks:
            theirs, ours = results["hypercorn"][key][name], results["trioquart"][key][name]
            ratio = table[key][name]
            lines.append(
                f"  {name:14}{_rate_text(theirs):>11}{_rate_text(ours):>11}"
                f"{_format_ratio_range(ratio['rate'], ratio['rate_paired']):>20}"
                f"{_cpu_text(theirs):>12}{_cpu_text(ours):>12}"
                f"{_format_ratio_range(ratio['cpu'], ratio['cpu_paired']):>20}"
            )
    return "\n".join(lines)


def report(results: dict, table: dict, frameworks: list[str], settings: Settings) -> str:
    """Every server's table, then (with both) the comparison of the two servers."""
    blocks = [
        report_one_server(kind, cells, frameworks, settings) for kind, cells in results.items()
    ]
    if table:
        blocks.append(report_comparison(results, table, frameworks))
    errors = [
        f"  {name} on {SERVER_LABELS[kind]}, {key}: {cell['error']}"
        for kind, row in results.items()
        for key, cells in row.items()
        for name, cell in cells.items()
        if cell["error"]
    ]
    if errors:
        blocks.append("\n".join(["Failures:", *errors]))
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short repetition")
    parser.add_argument("--only", action="append", metavar="NAME", help="frameworks to measure")
    parser.add_argument(
        "--servers",
        action="append",
        metavar="NAME",
        help=f"servers to serve each framework with: {', '.join(SERVERS)} (default both)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="both servers write an access log line per request (off by default)",
    )
    parser.add_argument("--repetitions", type=int)
    parser.add_argument("--duration", type=float, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=float, help="seconds of the wrk warm-up run")
    parser.add_argument("--connections", type=int, help="wrk connections")
    parser.add_argument(
        "--part",
        action="append",
        choices=["http", "websocket"],
        help="measure only this part (default both)",
    )
    parser.add_argument("--ws-connections", type=int, help="websocket connections")
    parser.add_argument("--ws-rounds", type=int, help="echo round trips per websocket")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--ws-client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    settings = Settings.quick() if args.quick else Settings()
    for option in (
        "repetitions",
        "duration",
        "warmup",
        "connections",
        "ws_connections",
        "ws_rounds",
        "access_log",
    ):
        if getattr(args, option) is not None:
            setattr(settings, option, getattr(args, option))

    if args.ws_client:
        print(
            json.dumps(
                websocket_client(
                    args.ws_client, settings.ws_connections, settings.ws_rounds, timeout=60
                )
            )
        )
        return 0

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    frameworks = parse_names(args.only, KNOWN_APPS, "framework", FRAMEWORKS)
    servers = parse_names(args.servers, SERVERS, "server")
    started = time.perf_counter()
    load = OtherLoad()
    note_start()
    parts = set(args.part or ["http", "websocket"])
    results = measure(frameworks, servers, settings, parts, not args.quiet)
    table = server_ratios(results)
    other_load = load.share()
    print(environment(other_load=other_load))
    print(report(results, table, frameworks, settings))
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        document = {
            "benchmark": "server",
            "environment": environment(as_dict=True, other_load=other_load),
            "settings": vars(settings),
            "servers": {
                kind: "python "
                + " ".join(server_command(kind, "TARGET", "PORT", settings.access_log))
                for kind in servers
            },
            "units": {
                "http": "requests per second",
                WEBSOCKET: "round trips per second",
                "cpu_us": "server CPU µs per request",
            },
            # Each keyed by server first: {"hypercorn": {endpoint: {framework: ...}}, ...}.
            "results": results,
            "ratios": {kind: ratios(row) for kind, row in results.items()},
            "cpu_ratios": {kind: ratios(row, "cpu_us_median") for kind, row in results.items()},
            # trioquart run against hypercorn: {endpoint: {framework: {"rate": ..., "cpu": ...}}}
            "server_ratios": table,
        }
        Path(args.json).write_text(json.dumps(document, indent=2, ensure_ascii=False))
    failed = any(
        cell["error"]
        for row in results.values()
        for by_name in row.values()
        for cell in by_name.values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
