"""docs/configuration.rst lists every configuration key trioquart reads, with its default.

The keys are found in the source (``config["KEY"]``, ``config.get("KEY")``,
``config.setdefault``), in the app's ``default_config`` and in the broadcast ``DEFAULTS``;
each must have an entry on the page, and each entry's default must be the real one.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from trioquart import TrioQuart
from trioquart.broadcast import DEFAULTS as BROADCAST_DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.rst"

# An entry: the key as a definition-list term, then "Default ``VALUE``." on the next line.
ENTRY = re.compile(r"^``([A-Z][A-Z0-9_]+)``\n {3}Default ``(.+?)``", re.MULTILINE)
USED = re.compile(r"""config(?:\[|\.get\(|\.setdefault\()\s*["']([A-Z][A-Z0-9_]+)["']""")


def documented() -> dict[str, str]:
    entries = ENTRY.findall(PAGE.read_text())
    keys = [key for key, _ in entries]
    assert len(keys) == len(set(keys)), "a key is documented twice"
    return dict(entries)


def keys_used_in_source() -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "trioquart").rglob("*.py"):
        used.update(USED.findall(path.read_text()))
    return used


def as_written(value: Any) -> str:
    """A default as the page writes it: its repr, and timedeltas by their days."""
    if isinstance(value, timedelta):
        return f"timedelta(days={value.days})"
    return repr(value)


def all_defaults() -> dict[str, Any]:
    return {**TrioQuart.default_config, **BROADCAST_DEFAULTS}


def test_the_source_is_scanned() -> None:
    # Guards the scan itself: these are read as config["..."] in trioquart's modules.
    assert {"BODY_TIMEOUT", "WEBSOCKET_QUEUE_SIZE", "BROADCAST_URL"} <= keys_used_in_source()


def test_every_key_used_in_trioquart_is_documented() -> None:
    missing = keys_used_in_source() - set(documented())
    assert not missing, f"config keys used in trioquart/ but not on the page: {sorted(missing)}"


def test_every_default_key_is_documented() -> None:
    missing = set(all_defaults()) - set(documented())
    assert not missing, f"default config keys not on the page: {sorted(missing)}"


def test_nothing_undocumented_is_on_the_page() -> None:
    """Every key on the page is one trioquart has a default for (no stale entries)."""
    stale = set(documented()) - set(all_defaults())
    assert not stale, f"keys on the page that trioquart does not have: {sorted(stale)}"


@pytest.mark.parametrize("key", sorted(all_defaults()))
def test_the_documented_default_is_the_real_one(key: str) -> None:
    assert documented()[key] == as_written(all_defaults()[key])
