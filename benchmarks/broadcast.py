"""Websocket broadcast fan-out through ``trioquart.broadcast`` (issue 11), served for real.

For each number of clients N (``--clients``, default 10, 100 and 1000) and each backend in
turn, a fresh server side is started and loaded from a client process of its own:

``redis``
    a ``redis-server`` on 127.0.0.1 (a free port, nothing kept on disk, a temporary folder,
    stopped by its PID) and two ``trioquart run`` processes on two ports serving
    ``benchmarks/broadcast_app.py`` with ``TRIOQUART_BROADCAST_URL=redis://...``; the N
    subscribers are split evenly between the two workers, so every message crosses Redis;
``memory``
    the floor: one ``trioquart run`` process with the in-memory backend, all N subscribers
    on it (no Redis).

The load generator opens the N websockets to ``/ws`` (each subscribes to the channel
"bench" and says "ready"), then publishes, over one more websocket to ``/publish`` on the
first worker, a few warm-up messages and then ``--messages`` numbered ones, each carrying
its send time (``perf_counter_ns``: the publisher and the subscribers are the same
process). It publishes at the rate the system takes: message k is sent once every
subscriber still open has received message k - w, the window (a closed loop, so that no
queue grows without bound and the latency is that of a system running at its capacity,
not of a backlog). w is ``--window``, by default 1,000 // N (at least 1): about 1,000
deliveries in flight whatever N, so 100 messages for 10 clients and 1 for 1,000 (by
Little's law the latency is then about the in-flight deliveries over the delivery rate).
It measures:

* deliveries per second: messages received by all clients together over the time from the
  first numbered publish to the last delivery;
* publish-to-client latency, p50 and p99 (of up to 100 clients' every message);
* losses: N x messages minus the messages received, the Gap markers the app forwarded, and
  the clients closed with 1013 (SubscriberTooSlow) or any other code, none of which is
  hidden;
* the server side's CPU time per delivery: user + system time of the ``trioquart run``
  processes over the same interval (``/proc/<pid>/stat``), and Redis's separately;
* each server's RSS before and after, and ``broadcast.health()`` after the clients left
  (its subscriber count should be back to 0).

The server side (Redis and the workers) is pinned to CPU 0 and the load generator to CPU 1
when ``taskset`` exists and there are two CPUs (``--no-pin`` lets the system schedule them):
both backends get the same one CPU, the two Redis workers share it. Every process has a
bounded lifetime, every wait a timeout, and everything started is stopped on the way out,
also after an error.

    python benchmarks/broadcast.py                       # N = 10, 100, 1000; 10,000 messages
    python benchmarks/broadcast.py --quick               # N = 10, 100; 1,000 messages
    python benchmarks/broadcast.py --clients 100 --messages 2000 --backends redis --json b.json
"""

from __future__ import annotations

import argparse
import array
import http.client
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from common import OtherLoad, environment, note_start, parse_names, stop_process  # noqa: E402

BACKENDS = ("memory", "redis")
LABELS = {"memory": "in-memory, 1 worker", "redis": "Redis, 2 workers"}
APP = "benchmarks.broadcast_app:app"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU, CLIENT_CPU = 0, 1
#: Latencies are kept for at most this many clients (spread evenly), every message each.
LATENCY_CLIENTS = 100
#: Connects in flight at once, fewer than a listen backlog takes.
CONNECT_LIMIT = 50
#: Deliveries in flight at most by default: the window is this divided by the clients.
IN_FLIGHT = 1000


