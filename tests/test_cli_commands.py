"""The app's own commands (``app.cli``, blueprints' ``cli`` groups) as ``trioquart NAME``, the
``.env`` files, ``--debug``, and ``app.test_cli_runner()``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click
import pytest
import trio

from trioquart import Blueprint, TrioQuart, current_app, g
from trioquart.cli import ScriptInfo, pass_script_info
from trioquart.testing import TrioQuartCliRunner

from .cli_helpers import trioquart, write

COMMANDS_APP = textwrap.dedent(
    """
    import os
    from pathlib import Path

    import click
    import trio
    from trioquart import Blueprint, TrioQuart, current_app, g

    app = TrioQuart(__name__)
    app.config["NAME"] = "commands-app"
    users = Blueprint("users", __name__)


    @app.cli.command()
    @click.option("--who", default="world")
    def greet(who):
        "Say hello."
        click.echo(f"hello {who} from {current_app.config['NAME']}")


    @app.cli.command("async-greet")
    async def async_greet():
        await trio.sleep(0)
        click.echo(f"async hello from {current_app.config['NAME']}")


    @app.cli.command("self-run")
    def self_run():
        async def main():
            await trio.sleep(0)
            return current_app.config["NAME"]

        click.echo(f"ran {trio.run(main)}")


    @app.cli.command()
    def debug():
        click.echo(f"debug={current_app.debug} env={os.environ.get('TRIOQUART_DEBUG')}")


    @app.cli.command()
    def env():
        click.echo(",".join(os.environ.get(k, "-") for k in ("ONE", "TWO", "THREE")))


    @app.cli.command()
    def fail():
        raise click.ClickException("the command failed")


    @app.teardown_appcontext
    async def teardown(exc):
        await trio.sleep(0)
        Path(os.environ["TEARDOWN_MARKER"]).write_text(f"torn down, exc={exc!r}")


    @users.cli.command("create")
    @click.argument("name")
    def create_user(name):
        g.created = name
        click.echo(f"created {g.created} in {current_app.config['NAME']}")


    app.register_blueprint(users)
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "app.py", COMMANDS_APP)
    return tmp_path


def run_ok(cwd: Path, *args: str, **env: str) -> str:
    env.setdefault("TEARDOWN_MARKER", str(cwd / "teardown.txt"))
    completed = trioquart(cwd, *args, **env)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_app_commands_run_in_the_app_context(project: Path) -> None:
    assert run_ok(project, "greet", "--who", "you") == "hello you from commands-app\n"
    assert (project / "teardown.txt").read_text() == "torn down, exc=None"


def test_an_async_command_runs_under_trio(project: Path) -> None:
    assert run_ok(project, "async-greet") == "async hello from commands-app\n"


def test_a_command_may_run_trio_itself(project: Path) -> None:
    assert run_ok(project, "self-run") == "ran commands-app\n"


def test_blueprint_commands_are_a_group_named_after_it(project: Path) -> None:
    assert run_ok(project, "users", "create", "ada") == "created ada in commands-app\n"


def test_help_lists_the_apps_commands_with_trioquarts(project: Path) -> None:
    listing = run_ok(project, "--help")
    commands = listing.split("Commands:")[1].split()
    for name in ("async-greet", "greet", "routes", "run", "shell", "users"):
        assert name in commands
    assert "Say hello." in listing


def test_an_unknown_command_is_a_usage_error(project: Path) -> None:
    completed = trioquart(project, "nope")
    assert completed.returncode == 2
    assert "No such command 'nope'" in completed.stderr


def test_a_failing_command_exits_1_and_still_tears_down(project: Path) -> None:
    completed = trioquart(project, "fail", TEARDOWN_MARKER=str(project / "teardown.txt"))
    assert completed.returncode == 1
    assert "Error: the command failed" in completed.stderr
    assert (project / "teardown.txt").read_text().startswith("torn down, exc=ClickException(")


def test_debug_flag_reaches_the_app_and_the_environment(project: Path) -> None:
    assert run_ok(project, "--debug", "debug") == "debug=True env=1\n"
    assert run_ok(project, "--no-debug", "debug", TRIOQUART_DEBUG="1") == "debug=False env=0\n"
    assert run_ok(project, "debug", TRIOQUART_DEBUG="1") == "debug=True env=1\n"
    assert run_ok(project, "debug") == "debug=False env=None\n"


