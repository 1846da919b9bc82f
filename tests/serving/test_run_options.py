"""``trioquart run``'s logging and TLS options, and its errors, through the real command:
``--log-level``, one access line per request, HTTPS with HTTP/2, and one line (no
traceback) with a non-zero exit code for each way the server cannot start."""

from __future__ import annotations

import socket
import ssl
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from .cli_server import cli_server, free_port

#: An app that logs at each level through ``app.logger``, and answers a request whose
#: header fields are over the server's limit with Hypercorn's refusal (a warning on
#: Hypercorn's error log).
LOGGING_APP = textwrap.dedent(
    """
    from trioquart import TrioQuart

    app = TrioQuart(__name__)


    @app.get("/health")
    async def health():
        return "ok"


    @app.get("/log")
    async def log():
        for level in ("debug", "info", "warning", "error"):
            getattr(app.logger, level)("app says %s", level)
        return "logged"
    """
)


async def _log_lines(tmp_path: Path, *options: str) -> str:
    """What a server run with ``options`` writes to stderr for one ``/log`` request and one
    request refused for its headers (``max_header_count`` is 100)."""
    async with cli_server(tmp_path, *options, source=LOGGING_APP) as server:
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.url + "/log")).text == "logged"
            crowded = {f"x-{index}": "1" for index in range(120)}
            assert (await client.get(server.url + "/health", headers=crowded)).status_code == 431
        server.send_signal()
        assert await server.wait(10) == 0
    return server.stderr()


async def test_the_default_level_leaves_the_apps_logger_alone(tmp_path: Path) -> None:
    err = await _log_lines(tmp_path)
    # Flask's default: the app's logger lets warnings and errors through (to stderr).
    assert "app says warning" in err and "app says error" in err
    assert "app says info" not in err and "app says debug" not in err
    assert "Refused a request from" in err  # Hypercorn's error log, a warning


async def test_log_level_debug_reaches_the_apps_logger(tmp_path: Path) -> None:
    err = await _log_lines(tmp_path, "--log-level", "debug")
    for level in ("debug", "info", "warning", "error"):
        assert f"app says {level}" in err, err
    assert "Refused a request from" in err


async def test_log_level_error_quiets_the_app_and_hypercorns_warnings(tmp_path: Path) -> None:
    async with cli_server(
        tmp_path, "--log-level", "ERROR", "--reload", source=LOGGING_APP
    ) as server:
        async with httpx.AsyncClient() as client:
            await client.get(server.url + "/log")
            crowded = {f"x-{index}": "1" for index in range(120)}
            assert (await client.get(server.url + "/health", headers=crowded)).status_code == 431
        server.send_signal()
        assert await server.wait(10) == 0
    err = server.stderr()
    # In the worker process the reloader started (the level reaches the workers too).
    assert "app says error" in err
    assert "app says warning" not in err and "app says info" not in err
    assert "Refused a request from" not in err
    # trioquart's own lines (the supervisor's "is serving", its shutdown warning) too.
    assert "is serving" not in err and "shutting down" not in err
    # The access log is not governed by the level: it was asked for (by default).
    assert server.stdout().count('"GET /log 1.1" 200') == 1


async def test_a_bad_log_level_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "served_app.py").write_text(LOGGING_APP)
    process = await _run(tmp_path, "served_app:app", "--log-level", "loud")
    assert process.returncode == 2
    assert b"Invalid value for '--log-level'" in process.stderr


async def test_one_access_line_per_request_however_the_client_leaves(tmp_path: Path) -> None:
    """Hypercorn 0.18 logs a request twice (cut short, then with its status) when the client
    closes as soon as it has read the response, as curl does: about one time in ten."""
    requests = 0
    async with cli_server(tmp_path) as server:
        for _ in range(40):  # as curl does: read the whole response, then close at once
            async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
                await stream.send_all(b"GET /pid HTTP/1.1\r\nhost: x\r\n\r\n")
                with trio.fail_after(5):
                    await _read_response(stream)
            requests += 1
        async with httpx.AsyncClient() as client:  # keep-alive
            for _ in range(10):
                assert (await client.get(server.url + "/pid")).status_code == 200
                requests += 1
        # A request cut short (the client leaves before the response) has its line too.
        with trio.fail_after(5):
            async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
                await stream.send_all(b"GET /slow?seconds=0.3 HTTP/1.1\r\nhost: x\r\n\r\n")
                await trio.sleep(0.1)
        requests += 1
        await trio.sleep(0.5)
        server.send_signal()
        assert await server.wait(10) == 0
    lines = [
        line
        for line in server.stdout().splitlines()
        if '"GET /' in line and '"GET /health' not in line  # not cli_server's readiness probe
    ]
    assert len(lines) == requests, "\n".join(lines)
    assert sum('"GET /pid 1.1" 200' in line for line in lines) == 50
    assert sum('"GET /slow' in line for line in lines) == 1


