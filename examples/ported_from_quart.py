"""A small notes app, first written for Quart and then ported to trioquart.

The port changed the imports (``quart`` to ``trioquart``, ``Quart`` to ``TrioQuart``) and one
asyncio call (``asyncio.sleep`` to ``trio.sleep``); docs/migration.rst walks through it. The
index page renders ``templates/index.html`` (next to this module, or under ``root_path``);
the guide shows that template. From the repository root, serve it with::

    trioquart run examples.ported_from_quart:app

or ``hypercorn -k trio examples.ported_from_quart:app``.
"""

from __future__ import annotations

from typing import Any

import trio

from trioquart import (
    Blueprint,
    TrioQuart,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
    websocket,
)

notes = Blueprint("notes", __name__, url_prefix="/notes")


class Notebook:
    """The notes, kept in memory; a real app would use a database."""

    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []

    def add(self, author: str, text: str) -> dict[str, Any]:
        note = {"id": len(self.notes) + 1, "author": author, "text": text, "words": None}
        self.notes.append(note)
        return note


def notebook() -> Notebook:
    return current_app.extensions["notebook"]


async def count_words(note_id: int) -> None:
    """Slow work done after the response has gone (think: indexing the note for search)."""
    await trio.sleep(0.01)
    note = notebook().notes[note_id - 1]
    note["words"] = len(note["text"].split())


@notes.before_request
async def require_login() -> None:
    if g.user is None:
        abort(401)


@notes.get("/")
async def list_notes() -> Any:
    return {"notes": notebook().notes}


@notes.post("/")
async def add_note() -> Any:
    data = await request.get_json()
    note = notebook().add(g.user, data["text"])
    current_app.add_background_task(count_words, note["id"])
    return note, 201


@notes.websocket("/live")
async def live() -> None:
    user = session.get("user")
    if user is None:
        abort(401)  # before accepting: the client gets a 401 response, not a websocket
    while True:
        text = await websocket.receive()
        await websocket.send_json(notebook().add(user, text))


def create_app(root_path: str | None = None) -> TrioQuart:
    app = TrioQuart(__name__, root_path=root_path)
    app.config.from_mapping(SECRET_KEY="dev only: set a real secret in production")
    app.extensions["notebook"] = Notebook()
    app.register_blueprint(notes)

    @app.before_request
    async def load_user() -> None:
        g.user = session.get("user")

    @app.get("/")
    async def index() -> str:
        return await render_template("index.html", user=g.user, notes=notebook().notes)

    @app.post("/login")
    async def login() -> Any:
        form = await request.form
        session["user"] = form["name"]
        return redirect(url_for("index"))

    @app.post("/logout")
    async def logout() -> Any:
        session.pop("user", None)
        return redirect(url_for("index"))

    return app


app = create_app()
