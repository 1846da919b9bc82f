"""Message flashing: flash in one request, get_flashed_messages in the next."""

from __future__ import annotations

from typing import Any

import pytest

from trioquart import TrioQuart, redirect, session
from trioquart.flashing import flash, get_flashed_messages
from trioquart.signals import message_flashed
from trioquart.templating import render_template_string


def make_app(secret: str | None = "secret") -> TrioQuart:
    app = TrioQuart(__name__)
    app.testing = True
    app.config["SECRET_KEY"] = secret

    @app.route("/flash")
    async def flash_some() -> Any:
        await flash("Saved")
        await flash("Careful", "warning")
        await flash("Broken", "error")
        return redirect("/show")

    return app


async def test_flash_survives_a_redirect_and_is_consumed() -> None:
    app = make_app()

    @app.route("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages()}

    client = app.test_client()
    response = await client.get("/flash", follow_redirects=True)
    assert await response.get_json() == {"messages": ["Saved", "Careful", "Broken"]}
    # Shown once: the next page has nothing left.
    response = await client.get("/show")
    assert await response.get_json() == {"messages": []}


async def test_flash_without_following_the_redirect_keeps_the_cookie() -> None:
    app = make_app()

    @app.route("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages()}

    client = app.test_client()
    response = await client.get("/flash")
    assert response.status_code == 302
    assert "session=" in response.headers["Set-Cookie"]
    response = await client.get("/show")
    assert await response.get_json() == {"messages": ["Saved", "Careful", "Broken"]}
    # A client without the cookie sees nothing.
    fresh = await app.test_client().get("/show")
    assert await fresh.get_json() == {"messages": []}


async def test_categories_and_category_filter() -> None:
    app = make_app()

    @app.route("/show")
    async def show() -> Any:
        return {
            "pairs": get_flashed_messages(with_categories=True),
            "problems": get_flashed_messages(category_filter=["warning", "error"]),
            "errors": get_flashed_messages(with_categories=True, category_filter=("error",)),
            "single": get_flashed_messages(category_filter="message"),
        }

    client = app.test_client()
    response = await client.get("/flash", follow_redirects=True)
    assert await response.get_json() == {
        # Repeated calls in one request see the same messages.
        "pairs": [["message", "Saved"], ["warning", "Careful"], ["error", "Broken"]],
        "problems": ["Careful", "Broken"],
        "errors": [["error", "Broken"]],
        "single": ["Saved"],
    }


async def test_flashed_messages_in_a_template() -> None:
    app = make_app()

    @app.route("/show")
    async def show() -> str:
        return await render_template_string(
            "{% for category, message in get_flashed_messages(with_categories=true) %}"
            "<p class='{{ category }}'>{{ message }}</p>{% endfor %}"
        )

    response = await app.test_client().get("/flash", follow_redirects=True)
    assert await response.get_data(as_text=True) == (
        "<p class='message'>Saved</p><p class='warning'>Careful</p><p class='error'>Broken</p>"
    )


async def test_messages_are_kept_in_the_session_as_flask_keeps_them() -> None:
    app = make_app()

    @app.route("/raw")
    async def raw() -> Any:
        return {"stored": [list(pair) for pair in session.get("_flashes", [])]}

    client = app.test_client()
    await client.get("/flash")
    response = await client.get("/raw")
    assert await response.get_json() == {
        "stored": [["message", "Saved"], ["warning", "Careful"], ["error", "Broken"]]
    }


async def test_message_flashed_signal() -> None:
    app = make_app()
    calls: list[tuple[Any, str, str]] = []

    async def receiver(sender: Any, message: str, category: str) -> None:
        calls.append((sender, message, category))

    with message_flashed.connected_to(receiver):
        await app.test_client().get("/flash")
    assert calls == [
        (app, "Saved", "message"),
        (app, "Careful", "warning"),
        (app, "Broken", "error"),
    ]


async def test_flash_needs_a_secret_key() -> None:
    app = make_app(secret=None)
    with pytest.raises(RuntimeError, match="secret key"):
        await app.test_client().get("/flash")


async def test_get_flashed_messages_without_a_session_is_empty() -> None:
    app = make_app(secret=None)

    @app.route("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages()}

    response = await app.test_client().get("/show")
    assert await response.get_json() == {"messages": []}


async def test_flash_outside_a_request_fails() -> None:
    app = make_app()
    async with app.app_context():
        assert get_flashed_messages() == []
        with pytest.raises(RuntimeError, match="request"):
            await flash("nowhere")
    with pytest.raises(RuntimeError, match="application context"):
        get_flashed_messages()
