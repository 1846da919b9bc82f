"""Finding the app: ``--app``, ``TRIOQUART_APP``, factories, paths, the current directory, and
the one-line errors (exit code 2) for every way of naming it wrong. Each runs the real
command in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .cli_helpers import COMMAND_TIMEOUT, clean_env, trioquart, write

#: An app module whose ``which`` command says which app (and config) was found.
APP_MODULE = textwrap.dedent(
    """
    import click
    from trioquart import TrioQuart, current_app


    def make(label):
        app = TrioQuart(__name__)
        app.config["LABEL"] = label

        @app.cli.command()
        def which():
            click.echo(f"label={current_app.config['LABEL']}")

        return app
    """
)


def which(cwd: Path, *args: str, **env: str) -> str:
    completed = trioquart(cwd, *args, "which", **env)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.mark.parametrize(
    ("target", "body", "label"),
    [
        ("mod", "app = make('app')", "app"),
        ("mod", "application = make('application')", "application"),
        ("mod", "web = make('only one')", "only one"),
        ("mod", "def create_app():\n    return make('create_app')", "create_app"),
        ("mod", "def make_app():\n    return make('make_app')", "make_app"),
        ("mod:web", "web = make('named')\napp = make('not this')", "named"),
        ("mod:holder.web", "class holder:\n    web = make('dotted')", "dotted"),
        ("mod:create", "def create():\n    return make('factory by name')", "factory by name"),
        (
            "mod:create('a', size=2, flags=[True, None])",
            "def create(name, size, flags):\n    return make(f'{name}-{size}-{flags}')",
            "a-2-[True, None]",
        ),
        (
            'mod:create(label="with:colon")',
            "def create(label):\n    return make(label)",
            "with:colon",
        ),
        ("mod.py", "app = make('a path')", "a path"),
    ],
)
def test_the_app_is_found_as_flask_finds_one(
    tmp_path: Path, target: str, body: str, label: str
) -> None:
    write(tmp_path / "mod.py", APP_MODULE + "\n\n" + body + "\n")
    assert which(tmp_path, "--app", target) == f"label={label}"
    assert which(tmp_path, TRIOQUART_APP=target) == f"label={label}"


def test_app_attribute_wins_over_a_factory_and_other_apps(tmp_path: Path) -> None:
    write(
        tmp_path / "mod.py",
        APP_MODULE + "\nother = make('other')\napp = make('app')\n"
        "def create_app():\n    raise AssertionError('not called')\n",
    )
    assert which(tmp_path, "--app", "mod") == "label=app"


def test_a_path_into_a_package_imports_it_as_a_package_module(tmp_path: Path) -> None:
    """``src/pkg/web.py`` is ``pkg.web`` with ``src`` on the path, so relative imports work."""
    write(tmp_path / "src" / "pkg" / "__init__.py", "")
    write(tmp_path / "src" / "pkg" / "settings.py", "LABEL = 'from the package'\n")
    write(
        tmp_path / "src" / "pkg" / "web.py",
        APP_MODULE + "\nfrom .settings import LABEL\napp = make(LABEL)\n",
    )
    assert which(tmp_path, "--app", "src/pkg/web.py") == "label=from the package"
    assert which(tmp_path, "--app", "src/pkg/web.py:app") == "label=from the package"


@pytest.mark.parametrize("filename", ["app.py", "asgi.py"])
def test_with_no_target_app_py_or_asgi_py_is_used(tmp_path: Path, filename: str) -> None:
    write(tmp_path / filename, APP_MODULE + f"\napp = make({filename!r})\n")
    assert which(tmp_path) == f"label={filename}"


def test_asgi_py_comes_before_app_py(tmp_path: Path) -> None:
    write(tmp_path / "app.py", APP_MODULE + "\napp = make('app.py')\n")
    write(tmp_path / "asgi.py", APP_MODULE + "\napp = make('asgi.py')\n")
    assert which(tmp_path) == "label=asgi.py"


def test_the_option_wins_over_the_variable(tmp_path: Path) -> None:
    write(tmp_path / "one.py", APP_MODULE + "\napp = make('one')\n")
    write(tmp_path / "two.py", APP_MODULE + "\napp = make('two')\n")
    assert which(tmp_path, "--app", "two", TRIOQUART_APP="one") == "label=two"


def test_the_console_script_finds_an_app_in_the_current_directory(tmp_path: Path) -> None:
    """The installed script's ``sys.path`` starts with its bin directory, not the current one."""
    script = Path(sys.executable).with_name("trioquart")
    if not script.exists():
        pytest.skip("the trioquart console script is not installed next to this Python")
    write(tmp_path / "app.py", APP_MODULE + "\napp = make('script')\n")
    completed = subprocess.run(
        [str(script), "which"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "label=script"


# ---- errors ---------------------------------------------------------------------------


def assert_one_clear_error(stderr: str, *expected: str) -> list[str]:
    """The message: ``Error: ...`` on the first line, no traceback, no importlib frames, no
    usage lines; the lines after it (the user's frame) are returned."""
    lines = stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("Error: "), stderr
    for text in expected:
        assert text in stderr, stderr
    assert "Traceback" not in stderr
    assert "importlib" not in stderr and "<frozen" not in stderr
    assert "Usage:" not in stderr
    return lines[1:]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("no_such_module_xyz", "could not import 'no_such_module_xyz': no module named"),
        ("mod:missing", "module 'mod' has no attribute 'missing'"),
        ("mod:LABEL", "'mod:LABEL' is a str, not an ASGI app"),
        ("mod:make('x', y)", "the arguments of 'make' must be literals"),
        ("mod:make(1, 2)", "mod:make(1, 2): the factory cannot be called so"),
        ("mod:none()", "mod:none() returned NoneType, not an app"),
        ("mod:make(", "is not of the form MODULE:APP"),
        ("not a module", "is not of the form MODULE:APP"),
        ("nowhere/app.py", "there is no file or directory 'nowhere/app.py'"),
        ("empty", "module 'empty' has no trioquart app"),
        ("twice", "has several trioquart apps (twice:one, twice:two)"),
    ],
)
def test_a_bad_target_is_one_line_and_exit_code_2(
    tmp_path: Path, target: str, expected: str
) -> None:
    write(tmp_path / "mod.py", APP_MODULE + "\nLABEL = 'x'\ndef none():\n    return None\n")
    write(tmp_path / "empty.py", "x = 1\n")
    write(tmp_path / "twice.py", APP_MODULE + "\none = make('1')\ntwo = make('2')\n")
    for command in (["--app", target, "routes"], ["routes", target], ["--app", target, "shell"]):
        completed = trioquart(tmp_path, *command)
        assert completed.returncode == 2, (command, completed.stderr)
        if command[0] == "routes":  # the argument's error names the argument
            assert "Invalid value for 'MODULE:APP'" in completed.stderr
            assert expected in completed.stderr
            assert "Traceback" not in completed.stderr
        else:
            assert assert_one_clear_error(completed.stderr, expected) == []