def test_dotenv_files_set_variables_that_are_not_set(project: Path) -> None:
    (project / ".trioquartenv").write_text("ONE=trioquartenv\nTWO=trioquartenv\n")
    (project / ".env").write_text("TWO=env\n")
    (project / "extra.env").write_text("THREE=extra\nONE=extra\n")
    assert run_ok(project, "env") == "trioquartenv,env,-\n"
    assert run_ok(project, "--env-file", "extra.env", "env") == "extra,env,extra\n"
    # The environment wins over every file.
    assert run_ok(project, "env", ONE="shell") == "shell,env,-\n"
    # The defaults can be skipped; a file given by name still loads.
    assert run_ok(project, "env", TRIOQUART_SKIP_DOTENV="1") == "-,-,-\n"
    assert run_ok(project, "-e", "extra.env", "env", TRIOQUART_SKIP_DOTENV="1") == "extra,-,extra\n"


def test_dotenv_files_are_found_in_parent_directories_and_may_name_the_app(
    project: Path,
) -> None:
    (project / "app.py").rename(project / "commands_app.py")
    (project / ".env").write_text("TRIOQUART_APP=commands_app\nONE=from-parent\n")
    below = project / "sub"
    below.mkdir()
    # The app module is in the project directory: put it on the path from below.
    out = run_ok(below, "env", PYTHONPATH=str(project))
    assert out == "from-parent,-,-\n"


def test_dotenv_can_set_debug_before_the_app_is_made(project: Path) -> None:
    (project / ".env").write_text("TRIOQUART_DEBUG=1\n")
    assert run_ok(project, "debug") == "debug=True env=1\n"


def test_a_missing_env_file_is_a_usage_error(project: Path) -> None:
    completed = trioquart(project, "--env-file", "missing.env", "env")
    assert completed.returncode == 2
    assert "'missing.env' does not exist" in completed.stderr


# ---- app.test_cli_runner ----------------------------------------------------------------


def make_app() -> TrioQuart:
    app = TrioQuart(__name__)
    app.config["NAME"] = "in-process"
    torn_down: list[BaseException | None] = []
    app.config["TORN_DOWN"] = torn_down

    @app.teardown_appcontext
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(exc)

    @app.cli.command()
    @click.argument("who")
    def greet(who: str) -> None:
        g.who = who
        click.echo(f"hello {g.who} from {current_app.config['NAME']}")

    @app.cli.command("async-greet")
    async def async_greet() -> None:
        await trio.lowlevel.checkpoint()
        click.echo(f"async hello from {current_app.config['NAME']}")

    @app.cli.command()
    @pass_script_info
    def info(script_info: ScriptInfo) -> None:
        click.echo(f"loaded {script_info.load_app().config['NAME']}")

    admin = Blueprint("admin", __name__, cli_group="admin")

    @admin.cli.command()
    def wipe() -> None:
        click.echo(f"wiped {current_app.config['NAME']}")

    app.register_blueprint(admin)
    return app


def test_test_cli_runner_invokes_the_apps_commands_without_an_import() -> None:
    app = make_app()
    runner = app.test_cli_runner()
    assert isinstance(runner, TrioQuartCliRunner)
    result = runner.invoke(args=["greet", "ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello ada from in-process\n"
    assert app.config["TORN_DOWN"] == [None]
    assert runner.invoke(args=["async-greet"]).output == "async hello from in-process\n"
    assert runner.invoke(args=["admin", "wipe"]).output == "wiped in-process\n"
    assert runner.invoke(args=["info"]).output == "loaded in-process\n"


def test_test_cli_runner_runs_a_command_object_in_the_app_context() -> None:
    app = make_app()
    result = app.test_cli_runner().invoke(app.cli.commands["greet"], ["bo"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello bo from in-process\n"


def test_test_cli_runner_runs_trioquarts_own_commands_on_the_app() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def ws() -> None:
        pass

    result = app.test_cli_runner().invoke(args=["routes"])
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.output.splitlines()[2:]] == [
        ["static", "GET", "/static/<path:filename>"],
        ["ws", "WS", "/ws"],
    ]


def test_test_cli_runner_class_can_be_replaced() -> None:
    class Runner(TrioQuartCliRunner):
        pass

    app = make_app()
    app.test_cli_runner_class = Runner  # type: ignore[assignment]
    runner = app.test_cli_runner(catch_exceptions=False)
    assert type(runner) is Runner
    assert runner.invoke(args=["greet", "cy"]).output == "hello cy from in-process\n"
