"""A supervisor that keeps serving and tells the truth (issue 10, part 2), through
``trioquart run --workers N``: a worker that dies is logged with how it ended and replaced
while the others serve; a crash loop backs off, gives up and exits non-zero."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import trio

from .cli_server import APP_SOURCE, CliServer, cli_server


async def worker_pids(server: CliServer, expected: int) -> set[int]:
    """The pids answering ``/pid``, asked on fresh connections until ``expected`` are seen."""
    seen: set[int] = set()
    with trio.fail_after(15):
        while len(seen) < expected:
            async with httpx.AsyncClient() as client:
                seen.add(int((await client.get(server.url + "/pid")).text))
    return seen


async def test_a_killed_worker_is_replaced_while_the_others_serve(tmp_path: Path) -> None:
    outcomes: list[str] = []
    async with cli_server(tmp_path, "--workers", "2") as server:
        first = await worker_pids(server, 2)
        async with trio.open_nursery() as nursery:
            keep_requesting = trio.CancelScope()

            async def client_loop() -> None:
                with keep_requesting:
                    while True:
                        try:
                            async with httpx.AsyncClient(timeout=5) as client:  # a new connection
                                response = await client.get(server.url + "/health")
                            outcomes.append(str(response.status_code))
                        except httpx.TransportError as error:
                            outcomes.append(type(error).__name__)
                        await trio.sleep(0.005)

            nursery.start_soon(client_loop)
            await trio.sleep(0.3)
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            with trio.fail_after(15):
                while True:  # until the replacement answers too
                    now = await worker_pids(server, 2)
                    if victim not in now:
                        break
            await trio.sleep(0.3)
            keep_requesting.cancel()
        server.send_signal(signal.SIGTERM)
        returncode = await server.wait(10)
    assert returncode == 0, server.stderr()
    assert len(now) == 2 and victim not in now and len(now & first) == 1
    failures = [outcome for outcome in outcomes if outcome != "200"]
    assert len(outcomes) > 10
    assert len(failures) <= 1, failures  # at most the request the killed worker held
    assert f"(pid {victim}) was killed by SIGKILL" in server.stderr()


async def test_a_worker_that_exits_is_logged_with_its_status_and_replaced(tmp_path: Path) -> None:
    async with cli_server(tmp_path, "--workers", "2") as server:
        first = await worker_pids(server, 2)
        with trio.fail_after(15):
            while True:
                async with httpx.AsyncClient() as client:
                    try:
                        await client.get(server.url + "/exit?status=7")
                    except httpx.TransportError:
                        pass  # the worker is gone before it answers
                if "exited with status 7" in server.stderr():
                    break
        second = await worker_pids(server, 2)
        server.send_signal(signal.SIGTERM)
        assert await server.wait(10) == 0
    assert len(second - first) >= 1


CRASHING_SOURCE = APP_SOURCE.replace(
    "    app.nursery.start_soon(ticker)",
    "    raise RuntimeError('the database is not there')",
)


async def test_workers_that_keep_crashing_stop_the_server_with_a_failure(tmp_path: Path) -> None:
    async with cli_server(
        tmp_path, "--workers", "2", source=CRASHING_SOURCE, ready_path=None
    ) as server:
        returncode = await server.wait(30)
    err = server.stderr()
    assert returncode == 1
    assert "the database is not there" in err
    assert "failed to start" in err
    assert "times in a row" in err
