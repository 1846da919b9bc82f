"""Testing an app's command-line commands: :meth:`TrioQuart.test_cli_runner`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
from click.testing import CliRunner, Result

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..app import TrioQuart

__all__ = ["TrioQuartCliRunner"]


class TrioQuartCliRunner(CliRunner):
    """A :class:`click.testing.CliRunner` whose commands run against one app, without an
    import: ``app.test_cli_runner().invoke(args=["greet", "--name", "x"])``.

    By default the arguments go to the ``trioquart`` command itself, so they name any of the
    app's ``app.cli`` commands (with the app context pushed, as ``trioquart NAME`` does) or
    one of trioquart's own (``routes``). A command object can be given instead; it then runs
    with the app context pushed too. Either way ``@pass_script_info`` commands get a
    :class:`trioquart.cli.ScriptInfo` whose ``load_app()`` returns this app.
    """

    def __init__(self, app: TrioQuart, **kwargs: Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(  # type: ignore[override]
        self,
        cli: click.Command | None = None,
        args: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> Result:
        """Run ``cli`` (by default the ``trioquart`` command) with ``args``; see
        :meth:`click.testing.CliRunner.invoke` for the other arguments."""
        from ..cli import ScriptInfo, app_context_for_cli, main

        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app, load_dotenv_defaults=False)
        if cli is None:
            return super().invoke(main, args, **kwargs)
        with app_context_for_cli(self.app):
            return super().invoke(cli, args, **kwargs)
