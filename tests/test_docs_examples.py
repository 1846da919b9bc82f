"""The code of docs/migration.rst and docs/signals.rst, run.

The migration guide ports a Quart app to trioquart by changing its imports. The ported app
is ``examples/ported_from_quart.py`` (the guide includes it) and the test the guide shows is
the body of :func:`test_notes_walkthrough`, between its markers. The Quart listings in the
guide are checked against both, so the claim "only the imports change" stays true.
"""

from __future__ import annotations

import io
import logging
import re
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
import trio

import trioquart.signals as signals
from examples.ported_from_quart import Notebook, create_app
from trioquart import (
    Response,
    TrioQuart,
    abort,
    current_app,
    get_template_attribute,
    jsonify,
    render_template_string,
    request,
    send_file,
    stream_with_context,
    websocket,
)
from trioquart.json import dumps
from trioquart.json.provider import DefaultJSONProvider
from trioquart.testing import WebsocketDisconnectError, WebsocketResponseError
from trioquart.views import MethodView, View

TIMEOUT = 5
ROOT = Path(__file__).resolve().parent.parent
MIGRATION = ROOT / "docs" / "migration.rst"
EXAMPLE = ROOT / "examples" / "ported_from_quart.py"

# The template the guide shows, served by the example from its own folder.
INDEX_HTML = (ROOT / "examples" / "templates" / "index.html").read_text(encoding="utf-8")


@pytest.fixture
def app(tmp_path: Path) -> TrioQuart:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "index.html").write_text(INDEX_HTML, encoding="utf-8")
    return create_app(root_path=str(tmp_path))


def notes_of(app: TrioQuart) -> list[dict[str, Any]]:
    notebook: Notebook = app.extensions["notebook"]
    return notebook.notes


# ---- the ported app ---------------------------------------------------------------------


async def test_notes_walkthrough(app: TrioQuart) -> None:
    with trio.fail_after(TIMEOUT):
        # guide: start
        async with app.test_app() as test_app:  # runs the lifespan: background tasks work
            client = test_app.test_client()

            # Signed out: the API answers 401, and so does the websocket handshake.
            assert (await client.get("/notes/")).status_code == 401
            with pytest.raises(WebsocketResponseError) as denied:
                async with client.websocket("/notes/live") as ws:
                    await ws.receive()
            assert denied.value.response.status_code == 401

            # Signing in sets the session cookie, which the client sends from now on.
            response = await client.post("/login", form={"name": "ada"})
            assert response.status_code == 302

            response = await client.post("/notes/", json={"text": "buy oat milk"})
            assert response.status_code == 201

            async with client.websocket("/notes/live") as ws:
                await ws.send("call the plumber")
                assert (await ws.receive_json())["text"] == "call the plumber"

            page = await (await client.get("/")).get_data(as_text=True)
            assert "Signed in as ada." in page
            assert "call the plumber" in page

        # Leaving the block shut the app down, which waits for background tasks.
        assert app.extensions["notebook"].notes[0]["words"] == 3
        # guide: end


async def test_routes_and_blueprint(app: TrioQuart) -> None:
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        assert (await client.get("/notes/")).status_code == 401  # the blueprint's hook
        assert (await client.post("/notes/", json={"text": "x"})).status_code == 401
        await client.post("/login", form={"name": "bob"})
        response = await client.get("/notes/")
        assert response.status_code == 200
        assert await response.get_json() == {"notes": []}
        assert (await client.put("/notes/")).status_code == 405
        assert (await client.get("/nowhere")).status_code == 404


async def test_the_index_template_escapes_and_links(app: TrioQuart) -> None:
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        signed_out = await (await client.get("/")).get_data(as_text=True)
        assert 'action="/login"' in signed_out
        await client.post("/login", form={"name": "<eve>"})
        notes_of(app).append({"id": 1, "author": "<eve>", "text": "<script>x</script>"})
        page = await (await client.get("/")).get_data(as_text=True)
    assert "Signed in as &lt;eve&gt;." in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>" not in page


async def test_session_login_and_logout(app: TrioQuart) -> None:
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        response = await client.post("/login", form={"name": "ada"})
        assert response.headers["Location"] == "/"
        assert response.headers["Set-Cookie"].startswith("session=")
        assert "Signed in as ada." in await (await client.get("/")).get_data(as_text=True)
        response = await client.post("/logout")
        assert response.status_code == 302
        assert (await client.get("/notes/")).status_code == 401


