"""A real ``redis-server`` for the tests: on 127.0.0.1, on a free port, in its own folder.

The server keeps nothing on disk (no RDB snapshots, no append-only file) and is stopped by
its PID. :meth:`RedisServer.kill` and :meth:`RedisServer.start` on the same object bring
it down and up again on the same port, for the outage tests.

A missing ``redis-server`` is an error, not a skip: CI must fail when the Redis tests cannot
run. ``.ci/install-services`` installs it (the README's test command runs that first).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RedisServer", "redis_server_running"]

#: Seconds a starting server gets to answer PING.
START_TIMEOUT = 10.0


def free_port() -> int:
    """A port nobody listens on right now (Redis cannot pick one itself)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process, restartable on the same port."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: run .ci/install-services (Debian's"
                " redis-server package) before the tests"
            )
        self.binary = binary
        self.folder = folder
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.folder),
                "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if self.ping():
                return
            time.sleep(0.01)
        self.kill()
        raise RuntimeError(f"redis-server did not answer PING within {START_TIMEOUT} s")

    def ping(self) -> bool:
        """Whether the server answers PING (a raw RESP exchange, no client library)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *args: str) -> bytes:
        """Send one command (inline, space-free arguments) and return the raw reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(" ".join(args).encode() + b"\r\n")
            return conn.recv(65536)

    def kill(self) -> None:
        """Stop the server at once (SIGKILL, by its PID), as a crash would."""
        if self.process is None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None


@contextmanager
def redis_server_running() -> Iterator[RedisServer]:
    """A started server, killed and its folder removed on exit."""
    with tempfile.TemporaryDirectory(prefix="trioquart-redis-") as folder:
        server = RedisServer(Path(folder))
        server.start()
        try:
            yield server
        finally:
            server.kill()
