"""``trioquart.quart_patch``: ``quart`` resolves to trioquart for apps that opt in, and only
for them. Each case runs in a fresh interpreter, because the patch is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def check(code: str) -> str:
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quart_names_are_trioquarts_objects() -> None:
    output = check(
        """
        import trioquart.quart_patch
        import quart
        import trioquart
        from quart import Blueprint, Quart, Response, current_app, g, request, websocket
        from quart.datastructures import FileStorage
        from quart.json.provider import DefaultJSONProvider
        from quart.testing.utils import sentinel
        from quart.typing import (
            HeadersValue, ResponseReturnValue, RouteCallable, StatusCode, TestClientProtocol,
            WebsocketCallable,
        )
        from quart.wrappers import Response as WrappedResponse
        import trioquart.datastructures, trioquart.json.provider, trioquart.testing.utils

        assert Quart is trioquart.TrioQuart
        assert quart.app.Quart is trioquart.TrioQuart
        assert request is trioquart.request and websocket is trioquart.websocket
        assert current_app is trioquart.current_app and g is trioquart.g
        assert Blueprint is trioquart.Blueprint and Response is trioquart.Response
        assert WrappedResponse is trioquart.Response
        assert FileStorage is trioquart.datastructures.FileStorage
        assert DefaultJSONProvider is trioquart.json.provider.DefaultJSONProvider
        assert sentinel is trioquart.testing.utils.sentinel
        assert StatusCode is int
        # The aliases are runtime objects that an extension can combine with `|`.
        print(ResponseReturnValue | None is not None, RouteCallable | WebsocketCallable is not None)
        print(repr(quart))
        """
    )
    assert output.splitlines() == ["True True", "<module 'quart': trioquart's trioquart>"]


def test_every_name_quart_exports_is_there() -> None:
    """Each name the real Quart's top-level module and ``quart.typing`` define exists once
    the patch is in (read from the installed Quart, in a process of its own)."""
    listed = check(
        """
        import types
        import quart, quart.typing
        names = [n for n, v in vars(quart).items()
                 if not n.startswith("_") and not isinstance(v, types.ModuleType)]
        print(" ".join(sorted(set(names) - {"annotations"})))
        typing_names = [n for n in vars(quart.typing) if n[0].isupper()]
        print(" ".join(sorted(typing_names)))
        """
    ).splitlines()
    top_level, typing_names = listed[0].split(), listed[1].split()
    assert "Quart" in top_level and "request" in top_level
    output = check(
        f"""
        import trioquart.quart_patch
        import quart, quart.typing
        top_missing = [n for n in {top_level!r} if not hasattr(quart, n)]
        # Standard-library names quart.typing happens to import are not part of its API.
        ignored = {{"AbstractAsyncContextManager", "AsyncGenerator", "Awaitable", "Callable",
                   "CookieJar", "Iterator", "Mapping", "Protocol", "Sequence", "TracebackType",
                   "Union", "TYPE_CHECKING", "Any",
                   # The shapes of Quart's own ASGI classes (app.asgi_http_class and so
                   # on), which trioquart's ASGI layer does not take.
                   "ASGIHTTPProtocol", "ASGILifespanProtocol", "ASGIWebsocketProtocol"}}
        typing_missing = [n for n in {typing_names!r} if n not in ignored
                          and not hasattr(quart.typing, n)]
        print("top", top_missing)
        print("typing", typing_missing)
        """
    )
    assert output.splitlines() == ["top []", "typing []"]


def test_installing_twice_is_harmless() -> None:
    output = check(
        """
        import sys
        import trioquart.quart_patch
        trioquart.quart_patch.install()
        trioquart.quart_patch.install()
        from trioquart.quart_patch import QuartFinder
        print(sum(isinstance(f, QuartFinder) for f in sys.meta_path))
        import quart
        print(quart.Quart.__name__)
        """
    )
    assert output.split() == ["1", "TrioQuart"]


def test_installing_after_quart_was_imported_says_what_to_move() -> None:
    result = run_python(
        """
        import quart
        import trioquart.quart_patch
        """
    )
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("trioquart.quart_patch.QuartAlreadyImported: quart was imported")
    assert "Move `import trioquart.quart_patch` to the top of the app module" in last_line


def test_a_part_of_quart_trioquart_lacks_is_a_clear_import_error() -> None:
    result = run_python(
        """
        import trioquart.quart_patch
        import quart.asgi
        """
    )
    assert result.returncode == 1
    assert (
        "ModuleNotFoundError: quart.asgi is part of Quart that trioquart has no counterpart for"
        in result.stderr
    )


def test_nothing_changes_without_the_opt_in() -> None:
    output = check(
        """
        import sys
        import trioquart
        import quart
        print(quart.Quart is trioquart.TrioQuart, quart.request is trioquart.request)
        print(any(type(f).__name__ == "QuartFinder" for f in sys.meta_path))
        """
    )
    assert output.split() == ["False", "False", "False"]


@pytest.mark.parametrize(
    "module", ["quart_cors", "quart_auth", "quart_schema", "quart_rate_limiter"]
)
def test_each_extension_imports(module: str) -> None:
    output = check(
        f"""
        import trioquart.quart_patch
        import sys
        import {module}
        print(sys.modules["quart"].Quart.__module__)
        """
    )
    assert output.strip() == "trioquart.app"
