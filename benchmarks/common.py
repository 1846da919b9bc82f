"""Helpers the benchmark scripts share: statistics, the environment line, name options."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import signal
import statistics
import subprocess
import time
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

PACKAGES = ("trioquart", "starlette", "quart", "quart-trio", "hypercorn", "trio", "anyio")


def summarize(samples: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of the samples (None for each when there are none)."""
    if not samples:
        return {"median": None, "min": None, "max": None}
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
    }


def format_ratio(value: float | None, target: str | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}×"
    return f"{text} ({target})" if target else text


def parse_names(
    given: Iterable[str] | None,
    allowed: Sequence[str],
    what: str,
    default: Sequence[str] | None = None,
) -> list[str]:
    """Names from repeated and/or comma-separated options, in the canonical order
    (``allowed``'s); without any, ``default`` (or all of ``allowed``)."""
    if not given:
        return list(default if default is not None else allowed)
    chosen = {part.strip() for option in given for part in option.split(",") if part.strip()}
    unknown = chosen - set(allowed)
    if unknown:
        raise SystemExit(
            f"unknown {what}(s): {', '.join(sorted(unknown))}; choose from {', '.join(allowed)}"
        )
    return [name for name in allowed if name in chosen]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_revision() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        revision = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", here, "status", "--porcelain", "--untracked-files=no", "--", "trioquart"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{revision}{'+modified' if dirty else ''}" if revision else "unknown"


class OtherLoad:
    """How much of the machine's CPU other processes used while the benchmark ran: the busy
    time in ``/proc/stat`` minus this process's and its (waited-for) children's CPU time."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as stat:
                values = [int(value) for value in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        busy = (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
        own = 0.0
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            usage = resource.getrusage(who)
            own += usage.ru_utime + usage.ru_stime
        return time.monotonic(), busy, own

    def share(self) -> float | None:
        """The fraction (0-1) of all CPUs' time used by others since this was made."""
        end = self._sample()
        if self._start is None or end is None:
            return None
        elapsed = (end[0] - self._start[0]) * (os.cpu_count() or 1)
        if elapsed <= 0:
            return None
        others = (end[1] - self._start[1]) - (end[2] - self._start[2])
        return max(0.0, min(1.0, others / elapsed))


_STARTED: dict[str, Any] = {}


def note_start() -> None:
    """Record the date and trioquart's revision as the run starts (the code may change while
    a long run goes on: each script reports the revision it started with)."""
    _STARTED["date"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    _STARTED["revision"] = _git_revision()


def environment(as_dict: bool = False, other_load: float | None = None) -> Any:
    """What the figures were measured on: date, machine, Python and package versions."""
    if not _STARTED:
        note_start()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info = {
        "date": _STARTED["date"],
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "trioquart_revision": _STARTED["revision"],
        "other_cpu_load": other_load,
        "versions": versions,
    }
    if as_dict:
        return info
    packages = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    text = (
        f"# {info['date']} | {info['python']} | {info['cpu']} ({info['cpus']} CPUs) | "
        f"trioquart @ {info['trioquart_revision']}\n# {packages}"
    )
    if other_load is not None:
        text += f"\n# other processes used {other_load:.0%} of the machine's CPU during the run"
        if other_load > 0.1:
            text += (
                " -- WARNING: the machine was busy with other work, so the timings are "
                "noisier than usual; compare ratios within this run only"
            )
    return text


def stop_process(process: subprocess.Popen[Any], *, group: bool = False) -> None:
    """SIGTERM ``process`` (its whole process group with ``group``), then SIGKILL it if it
    has not exited within 10 s; a process that is gone already is left alone."""
    if process.poll() is not None:
        return
    kill = os.killpg if group else os.kill
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            kill(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