async def test_websocket_needs_a_session_and_adds_notes(app: TrioQuart) -> None:
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        with pytest.raises(WebsocketResponseError) as denied:
            async with client.websocket("/notes/live"):
                pytest.fail("the handshake should have been denied")
        assert denied.value.response.status_code == 401
        await client.post("/login", form={"name": "ada"})
        async with client.websocket("/notes/live") as ws:
            await ws.send("one")
            await ws.send("two words")
            first = await ws.receive_json()
            second = await ws.receive_json()
    assert (first["id"], first["author"], first["text"]) == (1, "ada", "one")
    assert second["text"] == "two words"
    assert [note["text"] for note in notes_of(app)] == ["one", "two words"]


async def test_background_task_needs_the_app_to_be_serving(app: TrioQuart) -> None:
    # Plain test_client(): no lifespan, no app nursery, so add_background_task fails.
    app.testing = True
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        await client.post("/login", form={"name": "ada"})
        with pytest.raises(RuntimeError, match="not serving"):
            await client.post("/notes/", json={"text": "lost"})


async def test_the_module_level_app_is_importable_for_the_cli() -> None:
    from examples import ported_from_quart

    assert isinstance(ported_from_quart.app, TrioQuart)
    rules = {rule.rule for rule in ported_from_quart.app.url_map.iter_rules()}
    assert {"/", "/login", "/logout", "/notes/", "/notes/live"} <= rules


# ---- the guide's listings ---------------------------------------------------------------


def code_block(caption: str) -> str:
    """The content of the code block in migration.rst with this caption, dedented."""
    lines = MIGRATION.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f":caption: {caption}")
    body: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith("   "):
            break
        body.append(line)
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def without_imports(source: str) -> str:
    """``source`` from its first line of code after the imports."""
    return source[source.index("\nnotes = Blueprint(") :]


def test_the_quart_listing_differs_from_the_port_only_in_imports() -> None:
    quart_app = code_block("notes.py, written for Quart")
    assert "from quart import (" in quart_app
    ported = (
        without_imports(quart_app)
        .replace("asyncio.sleep", "trio.sleep")
        .replace("-> Quart:", "-> TrioQuart:")
        .replace("Quart(__name__", "TrioQuart(__name__")
    )
    assert ported == without_imports(EXAMPLE.read_text(encoding="utf-8"))
    # The import lists name the same things, Quart for TrioQuart.
    names = re.compile(r"from (\w+) import \(\n(.*?)\)", re.S)
    quart_names = names.search(quart_app)
    trio_names = names.search(EXAMPLE.read_text(encoding="utf-8"))
    assert quart_names is not None and trio_names is not None
    assert quart_names.group(1) == "quart" and trio_names.group(1) == "trioquart"
    assert quart_names.group(2).replace("Quart,", "TrioQuart,") == trio_names.group(2)


def test_the_quart_test_listing_is_the_test_that_runs() -> None:
    quart_test = code_block("tests/test_notes.py, written for Quart")
    assert "from quart.testing import WebsocketResponseError" in quart_test
    this_file = Path(__file__).read_text(encoding="utf-8")
    ran = this_file[this_file.index("# guide: start\n") : this_file.index("# guide: end")]
    ran = textwrap.dedent(ran.split("\n", 1)[1])
    shown = quart_test[quart_test.index("async def test_notes(app):\n") :]
    shown = textwrap.dedent(shown.split("\n", 1)[1])
    assert shown.strip() == ran.strip()


def test_the_guide_includes_the_template_and_the_example() -> None:
    text = MIGRATION.read_text(encoding="utf-8")
    assert ".. literalinclude:: ../examples/ported_from_quart.py" in text
    assert ".. literalinclude:: ../examples/templates/index.html" in text


# ---- the differences the guide lists ----------------------------------------------------


async def test_streaming_needs_no_stream_with_context_and_teardown_runs_after_sending() -> None:
    app = TrioQuart(__name__)
    events: list[Any] = []
    release = trio.Event()

    @app.get("/report")
    async def report() -> Any:
        async def lines() -> Any:
            yield "report for "
            yield request.args["user"]  # the request context is still there

        return lines()

    @app.get("/wrapped")
    async def wrapped() -> Any:
        @stream_with_context  # accepted, and changes nothing
        async def lines() -> Any:
            yield request.path

        return lines()

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        events.append("teardown")
        await release.wait()

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        async with client.request("/report", query_string={"user": "ada"}) as connection:
            await connection.send_complete()
            response = await connection.as_response()
            # The whole response has arrived while teardown is still running.
            assert await response.get_data() == b"report for ada"
            release.set()
        assert events == ["teardown"]
        assert await (await client.get("/wrapped")).get_data() == b"/wrapped"


