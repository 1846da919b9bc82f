"""``trioquart run`` keeps Hypercorn's configuration surface: several binds, TLS with
HTTP/2, a Hypercorn config file (with trioquart's own settings in it), the access log."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from .cli_server import cli_server, free_port


async def test_no_access_log_writes_no_request_lines(tmp_path: Path) -> None:
    async with cli_server(tmp_path, "--no-access-log") as server:
        async with httpx.AsyncClient() as client:
            await client.get(server.url + "/pid")
        server.send_signal()
        assert await server.wait(10) == 0
    assert "GET /" not in server.stdout() + server.stderr()


async def test_the_access_log_has_one_line_per_request_by_default(tmp_path: Path) -> None:
    async with cli_server(tmp_path) as server:
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                await client.get(server.url + "/pid")
        server.send_signal()
        assert await server.wait(10) == 0
    assert server.stdout().count('"GET /pid 1.1" 200') == 3


async def test_several_binds(tmp_path: Path) -> None:
    first, second = free_port(), free_port()
    options = ("--bind", f"127.0.0.1:{first}", "--bind", f"127.0.0.1:{second}")
    async with cli_server(tmp_path, *options, port=first) as server:
        async with httpx.AsyncClient() as client:
            for port in (first, second):
                response = await client.get(f"http://127.0.0.1:{port}/health")
                assert response.text == "ok"
        server.send_signal()
        assert await server.wait(10) == 0
    assert f"http://127.0.0.1:{first}, http://127.0.0.1:{second}" in server.stdout()


async def test_a_hypercorn_config_file_with_trioquarts_settings(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text("include_server_header = false\nmax_header_count = 5\n")
    async with cli_server(tmp_path, "--config", str(config)) as server:
        async with httpx.AsyncClient() as client:
            plain = await client.get(server.url + "/health")
            crowded = await client.get(
                server.url + "/health", headers={f"x-{index}": "1" for index in range(10)}
            )
        server.send_signal()
        assert await server.wait(10) == 0
    assert plain.status_code == 200 and "server" not in plain.headers
    assert crowded.status_code == 431


async def test_a_config_file_that_cannot_be_read_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "served_app.py").write_text(
        "from trioquart import TrioQuart\napp = TrioQuart('x')\n"
    )
    process = await trio.run_process(
        [sys.executable, "-m", "trioquart.cli", "run", "served_app:app", "-c", "missing.toml"],
        cwd=tmp_path,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert process.returncode == 2
    assert b"cannot load 'missing.toml'" in process.stderr


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    return ca, certfile, keyfile


async def test_https_with_http2(tmp_path: Path, certificate: tuple[trustme.CA, Path, Path]) -> None:
    ca, certfile, keyfile = certificate
    context = ssl.create_default_context()
    ca.configure_trust(context)
    options = ("--certfile", str(certfile), "--keyfile", str(keyfile))
    async with cli_server(tmp_path, *options, ready_path=None) as server:
        url = f"https://127.0.0.1:{server.port}/health"
        responses: list[httpx.Response] = []
        with trio.fail_after(20):
            while not responses:
                for http2 in (False, True):
                    try:
                        async with httpx.AsyncClient(verify=context, http2=http2) as client:
                            responses.append(await client.get(url))
                    except httpx.TransportError:
                        responses.clear()
                        await trio.sleep(0.1)
                        break
        server.send_signal()
        assert await server.wait(10) == 0
    assert [(r.http_version, r.text) for r in responses] == [("HTTP/1.1", "ok"), ("HTTP/2", "ok")]


async def test_hypercorn_k_trio_still_serves_a_trioquart_app(tmp_path: Path) -> None:
    """The other way to serve an app (docs/deployment.rst says what it does not protect)."""
    (tmp_path / "served_app.py").write_text(
        "from trioquart import TrioQuart\napp = TrioQuart(__name__)\n\n"
        "@app.get('/')\nasync def index():\n    return 'served by hypercorn'\n"
    )
    port = free_port()
    command = [sys.executable, "-m", "hypercorn", "-k", "trio", "-b", f"127.0.0.1:{port}"]
    process = await trio.lowlevel.open_process([*command, "served_app:app"], cwd=tmp_path)
    try:
        with trio.fail_after(20):
            async with httpx.AsyncClient() as client:
                while True:
                    try:
                        response = await client.get(f"http://127.0.0.1:{port}/")
                        break
                    except httpx.TransportError:
                        await trio.sleep(0.1)
    finally:
        process.terminate()
        with trio.fail_after(10):
            await process.wait()
    assert response.text == "served by hypercorn"
