"""Templates: rendering from template folders, autoescaping, context processors, filters,
globals and tests, blueprint folders, streaming, macros and the template signals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
import pytest
import trio
import trio.lowlevel
from blinker import NamedSignal
from markupsafe import Markup

from trioquart import Blueprint, TrioQuart, g, request
from trioquart.signals import before_render_template, template_rendered
from trioquart.templating import (
    Environment,
    get_template_attribute,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
    stream_with_context,
)


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def make_app(root: Path, files: dict[str, str] | None = None, **kwargs: Any) -> TrioQuart:
    """An app whose root path is ``root``, with ``files`` in its ``templates`` folder."""
    write(root / "templates", files or {})
    app = TrioQuart(__name__, root_path=str(root), **kwargs)
    app.testing = True
    return app


async def body(app: TrioQuart, path: str = "/") -> str:
    response = await app.test_client().get(path)
    assert response.status_code == 200, await response.get_data(as_text=True)
    text: str = await response.get_data(as_text=True)
    return text


@contextmanager
def recording(signal: NamedSignal) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    async def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append({"sender": sender, **kwargs})

    with signal.connected_to(receiver):
        yield calls


async def test_render_template_from_the_app_folder(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {"page.html": "{{ title }} at {{ request.path }} in {{ config['ENV_NAME'] }}: {{ g.who }}"},
    )
    app.config["ENV_NAME"] = "tests"

    @app.route("/somewhere")
    async def somewhere() -> str:
        g.who = "me"
        return await render_template("page.html", title="Hello")

    assert await body(app, "/somewhere") == "Hello at /somewhere in tests: me"


async def test_template_folder_argument(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere", {"t.txt": "from elsewhere"})
    app = TrioQuart(__name__, root_path=str(tmp_path), template_folder="elsewhere")

    @app.route("/")
    async def index() -> str:
        return await render_template("t.txt")

    assert await body(app) == "from elsewhere"


async def test_missing_template_raises(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.route("/")
    async def index() -> str:
        return await render_template("absent.html")

    with pytest.raises(jinja2.TemplateNotFound):
        await app.test_client().get("/")


async def test_autoescape_in_html_not_in_txt(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"a.html": "{{ value }}", "a.txt": "{{ value }}"})
    value = "<script>alert(1)</script>"

    @app.route("/<ext>")
    async def page(ext: str) -> str:
        return await render_template(f"a.{ext}", value=value)

    assert await body(app, "/html") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert await body(app, "/txt") == value


async def test_render_template_string_escapes_and_sees_the_request(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.route("/string")
    async def string() -> str:
        return await render_template_string(
            "{{ request.args['q'] }} {{ safe }} {{ 1 + n }}", safe=Markup("<b>ok</b>"), n=2
        )

    response = await app.test_client().get("/string", query_string={"q": "<i>"})
    assert await response.get_data(as_text=True) == "&lt;i&gt; <b>ok</b> 3"


async def test_list_of_names_renders_the_first_that_exists(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"second.html": "second", "third.html": "third"})

    @app.route("/")
    async def index() -> str:
        return await render_template(["first.html", "second.html", "third.html"])

    assert await body(app) == "second"


async def test_context_processors_sync_and_async(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.context_processor
    def sync_processor() -> dict[str, Any]:
        return {"from_sync": f"sync:{request.path}", "overridden": "processor"}

    @app.context_processor
    async def async_processor() -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return {"from_async": "async"}

    @app.route("/p")
    async def index() -> str:
        return await render_template_string(
            "{{ from_sync }} {{ from_async }} {{ overridden }}", overridden="given"
        )

    assert await body(app, "/p") == "sync:/p async given"


async def test_blueprint_context_processor_only_for_its_routes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    outer = Blueprint("outer", __name__, url_prefix="/outer")
    inner = Blueprint("inner", __name__, url_prefix="/inner")

    @app.context_processor
    def app_values() -> dict[str, Any]:
        return {"who": "app", "app_only": "yes"}

    @outer.context_processor
    def outer_values() -> dict[str, Any]:
        return {"who": "outer", "outer_only": "yes"}

    @inner.context_processor
    async def inner_values() -> dict[str, Any]:
        return {"who": "inner"}

    source = "{{ who }} {{ app_only }} {{ outer_only | default('-') }}"

    @app.route("/")
    async def plain() -> str:
        return await render_template_string(source)

    @outer.route("/")
    async def in_outer() -> str:
        return await render_template_string(source)

    @inner.route("/")
    async def in_inner() -> str:
        return await render_template_string(source)

    outer.register_blueprint(inner)
    app.register_blueprint(outer)
    assert await body(app, "/") == "app yes -"
    assert await body(app, "/outer/") == "outer yes yes"
    # The innermost blueprint's processor runs last, so its value wins.
    assert await body(app, "/outer/inner/") == "inner yes yes"


async def test_app_context_processor_from_a_blueprint(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    bp = Blueprint("bp", __name__)

    @bp.app_context_processor
    def everywhere() -> dict[str, Any]:
        return {"shared": "everywhere"}

    app.register_blueprint(bp)

    @app.route("/")
    async def index() -> str:
        return await render_template_string("{{ shared }}")

    assert await body(app) == "everywhere"


async def test_filters_globals_and_tests(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.template_filter()
    def shout(value: str) -> str:
        return value.upper() + "!"

    @app.template_filter("twice")
    def double(value: str) -> str:
        return value * 2

    @app.template_global()
    def answer() -> int:
        return 42

    @app.template_global("fetch")
    async def fetch_value() -> str:
        await trio.lowlevel.checkpoint()
        return "fetched"

    @app.template_test()
    def even(value: int) -> bool:
        return value % 2 == 0

    @app.route("/")
    async def index() -> str:
        return await render_template_string(
            "{{ 'hi' | shout }} {{ 'ab' | twice }} {{ answer() }} {{ fetch() }}"
            " {{ 4 is even }} {{ 3 is even }}"
        )

    assert await body(app) == "HI! abab 42 fetched True False"


async def test_blueprint_registered_filters_globals_and_tests(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    bp = Blueprint("bp", __name__)

    @bp.app_template_filter()
    def reverse(value: str) -> str:
        return value[::-1]

    @bp.app_template_global()
    def greeting() -> str:
        return "hello"

    @bp.app_template_test()
    def short(value: str) -> bool:
        return len(value) < 3

    app.register_blueprint(bp)

    @app.route("/")
    async def index() -> str:
        return await render_template_string(
            "{{ 'abc' | reverse }} {{ greeting() }} {{ 'ab' is short }}"
        )

    assert await body(app) == "cba hello True"


async def test_blueprint_template_folder(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"shared.html": "app's shared"})
    write(tmp_path / "bp" / "bp_templates", {"bp/page.html": "bp page", "shared.html": "bp's"})
    bp = Blueprint("bp", __name__, template_folder="bp_templates", root_path=str(tmp_path / "bp"))

    @bp.route("/page")
    async def page() -> str:
        return await render_template("bp/page.html")

    @bp.route("/shared")
    async def shared() -> str:
        return await render_template("shared.html")

    app.register_blueprint(bp)
    assert await body(app, "/page") == "bp page"
    # The app's own folder is searched before any blueprint's, as in Flask.
    assert await body(app, "/shared") == "app's shared"


async def test_templates_extend_and_include_across_folders(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {"base.html": "<main>{% block content %}{% endblock %}</main>"},
    )
    write(
        tmp_path / "bp" / "templates",
        {
            "child.html": "{% extends 'base.html' %}{% block content %}"
            "{% include 'part.html' %}{% endblock %}",
            "part.html": "[{{ request.endpoint }}]",
        },
    )
    bp = Blueprint("bp", __name__, template_folder="templates", root_path=str(tmp_path / "bp"))

    @bp.route("/")
    async def child() -> str:
        return await render_template("child.html")

    app.register_blueprint(bp)
    assert await body(app) == "<main>[bp.child]</main>"


async def test_explain_template_loading_logs_the_attempts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(tmp_path, {"found.html": "found"})
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True

    @app.route("/")
    async def index() -> str:
        return await render_template("found.html")

    with caplog.at_level(logging.INFO):
        assert await body(app) == "found"
    assert "Locating template 'found.html'" in caplog.text


async def test_stream_template_arrives_in_several_chunks(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "stream.html": "<p>{{ request.path }}</p>{% for item in items %}<i>{{ item }}</i>"
            "{% endfor %}<footer>{{ g.mark }}</footer>"
        },
    )
    release = trio.Event()

    async def items() -> AsyncIterator[str]:
        yield "one"
        # The response has started before the template is done: the first pieces are
        # already with the client while this waits.
        await release.wait()
        yield "two"

    @app.route("/streamed")
    async def streamed() -> Any:
        g.mark = "end"
        return await stream_template("stream.html", items=items())

    async with app.test_client().request("/streamed") as connection:
        await connection.send_complete()  # the (empty) request body
        chunks: list[str] = []
        with trio.fail_after(2):
            while "one" not in "".join(chunks):
                chunks.append((await connection.receive()).decode())
        release.set()
        with trio.fail_after(2):
            while chunk := await connection.receive():
                chunks.append(chunk.decode())
    assert connection.status_code == 200
    assert len(chunks) > 2
    assert "".join(chunks) == "<p>/streamed</p><i>one</i><i>two</i><footer>end</footer>"


async def test_stream_template_string_and_template_rendered_at_the_end(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    seen: list[str] = []

    async def items() -> AsyncIterator[str]:
        for word in ("a", "b"):
            seen.append(f"produce {word}")
            yield word

    @app.route("/")
    async def index() -> Any:
        return await stream_template_string(
            "{{ request.method }}{% for w in words %}-{{ w }}{% endfor %}", words=items()
        )

    async def on_rendered(sender: Any, **kwargs: Any) -> None:
        seen.append("rendered")

    with template_rendered.connected_to(on_rendered):
        assert await body(app) == "GET-a-b"
    assert seen == ["produce a", "produce b", "rendered"]


async def test_stream_with_context_is_a_pass_through(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.route("/decorated")
    async def decorated() -> Any:
        @stream_with_context
        async def generate() -> AsyncIterator[str]:
            yield "path="
            await trio.lowlevel.checkpoint()
            yield request.path

        return generate()

    @app.route("/wrapped")
    async def wrapped() -> Any:
        async def generate() -> AsyncIterator[str]:
            yield request.path

        return stream_with_context(generate())

    assert await body(app, "/decorated") == "path=/decorated"
    assert await body(app, "/wrapped") == "/wrapped"


async def test_get_template_attribute_calls_a_macro(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        {
            "macros.html": "{% macro hello(name) %}Hello <b>{{ name }}</b>!{% endmacro %}"
            "{% set version = 3 %}"
        },
    )

    @app.route("/")
    async def index() -> str:
        hello = await get_template_attribute("macros.html", "hello")
        version = await get_template_attribute("macros.html", "version")
        # In Jinja's async mode a macro call gives a coroutine.
        html = await hello("<World>")
        assert isinstance(html, Markup)
        return f"{html} v{version}"

    assert await body(app) == "Hello <b>&lt;World&gt;</b>! v3"


async def test_template_signals(tmp_path: Path) -> None:
    app = make_app(tmp_path, {"signal.html": "{{ value }}"})

    @app.route("/")
    async def index() -> str:
        return await render_template("signal.html", value="v")

    with recording(before_render_template) as before, recording(template_rendered) as after:
        assert await body(app) == "v"
    assert len(before) == len(after) == 1
    for call in (before[0], after[0]):
        assert call["sender"] is app
        assert call["template"].name == "signal.html"
        assert call["context"]["value"] == "v"
        assert call["context"]["request"].path == "/"


async def test_sync_signal_receivers_work(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    names: list[str | None] = []

    def receiver(sender: Any, template: jinja2.Template, context: dict[str, Any]) -> None:
        names.append(template.name)

    @app.route("/")
    async def index() -> str:
        return await render_template_string("x")

    with template_rendered.connected_to(receiver):
        assert await body(app) == "x"
    assert names == [None]


async def test_render_in_an_app_context_without_a_request(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.config["NAME"] = "cfg"
    async with app.app_context():
        g.value = "gee"
        text = await render_template_string(
            "{{ config['NAME'] }} {{ g.value }} {% if request %}req{% else %}no request{% endif %}"
            " {{ get_flashed_messages() }}"
        )
    assert text == "cfg gee no request []"


async def test_render_in_a_websocket(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    from trioquart import websocket

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(
            await render_template_string(
                "{{ websocket.path }} {% if request %}req{% else %}no request{% endif %}"
            )
        )

    async with app.test_client().websocket("/ws") as connection:
        with trio.fail_after(2):
            assert await connection.receive() == "/ws no request"


async def test_url_for_and_tojson_in_templates(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.route("/user/<name>")
    async def user(name: str) -> str:
        return await render_template_string(
            "{{ url_for('user', name='x y') }} {{ data | tojson }}", data={"b": "<"}
        )

    assert await body(app, "/user/a") == '/user/x%20y {"b": "\\u003c"}'


async def test_environment_options(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.jinja_options = {"trim_blocks": True, "enable_async": False}
    env = app.jinja_env
    assert isinstance(env, Environment)
    assert env.is_async  # async mode cannot be turned off
    assert env.trim_blocks
    assert env.auto_reload is False

    reloading = make_app(tmp_path / "r")
    reloading.config["TEMPLATES_AUTO_RELOAD"] = True
    assert reloading.jinja_env.auto_reload is True

    debugging = make_app(tmp_path / "d")
    debugging.debug = True
    assert debugging.jinja_env.auto_reload is True


async def test_subclass_hooks_environment_class_and_context(tmp_path: Path) -> None:
    class MyEnvironment(Environment):
        pass

    class MyApp(TrioQuart):
        jinja_environment = MyEnvironment  # type: ignore[assignment]

        async def update_template_context(self, context: dict[str, Any]) -> None:
            context.setdefault("extra", "from the subclass")

    app = MyApp(__name__, root_path=str(tmp_path))
    app.testing = True

    @app.route("/")
    async def index() -> str:
        return await render_template_string("{{ extra }}")

    assert isinstance(app.jinja_env, MyEnvironment)
    assert await body(app) == "from the subclass"