def test_no_app_anywhere(tmp_path: Path) -> None:
    completed = trioquart(tmp_path, "routes")
    assert completed.returncode == 2
    assert_one_clear_error(completed.stderr, "no app to load", "--app", "app.py")


def test_an_import_error_inside_the_app_shows_the_users_frame(tmp_path: Path) -> None:
    """A module the app imports is missing: the error names it and shows the line of the
    user's module that imports it, not the frames of importlib in between."""
    write(tmp_path / "app.py", "import settings\n")
    helper = write(tmp_path / "settings.py", "import os\nimport no_such_dependency_xyz\n")
    completed = trioquart(tmp_path, "routes")
    assert completed.returncode == 2
    frame = assert_one_clear_error(
        completed.stderr,
        "importing 'app' failed: ModuleNotFoundError: No module named 'no_such_dependency_xyz'",
    )
    assert frame == [f"  at {helper}:2, in <module>", "    import no_such_dependency_xyz"]


def test_an_error_raised_by_a_factory_shows_the_factorys_frame(tmp_path: Path) -> None:
    module = write(
        tmp_path / "app.py",
        """
        from trioquart import TrioQuart


        def create_app():
            app = TrioQuart(__name__)
            raise RuntimeError("DATABASE_URL is not set")
        """,
    )
    completed = trioquart(tmp_path, "--app", "app:create_app()", "routes")
    assert completed.returncode == 2
    frame = assert_one_clear_error(
        completed.stderr,
        "calling app:create_app() failed: RuntimeError: DATABASE_URL is not set",
    )
    assert frame == [
        f"  at {module}:6, in create_app",
        '    raise RuntimeError("DATABASE_URL is not set")',
    ]


def test_an_error_raised_inside_a_library_shows_the_users_line_that_called_it(
    tmp_path: Path,
) -> None:
    module = write(
        tmp_path / "app.py",
        "from trioquart import TrioQuart\n\napp = TrioQuart(__name__, static_host='example.com')\n",
    )
    completed = trioquart(tmp_path, "routes")
    assert completed.returncode == 2
    frame = assert_one_clear_error(completed.stderr, "ValueError: static_host is needed")
    assert frame[0] == f"  at {module}:3, in <module>"


def test_a_syntax_error_shows_its_line(tmp_path: Path) -> None:
    module = write(tmp_path / "app.py", "x = 1\ndef broken(:\n    pass\n")
    completed = trioquart(tmp_path, "routes")
    assert completed.returncode == 2
    frame = assert_one_clear_error(completed.stderr, "importing 'app' failed: SyntaxError")
    assert frame == [f"  at {module}:2", "    def broken(:"]


def test_an_unknown_command_with_a_broken_app_says_why(tmp_path: Path) -> None:
    write(tmp_path / "app.py", "raise RuntimeError('broken on purpose')\n")
    completed = trioquart(tmp_path, "greet")
    assert completed.returncode == 2
    assert "RuntimeError: broken on purpose" in completed.stderr
    assert "No such command 'greet'" in completed.stderr
    assert "Traceback" not in completed.stderr
