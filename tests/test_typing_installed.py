"""trioquart's types reach a user's project: mypy, run on a small app outside this repository,
finds the installed trioquart (in development, the editable install) through its py.typed
marker, and checks the user's code against it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_APP = textwrap.dedent(
    """
    from trioquart import TrioQuart, request

    app = TrioQuart(__name__)


    @app.get("/")
    async def index() -> str:
        return request.path


    reveal_type(app)
    port: int = app.name  # the deliberate error: a str is not an int
    """
)


def test_mypy_finds_trioquarts_types_from_a_users_project(tmp_path: Path) -> None:
    (tmp_path / "user_app.py").write_text(USER_APP)
    # A configuration of the user's own, so that nothing of this repository's applies.
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--show-error-codes",
            "user_app.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert "import-not-found" not in output and "import-untyped" not in output, output
    assert 'Revealed type is "trioquart.app.TrioQuart"' in output, output
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert len(errors) == 1, output
    assert errors[0].startswith("user_app.py:13: error: Incompatible types in assignment")
    assert errors[0].endswith("[assignment]")
    assert completed.returncode == 1
