"""Turn one run's JSON files into the reStructuredText tables of ``docs/benchmarks.rst``.

    python benchmarks/docs_tables.py benchmarks/results/20261124-084256

reads ``inprocess.json``, ``callgrind.json``, ``server.json`` and ``memory.json`` from that
directory (those present) and prints the tables, to paste over the "Results" section. A
``server.json`` with both servers gives a table per server and one of ``trioquart run``
against ``hypercorn -k trio``; one from before the server dimension, Hypercorn's alone.
The last table holds the ratios of issue 13 against its targets, read by ``chart.py``, so
that the table and the chart always show the same figures and judge them alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chart import read_run  # noqa: E402

NAMES = ("bare", "starlette", "trioquart", "quart-trio")
SERVER_COMMANDS = {"hypercorn": "hypercorn -k trio -w 1", "trioquart": "trioquart run"}
WEBSOCKET = "websocket echo"


def list_table(header: list[str], rows: list[list[str]], widths: list[int] | None = None) -> str:
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {' '.join(str(width) for width in widths)}")
    lines.append("")
    for row in [header, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}")
        lines.extend(f"     - {cell}" for cell in rest)
    return "\n".join(lines)


def _load(directory: Path, name: str) -> Any:
    path = directory / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _server_results(server: dict) -> dict:
    """``server.json``'s results by server. Before the server dimension (``"servers"`` in
    the document) they were Hypercorn's alone."""
    return server["results"] if "servers" in server else {"hypercorn": server["results"]}


def _ratio_with_range(value: float | None, paired: dict | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}×"
    if paired and paired.get("min") is not None and paired["min"] != paired["max"]:
        text += f" ({paired['min']:.2f}–{paired['max']:.2f})"
    return text


def _server_comparison(by_server: dict, table: dict) -> list[str]:
    """``trioquart run`` against ``hypercorn -k trio`` per endpoint and app (issue 10)."""
    rows = []
    for key, by_name in table.items():
        where = f"``{key}``" if key != WEBSOCKET else WEBSOCKET
        for name in NAMES:
            ratio = by_name.get(name)
            if ratio is None:
                continue
            figures = []
            for kind in ("hypercorn", "trioquart"):
                cell = by_server[kind][key][name]
                figures.append(
                    "failed"
                    if cell["error"] or cell["median"] is None
                    else f"{cell['median']:,.0f} ({cell['cpu_us_median']:,.0f} µs)"
                )
            rows.append(
                [
                    where,
                    name,
                    *figures,
                    _ratio_with_range(ratio["rate"], ratio.get("rate_paired")),
                    _ratio_with_range(ratio["cpu"], ratio.get("cpu_paired")),
                ]
            )
    return [
        "``trioquart run`` against ``hypercorn -k trio``, the same app under the same load: the "
        "rate ratio is trioquart run's over Hypercorn's, the CPU ratio Hypercorn's server CPU "
        "per request over trioquart run's (requests per CPU second relative to Hypercorn's; "
        "above 1, trioquart run is cheaper); medians, and in brackets the range of the ratio "
        "repetition by repetition:",
        "",
        list_table(
            ["endpoint", "app", "Hypercorn", "trioquart run", "rate ratio", "CPU ratio"],
            rows,
            [3, 2, 3, 3, 3, 3],
        ),
    ]


