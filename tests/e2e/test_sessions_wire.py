"""Sessions through a real Hypercorn server, with httpx keeping the cookies."""

from __future__ import annotations

import httpx
import trio

from trioquart import TrioQuart, session
from trioquart.testing import serve_app


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.secret_key = "wire test key"

    @app.post("/login/<name>")
    async def login(name: str) -> str:
        session["user"] = name
        return "logged in"

    @app.get("/whoami")
    async def whoami() -> str:
        return session.get("user", "nobody")

    @app.get("/public")
    async def public() -> str:
        return "the same for everyone"

    @app.post("/logout")
    async def logout() -> str:
        session.pop("user", None)
        return "logged out"

    return app


async def test_session_set_in_one_request_is_read_in_the_next() -> None:
    app = make_app()
    with trio.fail_after(10):
        async with serve_app(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            anonymous = await client.get("/whoami")
            login = await client.post("/login/ada")
            whoami = await client.get("/whoami")
            public = await client.get("/public")
            logout = await client.post("/logout")
            after = await client.get("/whoami")
            # Another client (no cookies) is somebody else.
            async with httpx.AsyncClient(base_url=server.url) as stranger:
                theirs = await stranger.get("/whoami")

    assert anonymous.text == "nobody"
    assert anonymous.headers["vary"] == "Cookie"
    assert "set-cookie" not in anonymous.headers

    assert login.status_code == 200
    set_cookie = login.headers["set-cookie"]
    assert set_cookie.startswith("session=")
    assert "HttpOnly" in set_cookie
    assert login.headers["vary"] == "Cookie"

    assert whoami.text == "ada"
    assert whoami.headers["vary"] == "Cookie"  # read, not modified: still varies
    assert "set-cookie" not in whoami.headers

    assert public.text == "the same for everyone"
    assert "vary" not in public.headers

    assert logout.headers["vary"] == "Cookie"
    assert logout.headers["set-cookie"].startswith("session=;")
    assert after.text == "nobody"
    assert theirs.text == "nobody"
