"""Running the ``trioquart`` command for real, in a subprocess, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: Seconds a command (not a server) may take before the test fails.
COMMAND_TIMEOUT = 60


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any TRIOQUART_ variable of the test run's own, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRIOQUART_")}
    env.update(extra)
    return env


def trioquart(
    cwd: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m trioquart.cli ARGS`` in ``cwd``, bounded by :data:`COMMAND_TIMEOUT`."""
    return subprocess.run(
        [sys.executable, "-m", "trioquart.cli", *args],
        cwd=cwd,
        env=clean_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path