def tables(directory: Path) -> str:
    inprocess = _load(directory, "inprocess")
    callgrind = _load(directory, "callgrind")
    server = _load(directory, "server")
    memory = _load(directory, "memory")
    out: list[str] = []
    first = next(doc for doc in (inprocess, server, memory, callgrind) if doc)
    env = first["environment"]
    load = env.get("other_cpu_load")
    out.append(
        f"Measured on {env['date'][:10]} on {env['cpus']} CPUs ({env['cpu']}, {env['python']}, "
        f"trio {env['versions'].get('trio')}, Hypercorn {env['versions'].get('hypercorn')}), "
        f"trioquart at commit ``{env['trioquart_revision']}``"
        + (
            f"; other processes took {load:.0%} of the CPU during the run."
            if load is not None
            else "."
        )
    )

    if inprocess:
        results = inprocess["results"]
        rows = []
        for key, cells in results.items():
            row = [f"``{key}``" if key != WEBSOCKET else "websocket echo, round trips/s"]
            for name in NAMES:
                cell = cells.get(name)
                if not cell:
                    row.append("-")
                elif cell["error"]:
                    row.append("failed")
                elif key == WEBSOCKET:
                    row.append(f"{cell['median']:,.0f}")
                else:
                    row.append(f"{cell['median']:.1f} ({cell['min']:.1f}–{cell['max']:.1f})")
            rows.append(row)
        settings = inprocess["settings"]
        out += [
            "",
            f"In-process, µs per request (median of {settings['repetitions']}, min–max; lower "
            "is better) and websocket echo round trips per second over one connection "
            "(higher is better):",
            "",
            list_table(["endpoint", *NAMES], rows),
        ]

    if callgrind:
        for key, cells in callgrind["results"].items():
            parts = [
                f"{name} {cells[name]['instructions_per_request'] / 1000:,.1f} k"
                for name in NAMES
                if "instructions_per_request" in cells.get(name, {})
            ]
            if key.startswith("served "):
                where = f"``{key.removeprefix('served ')}`` served by trioquart's serve loop"
            else:
                where = f"in-process ``{key}``"
            out += ["", f"Instructions per {where} (callgrind): {', '.join(parts)}."]

    if server:
        by_server = _server_results(server)
        settings = server["settings"]
        # Hypercorn wrote trioquart run's access log too (the key is missing before that).
        logged = " --access-logfile -" if settings.get("access_log") else ""
        for kind, results in by_server.items():
            rows = []
            for key, cells in results.items():
                row = [f"``{key}``" if key != WEBSOCKET else "websocket echo"]
                for name in NAMES:
                    cell = cells.get(name)
                    if not cell:
                        row.append("-")
                    elif cell["error"] or cell["median"] is None:
                        row.append("failed")
                    else:
                        row.append(f"{cell['median']:,.0f} ({cell['cpu_us_median']:,.0f} µs)")
                rows.append(row)
            out += [
                "",
                f"Through ``{SERVER_COMMANDS[kind]}{logged if kind == 'hypercorn' else ''}`` "
                f"(median of {settings['repetitions']}): requests or round trips per second, "
                "and the server's CPU time per request in brackets:",
                "",
                list_table(["endpoint", *NAMES], rows),
            ]
        if server.get("server_ratios"):
            out += ["", *_server_comparison(by_server, server["server_ratios"])]

    if memory:
        results = memory["results"]

        def kib(name: str, key: str) -> str:
            value = results.get(name, {}).get(key)
            return f"{value / 1024:.1f} KiB" if value is not None else "-"

        def plain(name: str, key: str) -> str:
            value = results.get(name, {}).get(key)
            return f"{value:g}" if value is not None else "-"

        rows = [
            ["RSS", *[kib(name, "rss_median") for name in NAMES]],
            ["tracemalloc", *[kib(name, "traced_median") for name in NAMES]],
            ["trio tasks", *[plain(name, "tasks_median") for name in NAMES]],
        ]
        out += [
            "",
            f"Server memory per idle websocket, {memory['settings']['connections']:,} open:",
            "",
            list_table(["per connection", *NAMES], rows),
        ]

    chart = read_run(directory)
    rows = [
        [f"``{bar.key}``", f"{bar.ratio:.2f}×", bar.target.text, "met" if bar.met else "not met"]
        for bar in chart.bars
    ]
    out += [
        "",
        "Against the targets of issue 13, from the same run (the ratios the chart shows,"
        " trioquart's figure over Starlette's, or quart-trio's over trioquart's):",
        "",
        list_table(["measure", "ratio", "target", "met"], rows, [4, 2, 2, 2]),
    ]
    if chart.notes:
        out += ["", "Not in this run: " + "; ".join(chart.notes) + "."]
    # Wrap the prose; the tables (indented lines) stay as they are.
    wrapped = [
        block if block.startswith((".. ", "   ")) else textwrap.fill(block, 92)
        for block in "\n".join(out).split("\n\n")
    ]
    return "\n\n".join(wrapped) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="a run's output directory")
    args = parser.parse_args(argv)
    sys.stdout.write(tables(args.directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