async def _read_response(stream: trio.SocketStream) -> bytes:
    """Read one response whose body has a Content-Length: all of it, and no more."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += await stream.receive_some(1024)
    head, _, body = received.partition(b"\r\n\r\n")
    [length] = [
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    ]
    while len(body) < length:
        body += await stream.receive_some(1024)
    return body


# ---- TLS ----------------------------------------------------------------------------------


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def _write_cert(ca: trustme.CA, directory: Path, name: str) -> tuple[Path, Path]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return certfile, keyfile


async def test_https_and_http2_with_two_workers(tmp_path: Path, ca: trustme.CA) -> None:
    """The certificate reaches worker processes, and HTTP/2 over TLS is logged once too."""
    certfile, keyfile = _write_cert(ca, tmp_path, "server")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    options = ("--certfile", str(certfile), "--keyfile", str(keyfile), "--workers", "2")
    async with cli_server(tmp_path, *options, ready_path=None) as server:
        url = f"https://127.0.0.1:{server.port}/health"
        with trio.fail_after(20):
            while True:
                try:
                    async with httpx.AsyncClient(verify=context) as client:
                        first = await client.get(url)
                    break
                except httpx.TransportError:
                    await trio.sleep(0.1)
        async with httpx.AsyncClient(verify=context, http2=True) as client:
            seconds = [await client.get(url) for _ in range(5)]
        server.send_signal()
        assert await server.wait(10) == 0
    assert (first.http_version, first.text) == ("HTTP/1.1", "ok")
    assert {(r.http_version, r.text) for r in seconds} == {("HTTP/2", "ok")}
    assert server.stdout().count('"GET /health 2" 200') == 5
    assert "https://127.0.0.1" in server.stdout()


# ---- errors -------------------------------------------------------------------------------


async def _run(cwd: Path, *args: str) -> trio.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "trioquart.cli", "run", *args]
    with trio.fail_after(30):
        return await trio.run_process(
            command, cwd=cwd, capture_stdout=True, capture_stderr=True, check=False
        )


async def _run_error(tmp_path: Path, *options: str) -> tuple[int, str]:
    """Run the command, which is to fail at once: its exit code and its one line."""
    if not (tmp_path / "served_app.py").exists():
        (tmp_path / "served_app.py").write_text(LOGGING_APP)
    process = await _run(tmp_path, "served_app:app", *options)
    err = process.stderr.decode()
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("Error: ")
    return process.returncode, lines[0]


async def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for options in [(), ("--workers", "2"), ("--reload",)]:
            code, line = await _run_error(tmp_path, "--port", str(port), *options)
            assert code == 1, options
            assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in line
            assert "choose another port with --port or --bind" in line


async def test_the_second_of_two_binds_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = free_port()
        binds = ("--bind", f"127.0.0.1:{free}", "--bind", f"127.0.0.1:{port}")
        code, line = await _run_error(tmp_path, *binds)
    assert code == 1
    assert f"127.0.0.1:{port}: the address is already in use" in line
    with socket.socket() as again:  # the first bind was released
        again.bind(("127.0.0.1", free))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--bind", "nowhere.invalid:8000"), "'nowhere.invalid' is not a known host name"),
        (("--bind", "127.0.0.1:http"), "the port 'http' is not a number"),
        (("--bind", "127.0.0.1:70000"), "'127.0.0.1:70000' is not an address to listen on"),
        (("--bind", "fd://three"), "'fd://three' is not an address to listen on"),
        (("--host", "192.0.2.1"), "'192.0.2.1' is not an address of this machine"),
    ],
)
async def test_a_bad_bind_address(tmp_path: Path, options: tuple[str, ...], message: str) -> None:
    code, line = await _run_error(tmp_path, *options)
    assert code == 2
    assert message in line, line


async def test_tls_files_that_cannot_be_used(tmp_path: Path, ca: trustme.CA) -> None:
    certfile, keyfile = _write_cert(ca, tmp_path, "one")
    _, other_key = _write_cert(ca, tmp_path, "two")
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    cases = [
        (
            ("--certfile", "missing.pem", "--keyfile", str(keyfile)),
            "the certificate file 'missing.pem' does not exist: give --certfile the path",
        ),
        (
            ("--certfile", str(certfile), "--keyfile", "missing-key.pem"),
            "the key file 'missing-key.pem' does not exist: give --keyfile the path",
        ),
        (
            ("--certfile", str(tmp_path), "--keyfile", str(keyfile)),
            "is a directory: give --certfile the path of a PEM file",
        ),
        (("--certfile", str(certfile)), "--certfile needs --keyfile"),
        (("--keyfile", str(keyfile)), "--keyfile needs --certfile"),
        (
            ("--certfile", str(not_pem), "--keyfile", str(keyfile)),
            f"the certificate file {str(not_pem)!r} holds no PEM certificate",
        ),
        (
            ("--certfile", str(certfile), "--keyfile", str(not_pem)),
            f"cannot load the key {str(not_pem)!r}",
        ),
        (
            ("--certfile", str(certfile), "--keyfile", str(other_key)),
            f"the key {str(other_key)!r} does not belong to the certificate {str(certfile)!r}",
        ),
    ]
    for options, message in cases:
        code, line = await _run_error(tmp_path, *options)
        assert code == 2, options
        assert message in line, line


async def test_an_unreadable_key(tmp_path: Path, ca: trustme.CA) -> None:
    certfile, keyfile = _write_cert(ca, tmp_path, "one")
    keyfile.chmod(0)
    try:
        with keyfile.open("rb"):
            pytest.skip("this user reads files whatever their mode (root)")
    except PermissionError:
        pass
    code, line = await _run_error(tmp_path, "--certfile", str(certfile), "--keyfile", str(keyfile))
    assert code == 2
    assert f"cannot read the key file {str(keyfile)!r} (Permission denied)" in line