async def test_get_template_attribute_is_awaited_twice(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "macros.html").write_text(
        "{% macro hello(name) %}Hello, {{ name }}!{% endmacro %}"
    )
    app = TrioQuart(__name__, root_path=str(tmp_path))
    with trio.fail_after(TIMEOUT):
        async with app.app_context():
            hello = await get_template_attribute("macros.html", "hello")
            assert str(await hello("<World>")) == "Hello, &lt;World&gt;!"


async def test_websocket_close_codes_and_denials() -> None:
    app = TrioQuart(__name__)  # not testing: errors are logged, as in production

    @app.websocket("/crash")
    async def crash() -> None:
        await websocket.accept()
        raise RuntimeError("after accept")

    @app.websocket("/forbidden")
    async def forbidden() -> None:
        await websocket.accept()
        abort(403)

    @app.websocket("/undecided")
    async def undecided() -> None:
        return None

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        for path, code in [("/crash", 1011), ("/forbidden", 4403)]:
            async with client.websocket(path) as ws:
                with pytest.raises(WebsocketDisconnectError) as closed:
                    await ws.receive()
            assert closed.value.code == code
        with pytest.raises(WebsocketResponseError) as denied:
            async with client.websocket("/undecided"):
                pytest.fail("the handshake should have been denied")
    assert denied.value.response.status_code == 403


async def test_response_get_json_silent_is_not_inverted() -> None:
    app = TrioQuart(__name__)

    @app.get("/")
    async def broken() -> Response:
        return Response("{oops", mimetype="application/json")

    response = await app.test_client().get("/")
    assert await response.get_json(silent=True) is None
    with pytest.raises(ValueError):
        await response.get_json()