def window_for(clients: int, settings: Settings) -> int:
    """Messages in flight at most with ``clients`` clients."""
    if settings.window is not None:
        return settings.window
    return max(1, IN_FLIGHT // clients)


@dataclass
class Settings:
    clients: list[int] = field(default_factory=lambda: [10, 100, 1000])
    messages: int = 10_000
    #: Numbered messages published but not yet received by every open client, at most;
    #: None: IN_FLIGHT // clients (at least 1).
    window: int | None = None
    #: Characters per message (the sequence number and time stamp, padded).
    size: int = 100
    #: Messages published one at a time (each received by all before the next) before the
    #: numbered ones; not counted.
    warmup: int = 20
    #: Messages published one at a time after the load (each received by every client
    #: before the next), for the latency of one message's fan-out on its own; none when
    #: the window is 1 already (the load measured that).
    single: int = 1_000
    #: Seconds without any delivery after which the publisher gives up (a stall).
    stall: float = 10.0
    pin: bool = True
    backends: list[str] = field(default_factory=lambda: list(BACKENDS))

    @classmethod
    def quick(cls) -> Settings:
        return cls(clients=[10, 100], messages=1_000, single=200)


# ---- processes ----------------------------------------------------------------------------


def _pin(cpu: int, settings: Settings) -> list[str]:
    """A ``taskset`` prefix for ``cpu``, if wanted, there are two CPUs and taskset exists."""
    if not settings.pin or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(cpu)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_stat(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and RSS bytes of one process; (0, 0) once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0
    # After the command name: state (1st) ... utime (12th) stime (13th) ... rss (22nd, pages).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[21]) * os.sysconf(
        "SC_PAGE_SIZE"
    )


def group_stat(group: int) -> tuple[float, int]:
    """CPU seconds and RSS bytes summed over the processes of process group ``group``."""
    cpu, rss = 0.0, 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            one_cpu, one_rss = process_stat(int(entry))
            cpu += one_cpu
            rss += one_rss
    return cpu, rss


class Redis:
    """A ``redis-server`` on 127.0.0.1 and a free port, keeping nothing on disk, in a
    temporary folder; stopped by its PID (the server is the process we started)."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (e.g. apt-get install redis-server)")
        self.port = free_port()
        command = [
            *_pin(SERVER_CPU, settings),
            binary,
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(folder)),
            *("--daemonize", "no", "--loglevel", "warning"),
        ]
        # taskset execs redis-server, so the PID is the server's either way.
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server did not answer PING within 10 s")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def cpu_seconds(self) -> float:
        return process_stat(self.process.pid)[0]

    def stop(self) -> None:
        stop_process(self.process)


class Worker:
    """One ``trioquart run`` process (one worker, in the command's own process) serving the
    benchmark app on 127.0.0.1, in a process group of its own, with a bounded lifetime."""

    def __init__(self, broadcast_url: str | None, log_dir: Path, lifetime: float) -> None:
        self.broadcast_url = broadcast_url
        self.lifetime = lifetime
        self.port = free_port()
        self.log_path = log_dir / f"worker-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def command(port: int | str) -> list[str]:
        """The arguments to Python, from the repository root."""
        return [
            *("-m", "trioquart.cli", "run", APP),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        ]

    def start(self, settings: Settings, timeout: float = 30) -> None:
        env = dict(os.environ)
        env.pop("TRIOQUART_BROADCAST_URL", None)
        if self.broadcast_url:
            env["TRIOQUART_BROADCAST_URL"] = self.broadcast_url
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = [
            *_pin(SERVER_CPU, settings),
            *("timeout", "--kill-after=5", str(round(self.lifetime))),
            sys.executable,
            *self.command(self.port),
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"trioquart run exited early:\n{self.log()}")
            try:
                health = self.health()
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.1)
                continue
            if health.get("healthy"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"trioquart run was not healthy within {timeout} s:\n{self.log()}")

    def health(self) -> dict[str, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise ValueError(f"GET /health: {response.status} {body[:200]!r}")
        return json.loads(body)

    def stat(self) -> tuple[float, int]:
        assert self.process is not None
        return group_stat(self.process.pid)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def log_lines(self) -> dict[str, int]:
        """What the server logged besides its start-up line (warnings such as the 1013
        closes, errors), each distinct line with how often it came."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return {}
        return dict(
            Counter(
                line.strip()
                for line in text.splitlines()
                if line.strip() and not line.startswith("Serving ")
            ).most_common(20)
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, group=True)


@contextmanager
def serving(
    backend: str, redis: Redis | None, settings: Settings, log_dir: Path, lifetime: float
) -> Iterator[list[Worker]]:
    """The started workers of ``backend``: two on Redis, one in memory."""
    with ExitStack() as stack:
        count = 2 if backend == "redis" else 1
        url = redis.url if backend == "redis" and redis is not None else None
        workers = []
        for _ in range(count):
            worker = Worker(url, log_dir, lifetime)
            stack.callback(worker.stop)
            worker.start(settings)
            workers.append(worker)
        yield workers


# ---- the load generator (a process of its own) --------------------------------------------


def load_client(config: dict[str, Any]) -> dict[str, Any]:
    """Subscribe ``clients`` websockets (round robin over ``subscribe``), publish through
    ``publish``, and count what arrives. Talks to the parent over stdin/stdout: prints
    ``connected`` (after the warm-up) and waits for a line, publishes the numbered messages,
    prints ``done`` and waits for a line, then closes everything and returns the result."""
    import trio
    from trio_websocket import ConnectionClosed, connect_websocket_url

    clients: int = config["clients"]
    warmup: int = config["warmup"]
    total = warmup + config["messages"]
    single: int = config["single"]
    window: int = config["window"]
    stall: float = config["stall"]
    size: int = config["size"]
    urls: list[str] = config["subscribe"]
    step = max(1, clients // LATENCY_CLIENTS)

    #: How many clients received (or went past) each message.
    arrived = array.array("q", bytes(8 * (total + single)))
    latencies = array.array("q")  # µs, of the load
    single_latencies = array.array("q")  # µs, of the messages published one at a time
    result: dict[str, Any] = {
        "received": 0,
        "single_received": 0,
        "warmup_received": 0,
        "skipped": 0,
        "out_of_order": 0,
        "gaps": 0,
        "gap_missed": 0,
        "gap_reasons": {},
        "closes": {},
        "publish_errors": [],
        "stalls": [],
    }

    class State:
        live = clients
        waiting_for = -1
        wake = trio.Event()
        deliveries = 0  # progress, warm-up included
        last_arrival = 0
        closing = False

    state = State()

    async def to_parent(word: str) -> None:
        print(word, flush=True)
        await trio.to_thread.run_sync(sys.stdin.readline)

    def went_past(seq: int) -> None:
        arrived[seq] += 1
        if seq == state.waiting_for and arrived[seq] >= state.live:
            state.wake.set()

    async def subscriber(index: int, nursery: trio.Nursery, ready: trio.Semaphore) -> None:
        limiter = connect_limit
        try:
            async with limiter:
                ws = await connect_websocket_url(nursery, urls[index % len(urls)])
            connections.append(ws)
            with trio.fail_after(30):
                first = await ws.get_message()
            if first != "ready":
                raise RuntimeError(f"expected 'ready', got {first!r}")
        except BaseException:
            state.live -= 1
            raise
        ready.release()
        sampled = index % step == 0
        last = -1
        perf_counter_ns = time.perf_counter_ns
        append = latencies.append
        append_single = single_latencies.append
        try:
            while True:
                data = await ws.get_message()
                now = perf_counter_ns()
                if data[0] == "G":  # GAP <reason> <missed>
                    _, reason, missed = data.split(" ", 2)
                    result["gaps"] += 1
                    result["gap_reasons"][reason] = result["gap_reasons"].get(reason, 0) + 1
                    if missed != "None":
                        result["gap_missed"] += int(missed)
                    continue
                seq_text, stamp_text, _ = data.split(" ", 2)
                seq = int(seq_text)
                if seq <= last:
                    result["out_of_order"] += 1
                    continue
                if seq > last + 1:
                    result["skipped"] += seq - last - 1
                    for missing in range(last + 1, seq):
                        went_past(missing)
                last = seq
                state.deliveries += 1
                state.last_arrival = now
                if seq >= warmup:
                    if seq < total:
                        result["received"] += 1
                        if sampled:
                            append((now - int(stamp_text)) // 1000)
                    else:
                        result["single_received"] += 1
                        if sampled:
                            append_single((now - int(stamp_text)) // 1000)
                else:
                    result["warmup_received"] += 1
                went_past(seq)
        except ConnectionClosed as closed:
            if not state.closing:
                code = str(closed.reason.code)
                result["closes"][code] = result["closes"].get(code, 0) + 1
        finally:
            state.live -= 1
            state.wake.set()

    async def wait_for(seq: int, quiet_for: float) -> bool:
        """Until every open client has received (or gone past) ``seq``; False if no message
        arrived anywhere for ``quiet_for`` seconds meanwhile (a stall)."""
        while arrived[seq] < state.live:
            state.waiting_for = seq
            state.wake = trio.Event()
            before = state.deliveries
            with trio.move_on_after(quiet_for):
                await state.wake.wait()
            if state.deliveries == before and arrived[seq] < state.live:
                return False
        return True

    def stalled_at(seq: int) -> None:
        result["stalls"].append(
            {"message": seq - warmup, "clients_behind": state.live - arrived[seq]}
        )

    async def publish_errors(ws: Any) -> None:
        try:
            while True:
                result["publish_errors"].append(await ws.get_message())
        except ConnectionClosed:
            pass

    def message(seq: int) -> str:
        text = f"{seq} {time.perf_counter_ns()} "
        return text + "x" * max(1, size - len(text))

    connections: list[Any] = []
    connect_limit = trio.CapacityLimiter(CONNECT_LIMIT)

    async def main() -> None:
        with trio.fail_after(config["deadline"]):
            async with trio.open_nursery() as nursery:
                ready = trio.Semaphore(0)
                for index in range(clients):
                    nursery.start_soon(subscriber, index, nursery, ready)
                with trio.fail_after(60 + clients * 0.1):
                    for _ in range(clients):
                        await ready.acquire()
                publisher = await connect_websocket_url(nursery, config["publish"])
                nursery.start_soon(publish_errors, publisher)
                # One at a time; a message some client misses (its subscription not live
                # yet) holds the warm-up up for 2 s at most, and is reported.
                for seq in range(warmup):
                    await publisher.send_message(message(seq))
                    await wait_for(seq, min(stall, 2.0))
                await to_parent("connected")

                cpu_started = time.process_time()
                started = publishing_ended = time.perf_counter_ns()
                published = 0
                for seq in range(warmup, total):
                    if seq - window >= warmup and not await wait_for(seq - window, stall):
                        stalled_at(seq - window)
                        break
                    await publisher.send_message(message(seq))
                    published += 1
                    publishing_ended = time.perf_counter_ns()
                else:
                    publishing_ended = time.perf_counter_ns()
                    if not await wait_for(total - 1, stall):
                        stalled_at(total - 1)
                result["published"] = published
                # The last delivery, or the last publish if every client had left by then.
                ended = max(state.last_arrival, publishing_ended)
                result["seconds"] = (ended - started) / 1e9
                result["client_cpu_seconds"] = time.process_time() - cpu_started
                result["open_at_end"] = state.live
                await to_parent("done")

                for seq in range(total, total + single):
                    await publisher.send_message(message(seq))
                    if not await wait_for(seq, stall):
                        stalled_at(seq)
                        break

                state.closing = True
                with trio.move_on_after(20):
                    async with trio.open_nursery() as closer:
                        for ws in [*connections, publisher]:
                            closer.start_soon(ws.aclose)
                nursery.cancel_scope.cancel()

    trio.run(main)
    result["latency_us"] = percentiles(latencies)
    result["latency_samples"] = len(latencies)
    result["single_latency_us"] = percentiles(single_latencies)
    return result


def percentiles(samples: array.array) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])

    return {"p50": at(0.50), "p99": at(0.99), "max": float(ordered[-1])}


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError(f"the load generator did not answer within {timeout:.0f} s or exited")
    return line.strip()


# ---- one measurement ----------------------------------------------------------------------


def deadline_for(clients: int, settings: Settings) -> float:
    """The most one load may take: generous (2,000 deliveries/s), but bounded."""
    return 120 + clients * (settings.messages + settings.warmup + settings.single) / 2000


def measure_one(
    backend: str, clients: int, redis: Redis | None, settings: Settings, log_dir: Path
) -> dict[str, Any]:
    deadline = deadline_for(clients, settings)
    single = settings.single if window_for(clients, settings) > 1 else 0
    row: dict[str, Any] = {"backend": backend, "clients": clients, "error": None}
    with serving(backend, redis, settings, log_dir, lifetime=deadline + 120) as workers:
        config = {
            "clients": clients,
            "messages": settings.messages,
            "warmup": settings.warmup,
            "single": single,
            "window": window_for(clients, settings),
            "stall": settings.stall,
            "size": settings.size,
            "deadline": deadline,
            "subscribe": [f"ws://127.0.0.1:{worker.port}/ws" for worker in workers],
            "publish": f"ws://127.0.0.1:{workers[0].port}/publish",
        }
        command = [
            *_pin(CLIENT_CPU, settings),
            sys.executable,
            str(Path(__file__).resolve()),
            "--load-client",
            json.dumps(config),
        ]
        client_log = log_dir / f"load-{backend}-{clients}.log"
        with client_log.open("w") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        assert process.stdin is not None

        def client_errors() -> str:
            return client_log.read_text(errors="replace")[-3000:]

        try:
            if _read_line(process, 120 + clients * 0.2) != "connected":
                raise RuntimeError("unexpected output from the load generator")
            before = [worker.stat() for worker in workers]
            redis_before = redis.cpu_seconds() if redis and backend == "redis" else 0.0
            process.stdin.write("go\n")
            process.stdin.flush()
            if _read_line(process, deadline + 30) != "done":
                raise RuntimeError("unexpected output from the load generator")
            after = [worker.stat() for worker in workers]
            redis_after = redis.cpu_seconds() if redis and backend == "redis" else 0.0
            health_loaded = [worker.health() for worker in workers]
            process.stdin.write("close\n")
            process.stdin.flush()
            output, _ = process.communicate(timeout=60 + single * clients * 0.001)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as error:
            stop_process(process, group=True)
            logs = "\n".join(worker.log() for worker in workers)
            raise RuntimeError(
                f"{error}\nload generator:\n{client_errors()}\nservers:\n{logs}"
            ) from None
        finally:
            stop_process(
                process, group=True
            )  # whatever happened (CTRL+C too), it does not outlive this
        if process.returncode != 0:
            raise RuntimeError(f"the load generator failed:\n{client_errors()}")
        load = json.loads(output)
        # After the clients left, every worker should be back to no subscribers.
        health_after = [worker.health() for worker in workers]
        for _ in range(50):
            if all(health.get("subscribers") == 0 for health in health_after):
                break
            time.sleep(0.1)
            health_after = [worker.health() for worker in workers]
        logs = [worker.log_lines() for worker in workers]
    cpu_per_worker = [end[0] - start[0] for start, end in zip(before, after, strict=True)]
    cpu = sum(cpu_per_worker)
    expected = clients * settings.messages
    received = load["received"]
    row.update(
        messages=settings.messages,
        window=window_for(clients, settings),
        published=load.get("published"),
        expected=expected,
        received=received,
        lost=expected - received,
        skipped=load["skipped"],
        out_of_order=load["out_of_order"],
        gaps=load["gaps"],
        gap_missed=load["gap_missed"],
        gap_reasons=load["gap_reasons"],
        closes=load["closes"],
        closed_1013=load["closes"].get("1013", 0),
        warmup_expected=clients * settings.warmup,
        warmup_received=load["warmup_received"],
        stalls=load["stalls"],
        publish_errors=load["publish_errors"][:20],
        seconds=load["seconds"],
        deliveries_per_s=received / load["seconds"] if load["seconds"] else None,
        messages_per_s=(load.get("published") or 0) / load["seconds"] if load["seconds"] else None,
        latency_ms={
            key: (None if value is None else value / 1000)
            for key, value in load["latency_us"].items()
        },
        latency_samples=load["latency_samples"],
        single_messages=single,
        single_expected=clients * single,
        single_received=load["single_received"],
        single_latency_ms=(
            {
                key: (None if value is None else value / 1000)
                for key, value in load["single_latency_us"].items()
            }
            if single
            else None
        ),
        server_cpu_seconds=cpu,
        server_cpu_seconds_per_worker=cpu_per_worker,
        server_cpu_us_per_delivery=cpu / received * 1e6 if received else None,
        redis_cpu_seconds=redis_after - redis_before,
        client_cpu_share=load["client_cpu_seconds"] / load["seconds"] if load["seconds"] else None,
        server_rss_mib_before=[start[1] / 2**20 for start in before],
        server_rss_mib_after=[end[1] / 2**20 for end in after],
        health_loaded=health_loaded,
        health_after=health_after,
        server_log=logs,
    )
    return row


def measure(settings: Settings, progress: bool) -> list[dict[str, Any]]:
    rows = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-broadcast-")))
        redis = None
        if "redis" in settings.backends:
            redis = Redis(folder, settings)
            stack.callback(redis.stop)
        for clients in settings.clients:
            for backend in settings.backends:
                if progress:
                    print(f"  {clients} clients, {LABELS[backend]}", file=sys.stderr, flush=True)
                started = time.perf_counter()
                try:
                    row = measure_one(backend, clients, redis, settings, folder)
                except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
                    row = {"backend": backend, "clients": clients, "error": str(error)}
                    if progress:
                        print(f"    FAILED: {str(error)[:2000]}", file=sys.stderr, flush=True)
                row["wall_seconds"] = time.perf_counter() - started
                rows.append(row)
    return rows


# ---- the report ---------------------------------------------------------------------------


def versions() -> dict[str, str | None]:
    """What besides :func:`common.environment`'s packages the figures depend on."""
    found: dict[str, str | None] = {}
    for package in ("coredis", "trio-websocket", "wsproto"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    found["redis-server"] = None
    if shutil.which("redis-server"):
        try:
            output = subprocess.run(
                ["redis-server", "--version"], capture_output=True, text=True, timeout=10
            ).stdout
            found["redis-server"] = output.split("v=", 1)[1].split()[0] if "v=" in output else None
        except (OSError, subprocess.SubprocessError):
            pass
    return found


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _alone(row: dict[str, Any]) -> str:
    """The latency of messages published one at a time: ``p50/p99``, or ``=`` when the
    load's window was 1 already."""
    single = row.get("single_latency_ms")
    if not single:
        return "="
    return f"{_ms(single['p50'])}/{_ms(single['p99'])}"


def report(rows: list[dict[str, Any]], settings: Settings) -> str:
    pinned = _pin(0, settings)
    lines = [
        f"Broadcast fan-out: {settings.messages:,} numbered messages of {settings.size} "
        f"characters to N websocket clients, "
        + (
            f"at most {settings.window} in flight per client"
            if settings.window is not None
            else f"at most {IN_FLIGHT:,} // N in flight per client (the window w)"
        )
        + f" (after {settings.warmup} warm-up messages). Server side (Redis and the workers) on "
        f"CPU {SERVER_CPU}, load generator on CPU {CLIENT_CPU}"
        + ("" if pinned else " -- not pinned")
        + ".",
        "deliveries/s: messages received by all clients / time; latency: publish to client "
        f"(ms) under the load, and alone: {settings.single:,} messages published one at a "
        "time afterwards ('=': the load's window was 1); lost: N x messages - received; "
        "CPU: the trioquart processes' user+system time per delivery (Redis's per message "
        "apart); client: the load generator's CPU use.",
        "",
        f"{'backend':22}{'N':>6}{'w':>5}{'deliv./s':>10}{'msg/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'alone p50/p99':>15}"
        f"{'lost':>8}{'gaps':>6}{'1013':>6}{'µs CPU':>8}{'redis µs':>10}{'client':>8}"
        f"{'RSS MiB':>14}",
    ]
    for row in rows:
        label = LABELS[row["backend"]]
        if row.get("error"):
            lines.append(f"{label:22}{row['clients']:>6}  FAILED: {row['error'].splitlines()[0]}")
            continue
        redis_us = (
            f"{row['redis_cpu_seconds'] / row['published'] * 1e6:,.0f}"
            if row["backend"] == "redis" and row.get("published")
            else "-"
        )
        rss = "/".join(
            f"{a:.0f}>{b:.0f}"
            for a, b in zip(row["server_rss_mib_before"], row["server_rss_mib_after"], strict=True)
        )
        cpu = row["server_cpu_us_per_delivery"]
        lines.append(
            f"{label:22}{row['clients']:>6}{row['window']:>5}{row['deliveries_per_s'] or 0:>10,.0f}"
            f"{row['messages_per_s'] or 0:>8,.0f}{_ms(row['latency_ms']['p50']):>9}"
            f"{_ms(row['latency_ms']['p99']):>9}{_alone(row):>15}{row['lost']:>8,}{row['gaps']:>6}"
            f"{row['closed_1013']:>6}{'-' if cpu is None else f'{cpu:.0f}':>8}{redis_us:>10}"
            f"{row['client_cpu_share'] or 0:>8.0%}{rss:>14}"
        )
    notes = []
    for row in rows:
        if row.get("error"):
            notes.append(f"{LABELS[row['backend']]}, N={row['clients']}: {row['error']}")
            continue
        where = f"{LABELS[row['backend']]}, N={row['clients']}"
        other_closes = {code: n for code, n in row["closes"].items() if code != "1013"}
        if other_closes:
            notes.append(f"{where}: clients closed with {other_closes}")
        if row["stalls"]:
            notes.append(f"{where}: the publisher stalled: {row['stalls']}")
        if row["publish_errors"]:
            notes.append(f"{where}: publish errors: {row['publish_errors'][:3]}")
        if row["warmup_received"] != row["warmup_expected"]:
            notes.append(
                f"{where}: {row['warmup_expected'] - row['warmup_received']} warm-up messages "
                "not received"
            )
        if row["single_received"] != row["single_expected"]:
            notes.append(
                f"{where}: {row['single_expected'] - row['single_received']} of the messages"
                " published one at a time not received"
            )
        if row["out_of_order"]:
            notes.append(f"{where}: {row['out_of_order']} messages out of order")
        if row["gaps"]:
            notes.append(f"{where}: Gap markers {row['gap_reasons']}, missed {row['gap_missed']}")
        leftover = [health.get("subscribers") for health in row["health_after"]]
        if any(leftover):
            notes.append(f"{where}: subscribers left after the clients closed: {leftover}")
        for number, logged in enumerate(row["server_log"], 1):
            for line, count in list(logged.items())[:5]:
                notes.append(f"{where}: worker {number} logged {count}x: {line[:300]}")
    if notes:
        lines += ["", "Notes:", *(f"  {note}" for note in notes)]
    return "\n".join(lines)


def rst_table(rows: list[dict[str, Any]]) -> str:
    """The table in reStructuredText, for ``docs/benchmarks.rst``."""
    header = [
        "backend",
        "clients",
        "window",
        "deliveries/s",
        "latency p50 / p99",
        "one at a time p50 / p99",
        "lost",
        "server CPU per delivery",
        "Redis CPU per message",
        "load generator CPU",
    ]
    lines = [".. list-table::", "   :header-rows: 1", ""]
    lines.append("   * - " + "\n     - ".join(header))
    for row in rows:
        label, clients = LABELS[row["backend"]], f"{row['clients']:,}"
        if row.get("error"):
            cells = [label, clients, "", "failed", "", "", "", "", "", ""]
        else:
            lost = f"{row['lost']:,}"
            if row["closed_1013"] or row["gaps"]:
                lost += f" ({row['closed_1013']} closed with 1013, {row['gaps']} gaps)"
            cpu = row["server_cpu_us_per_delivery"]
            redis = (
                f"{row['redis_cpu_seconds'] / row['published'] * 1e6:.0f} µs"
                if row["backend"] == "redis" and row.get("published")
                else "-"
            )
            cells = [
                label,
                clients,
                str(row["window"]),
                f"{row['deliveries_per_s']:,.0f}",
                f"{_ms(row['latency_ms']['p50'])} / {_ms(row['latency_ms']['p99'])} ms",
                (
                    f"{_ms(single['p50'])} / {_ms(single['p99'])} ms"
                    if (single := row.get("single_latency_ms"))
                    else "(the same)"
                ),
                lost,
                "-" if cpu is None else f"{cpu:.0f} µs",
                redis,
                f"{row['client_cpu_share']:.0%}",
            ]
        lines.append("   * - " + "\n     - ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 10, 100 and 1,000 messages")
    parser.add_argument("--clients", action="append", metavar="N[,N]", help="client counts")
    parser.add_argument("--messages", type=int, help="numbered messages per load")
    parser.add_argument(
        "--window",
        type=int,
        help=f"numbered messages in flight per client (default {IN_FLIGHT} // clients, at least 1)",
    )
    parser.add_argument("--size", type=int, help="characters per message")
    parser.add_argument(
        "--single",
        type=int,
        help="messages published one at a time after each load, for the latency of one"
        " fan-out alone (default 1,000; 0: none)",
    )
    parser.add_argument(
        "--backends", action="append", metavar="NAME", help="memory, redis (default both)"
    )
    parser.add_argument("--stall", type=float, help="seconds without a delivery that end a load")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--rst", action="store_true", help="also print the table as reST")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--load-client", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.load_client:
        print(json.dumps(load_client(json.loads(args.load_client))))
        return 0

    settings = Settings.quick() if args.quick else Settings()
    if args.clients:
        settings.clients = [
            int(part) for option in args.clients for part in option.split(",") if part.strip()
        ]
    for option in ("messages", "window", "size", "stall", "single"):
        if getattr(args, option) is not None:
            setattr(settings, option, getattr(args, option))
    settings.pin = not args.no_pin
    settings.backends = parse_names(args.backends, BACKENDS, "backend")
    if min(settings.clients) < 1 or settings.messages < 1 or (settings.window or 1) < 1:
        raise SystemExit("--clients, --messages and --window must be at least 1")
    if "redis" in settings.backends and shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (e.g. apt-get install redis-server)")

    # A SIGTERM (e.g. from timeout) unwinds like CTRL+C, so every process gets stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    load = OtherLoad()
    note_start()
    rows = measure(settings, not args.quiet)
    other_load = load.share()
    print(environment(other_load=other_load))
    print("# " + ", ".join(f"{name} {version}" for name, version in versions().items() if version))
    print(report(rows, settings))
    if args.rst:
        print()
        print(rst_table(rows))
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.json:
        document = {
            "benchmark": "broadcast",
            "environment": environment(as_dict=True, other_load=other_load),
            "versions": versions(),
            "settings": asdict(settings),
            "server": "TRIOQUART_BROADCAST_URL=... python " + " ".join(Worker.command("PORT")),
            "units": {
                "deliveries_per_s": "messages received by all clients together per second",
                "latency_ms": "publish (load generator) to client, milliseconds",
                "server_cpu_us_per_delivery": "trioquart processes' CPU µs per delivery",
                "redis_cpu_seconds": "redis-server CPU seconds over the load",
            },
            "results": rows,
        }
        Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    return 1 if any(row.get("error") for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