async def test_max_content_length_applies_to_chunked_uploads() -> None:
    app = TrioQuart(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/upload")
    async def upload() -> str:
        return str(len(await request.get_data()))

    with trio.fail_after(TIMEOUT):
        async with app.test_client().request("/upload", method="POST") as connection:
            for _ in range(6):  # 30 bytes, no Content-Length
                await connection.send(b"12345")
            await connection.send_complete()
            response = await connection.as_response()
    assert response.status_code == 413


async def test_send_file_takes_flask_and_quart_names(tmp_path: Path) -> None:
    (tmp_path / "report.csv").write_text("a,b\n")
    app = TrioQuart(__name__, root_path=str(tmp_path))

    @app.get("/flask-names")
    async def flask_names() -> Response:
        return await send_file("report.csv", download_name="r.csv", max_age=60, as_attachment=True)

    @app.get("/quart-names")
    async def quart_names() -> Response:
        return await send_file(
            "report.csv", attachment_filename="r.csv", cache_timeout=60, as_attachment=True
        )

    @app.get("/default")
    async def default() -> Response:
        return await send_file(io.BytesIO(b"x"), mimetype="text/plain")

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        for path in ("/flask-names", "/quart-names"):
            response = await client.get(path)
            assert response.headers["Content-Disposition"] == "attachment; filename=r.csv"
            assert response.headers["Cache-Control"] == "public, max-age=60"
        response = await client.get("/default")
        assert response.headers["Cache-Control"] == "no-cache"  # not Quart's 12 hours
        ranged = await client.get("/flask-names", headers={"Range": "bytes=0-1"})
    assert ranged.status_code == 206  # conditional=True by default, as in Flask


async def test_background_task_errors_are_isolated(caplog: pytest.LogCaptureFixture) -> None:
    app = TrioQuart(__name__)
    done: list[str] = []
    failures: list[BaseException] = []

    async def fails() -> None:
        raise ValueError("mail server down")

    async def works() -> None:
        await trio.sleep(0.01)
        done.append(current_app.name)

    async def on_failure(sender: TrioQuart, exception: BaseException, **extra: Any) -> None:
        failures.append(exception)

    caplog.set_level(logging.CRITICAL)
    with trio.fail_after(TIMEOUT), signals.got_background_exception.connected_to(on_failure, app):
        async with app.test_app():
            app.add_background_task(fails)
            app.add_background_task(works)
    assert done == [app.name]
    assert [str(error) for error in failures] == ["mail server down"]


# ---- docs/signals.rst -------------------------------------------------------------------


async def test_sync_and_async_receivers_see_the_request() -> None:
    app = TrioQuart(__name__)
    seen: list[Any] = []

    @app.get("/")
    async def index() -> str:
        return "hi"

    async def on_finished(sender: TrioQuart, response: Response, **extra: Any) -> None:
        seen.append(("async", request.path, response.status_code))

    def on_started(sender: TrioQuart, **extra: Any) -> None:
        seen.append(("sync", request.path, threading.current_thread() is threading.main_thread()))

    with (
        trio.fail_after(TIMEOUT),
        signals.request_finished.connected_to(on_finished, app),
        signals.request_started.connected_to(on_started, app),
    ):
        await app.test_client().get("/")
    assert seen == [("sync", "/", False), ("async", "/", 200)]


async def test_message_signals_have_the_message_as_sender() -> None:
    app = TrioQuart(__name__)
    log: list[Any] = []

    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.send(await websocket.receive())

    async def on_received(message: str | bytes, **extra: Any) -> None:
        log.append((message, websocket.path, current_app.name))

    with trio.fail_after(TIMEOUT), signals.websocket_received.connected_to(on_received):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("ping")
            assert await ws.receive() == "ping"
    assert log == [("ping", "/ws", app.name)]


async def test_class_based_views_as_documented() -> None:
    app = TrioQuart(__name__)
    store: dict[int, Any] = {1: {"text": "first"}}

    class ShowPage(View):
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        async def dispatch_request(self, slug: str) -> str:
            return f"{self.greeting} {slug}"

    class NoteAPI(MethodView):
        async def get(self, note_id: int) -> Any:
            return store[note_id]

        async def delete(self, note_id: int) -> Any:
            del store[note_id]
            return "", 204

    app.add_url_rule("/pages/<slug>", view_func=ShowPage.as_view("page", "page:"))
    app.add_url_rule("/notes/<int:note_id>", view_func=NoteAPI.as_view("note"))
    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        assert await (await client.get("/pages/about")).get_data() == b"page: about"
        assert await (await client.get("/notes/1")).get_json() == {"text": "first"}
        assert (await client.head("/notes/1")).status_code == 200
        assert (await client.post("/notes/1")).status_code == 405
        assert (await client.delete("/notes/1")).status_code == 204
    assert NoteAPI.methods == {"GET", "DELETE"}


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents = cents
        self.currency = currency


class MoneyProvider(DefaultJSONProvider):
    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Money):
            return f"{o.cents / 100:.2f} {o.currency}"
        return DefaultJSONProvider.default(o)


async def test_json_provider_and_helpers_as_documented() -> None:
    class App(TrioQuart):
        json_provider_class = MoneyProvider

    app = App(__name__)

    @app.get("/price")
    async def price() -> Any:
        return {"price": Money(1999, "EUR"), "b": 1}

    @app.get("/list")
    async def as_list() -> Any:
        return jsonify(["x"])

    client = app.test_client()
    with trio.fail_after(TIMEOUT):
        assert await (await client.get("/price")).get_data() == b'{"b":1,"price":"19.99 EUR"}\n'
        assert await (await client.get("/list")).get_data() == b'["x"]\n'
        async with app.app_context():
            assert dumps({"b": 1, "a": Money(5, "EUR")}) == '{"a": "0.05 EUR", "b": 1}'
            assert await render_template_string("{{ m|tojson }}", m=Money(1, "EUR")) == (
                '"0.01 EUR"'
            )
    with pytest.raises(RuntimeError, match="application context"):
        from trioquart.json import jsonify as json_jsonify

        json_jsonify([1])


async def test_the_example_serves_its_page_from_its_own_folder() -> None:
    """As ``trioquart run examples.ported_from_quart:app`` serves it: templates next to the
    module."""
    from examples.ported_from_quart import app as served

    with trio.fail_after(TIMEOUT):
        async with served.test_app() as test_app:
            response = await test_app.test_client().get("/")
    assert response.status_code == 200
    assert b"<title>Notes</title>" in await response.get_data()
