"""Draw one run's ratios to Starlette, against issue 13's targets, as an SVG bar chart.

    python benchmarks/chart.py benchmarks/results/20261124-084256
    python benchmarks/chart.py RUN_DIR --out docs/_static/benchmark-ratios.svg   # the default

reads ``inprocess.json``, ``callgrind.json``, ``server.json`` and ``memory.json`` from a
directory that ``benchmarks/run.sh`` wrote (those present) and writes one SVG: a bar per
measure, trioquart's figure over Starlette's (and, in a group of its own, quart-trio's over
trioquart's), each with its target drawn as a mark and labelled with its value and whether
it meets the target. Measures the run lacks are listed in a note at the bottom.

The SVG is written as text, with no plotting library, so that the benchmarks need nothing
more to draw it and the same JSON always gives the same bytes (regenerating the docs' copy
changes git only when the figures do).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "_static" / "benchmark-ratios.svg"
WEBSOCKET = "websocket echo"
IN_PROCESS_ENDPOINTS = ("GET /", "GET /json", "GET /items/7?q=x", "POST /json")
SERVED_ENDPOINTS = ("/", "/items/7?q=x", WEBSOCKET)
SERVER_LABELS = {"trioquart": "trioquart run", "hypercorn": "hypercorn -k trio"}

# Layout, in SVG user units (pixels at 100 %). The label column is sized for the longest
# row label ("GET /items/7?q=x"), the value column for "12.34× not met (≥ 1.0×)".
WIDTH = 760
MARGIN = 16
LABEL_END = 150  # row labels end here (right-aligned)
PLOT_START = 160
PLOT_WIDTH = 390
VALUE_START = PLOT_START + PLOT_WIDTH + 14
ROW_HEIGHT = 22
BAR_HEIGHT = 14
GROUP_TITLE_HEIGHT = 24
AXIS_HEIGHT = 20
GROUP_GAP = 14
NOTE_LINE = 16
FONT = "font-family='DejaVu Sans, Verdana, Arial, sans-serif'"
# Okabe and Ito's blue and vermillion: told apart with every common colour-vision
# deficiency. In grey print they come out alike, so a bar that misses its target is also
# hatched, and its label says "not met" anyway.
MET_COLOUR = "#0072B2"
NOT_MET_COLOUR = "#D55E00"
NOT_MET_FILL = "url(#not-met)"
HATCH = (
    "<defs><pattern id='not-met' width='6' height='6' patternUnits='userSpaceOnUse' "
    f"patternTransform='rotate(45)'><rect width='6' height='6' fill='{NOT_MET_COLOUR}'/>"
    "<rect width='2' height='6' fill='white'/></pattern></defs>"
)
INK = "#1a1a1a"
GRID = "#d9d9d9"


@dataclass(frozen=True)
class Target:
    """An issue 13 target for a ratio: at most ``limit`` (lower is better) or at least."""

    limit: float
    at_most: bool

    def met(self, ratio: float) -> bool:
        """Judged on the ratio as the label shows it (two decimals), so that a label never
        reads "2.50× not met (≤ 2.5×)"."""
        shown = round(ratio, 2)
        return shown <= self.limit if self.at_most else shown >= self.limit

    @property
    def text(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.limit:g}×"


def at_most(limit: float) -> Target:
    """A target for a cost (time, instructions, CPU, memory): lower is better."""
    return Target(limit, at_most=True)


def at_least(limit: float) -> Target:
    """A target for a rate, or for how much slower a peer is: higher is better."""
    return Target(limit, at_most=False)


@dataclass(frozen=True)
class Bar:
    """One measure: ``key`` names it uniquely (the SVG's ``data-measure``), ``label`` is
    the row's text within its group."""

    key: str
    label: str
    ratio: float
    target: Target

    @property
    def met(self) -> bool:
        return self.target.met(self.ratio)

    @property
    def value_text(self) -> str:
        return f"{self.ratio:.2f}× {'met' if self.met else 'not met'} ({self.target.text})"


@dataclass
class Group:
    """Bars drawn on one shared axis, under one heading."""

    title: str
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Chart:
    """Everything the SVG shows, read from one run's JSON before any layout."""

    title: str
    subtitle: str
    groups: list[Group]
    notes: list[str]

    @property
    def bars(self) -> list[Bar]:
        return [bar for group in self.groups for bar in group.bars]


# Reading the run


def _load(directory: Path, name: str) -> Any:
    path = directory / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


OURS = ("trioquart", "starlette")
QUART_TRIO = ("quart-trio", "trioquart")


def _figure(cells: dict, name: str, figure: str) -> float | None:
    """A framework's figure from a row of results: None if it failed, is absent or is not
    a positive number (which no ratio can be made of)."""
    cell = cells.get(name) or {}
    value = None if cell.get("error") else cell.get(figure)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _missing(cells: dict, pair: tuple[str, str], figure: str) -> str:
    """Why a ratio could not be made, for the note that replaces its bar."""
    if not cells:
        return "not measured in this run"
    for name in pair:
        cell = cells.get(name)
        if not cell:
            return f"{name} not measured"
        if cell.get("error"):
            return f"{name} failed"
        if _figure(cells, name, figure) is None:
            return f"{name} has no {figure}"
    return "no figure"  # pragma: no cover - only reached with both figures present


def _add(
    group: Group,
    notes: list[str],
    where: tuple[str, str],
    cells: dict,
    figure: str,
    target: Target,
    pair: tuple[str, str] = OURS,
) -> None:
    """Add the bar for ``pair[0]``'s ``figure`` over ``pair[1]``'s in one row of results,
    ``where`` being the measure's key and its row label; or, when either figure is
    missing, a note that says which and why, so that a gap in the chart is never silent."""
    key, label = where
    numerator, denominator = (_figure(cells, name, figure) for name in pair)
    if numerator is None or denominator is None:
        notes.append(f"{key}: {_missing(cells, pair, figure)}")
    else:
        group.bars.append(Bar(key, label, numerator / denominator, target))


def _inprocess_groups(document: dict, notes: list[str]) -> list[Group]:
    """trioquart/starlette µs per request (≤ 2.5×), and quart-trio/trioquart (≥ 3×): the
    second in a group of its own, as its ratio runs the other way round."""
    results = document["results"]
    ours = Group("In-process, µs per request: trioquart ÷ Starlette (lower is better)")
    theirs = Group("In-process, µs per request: quart-trio ÷ trioquart (higher is better)")
    for key in IN_PROCESS_ENDPOINTS:
        cells = results.get(key, {})
        _add(ours, notes, (f"in-process {key}", key), cells, "median", at_most(2.5))
        where = (f"in-process quart-trio {key}", key)
        _add(theirs, notes, where, cells, "median", at_least(3), QUART_TRIO)
    return [ours, theirs]


def _callgrind_groups(document: dict, notes: list[str]) -> list[Group]:
    """Instructions per in-process request (or round trip), trioquart/starlette; and per
    served request, the whole server's, which is the server CPU per request of the served
    targets (≤ 1×) counted without the noise of a served run."""
    group = Group("Instructions per request (callgrind): trioquart ÷ Starlette (lower is better)")
    served = Group(
        "Instructions per served request (callgrind, trioquart's serve loop): "
        "trioquart ÷ Starlette (lower is better)"
    )
    targets = {"GET /": 1.8, "GET /items/7?q=x": 1.5, WEBSOCKET: 1.0}
    for key, limit in targets.items():
        cells = document["results"].get(key, {})
        where = (f"callgrind {key}", key)
        _add(group, notes, where, cells, "instructions_per_request", at_most(limit))
    for key in SERVED_ENDPOINTS[:2]:
        cells = document["results"].get(f"served GET {key}", {})
        where = (f"callgrind served GET {key}", f"GET {key}")
        _add(served, notes, where, cells, "instructions_per_request", at_most(1))
    return [group, served]


def _server_groups(document: dict, notes: list[str]) -> list[Group]:
    """Per server, the rate (≥ 1×) and the server's CPU per request (≤ 1×), trioquart's
    app over Starlette's under the same server. A ``server.json`` from before the server
    dimension (no ``"servers"``) holds Hypercorn's results alone."""
    by_server = document["results"] if "servers" in document else {"hypercorn": document["results"]}
    groups = []
    for kind, server in SERVER_LABELS.items():
        results = by_server.get(kind)
        if results is None:
            notes.append(f"served by {server}: not in this run")
            continue
        rate = Group(f"Served by {server}, requests/s: trioquart ÷ Starlette (higher is better)")
        cpu = Group(
            f"Served by {server}, server CPU per request: trioquart ÷ Starlette (lower is better)"
        )
        for key in SERVED_ENDPOINTS:
            cells = results.get(key, {})
            label = key if key == WEBSOCKET else f"GET {key}"
            _add(rate, notes, (f"{server} {label} rate", label), cells, "median", at_least(1))
            where = (f"{server} {label} CPU", label)
            _add(cpu, notes, where, cells, "cpu_us_median", at_most(1))
        groups += [rate, cpu]
    return groups


def _memory_group(document: dict, notes: list[str]) -> Group:
    """The server's RSS per idle websocket, trioquart/starlette (≤ 0.9×)."""
    group = Group("Memory per idle websocket: trioquart ÷ Starlette (lower is better)")
    _add(group, notes, ("memory RSS", "RSS"), document["results"], "rss_median", at_most(0.9))
    return group


def read_run(directory: Path) -> Chart:
    """The chart's content: a group per kind of measure, in the order of the docs' page,
    with each file the run lacks, and each measure missing from a file, as a note."""
    documents = {
        name: _load(directory, name) for name in ("inprocess", "callgrind", "server", "memory")
    }
    present = [document for document in documents.values() if document]
    if not present:
        raise SystemExit(f"{directory}: none of inprocess, callgrind, server, memory.json")
    notes: list[str] = []
    groups: list[Group] = []
    quart_trio: list[Group] = []
    if documents["inprocess"]:
        ours, theirs = _inprocess_groups(documents["inprocess"], notes)
        groups.append(ours)
        quart_trio.append(theirs)
    else:
        notes.append("in-process: no inprocess.json in this run")
    if documents["callgrind"]:
        groups += _callgrind_groups(documents["callgrind"], notes)
    else:
        notes.append(
            "callgrind: no callgrind.json (run.sh skips it with --quick or without valgrind)"
        )
    if documents["server"]:
        groups += _server_groups(documents["server"], notes)
    else:
        notes.append("served: no server.json (run.sh skips it without wrk)")
    if documents["memory"]:
        groups.append(_memory_group(documents["memory"], notes))
    else:
        notes.append("memory: no memory.json in this run")
    groups = [group for group in [*groups, *quart_trio] if group.bars]

    environment = present[0]["environment"]
    revisions = list(dict.fromkeys(doc["environment"]["trioquart_revision"] for doc in present))
    date = str(environment["date"])[:16].replace("T", " ")
    title = f"trioquart against Starlette: run of {date}, commit {', '.join(revisions)}"
    subtitle = f"{environment['cpus']} CPUs ({environment['cpu']}), {environment['python']}"
    loads = [doc["environment"].get("other_cpu_load") for doc in present]
    busiest = max((load for load in loads if load is not None), default=None)
    if busiest is not None:
        subtitle += f"; other processes took up to {busiest:.0%} of the CPU"
    return Chart(title, subtitle, groups, notes)


# Layout


def axis_step(largest: float) -> float:
    """The tick spacing: the smallest of 0.25, 0.5, 1, 2, 5, 10, 20, ... that puts at most
    six intervals under ``largest``, so that tick labels never crowd."""
    for step in (0.25, 0.5):
        if largest / step <= 6:
            return step
    magnitude = 10 ** math.floor(math.log10(largest / 6))
    for factor in (1, 2, 5, 10):
        if largest / (factor * magnitude) <= 6:
            return factor * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def axis_end(group: Group) -> tuple[float, float]:
    """The group's axis maximum and tick step: room for its longest bar and every target
    mark, with a little to spare so that neither touches the edge."""
    largest = max(max(bar.ratio, bar.target.limit) for bar in group.bars) * 1.05
    step = axis_step(largest)
    return math.ceil(largest / step) * step, step


def _x(value: float, end: float) -> float:
    return PLOT_START + value / end * PLOT_WIDTH


def _num(value: float) -> str:
    """Coordinates with one decimal: enough for the eye, and the same text every run."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, content: str, attributes: str = "") -> str:
    extra = f" {attributes}" if attributes else ""
    return f"<text x='{_num(x)}' y='{_num(y)}'{extra}>{escape(content)}</text>"


def _group_svg(group: Group, top: float) -> tuple[list[str], float]:
    """A group's heading, grid, bars, target marks and axis, from ``top`` down; returns the
    elements and the height used."""
    end, step = axis_end(group)
    rows_top = top + GROUP_TITLE_HEIGHT
    rows_bottom = rows_top + ROW_HEIGHT * len(group.bars)
    out = [_text(MARGIN, top + 15, group.title, "font-size='13' font-weight='bold'")]
    ticks = [index * step for index in range(round(end / step) + 1)]
    for tick in ticks:
        x = _num(_x(tick, end))
        colour = INK if tick == 0 else GRID
        out.append(
            f"<line x1='{x}' y1='{_num(rows_top)}' x2='{x}' y2='{_num(rows_bottom)}' "
            f"stroke='{colour}'/>"
        )
        out.append(
            _text(
                _x(tick, end), rows_bottom + 13, f"{tick:g}×", "font-size='10' text-anchor='middle'"
            )
        )
    for index, bar in enumerate(group.bars):
        row = rows_top + ROW_HEIGHT * index
        bar_top = row + (ROW_HEIGHT - BAR_HEIGHT) / 2
        state = "met" if bar.met else "not-met"
        colour = MET_COLOUR if bar.met else NOT_MET_FILL
        mark = _num(_x(bar.target.limit, end))
        width = _num(_x(bar.ratio, end) - PLOT_START)
        out += [
            f"<g class='bar {state}' data-measure={quoteattr(bar.key)}>",
            _text(LABEL_END, row + 15, bar.label, "text-anchor='end'"),
            f"<rect x='{PLOT_START}' y='{_num(bar_top)}' width='{width}' height='{BAR_HEIGHT}' "
            f"fill='{colour}'/>",
            f"<line class='target' x1='{mark}' y1='{_num(row + 1)}' x2='{mark}' "
            f"y2='{_num(row + ROW_HEIGHT - 1)}' stroke='{INK}' stroke-width='2.5'/>",
            _text(VALUE_START, row + 15, bar.value_text, "class='value'"),
            "</g>",
        ]
    return out, rows_bottom + AXIS_HEIGHT - top


def _legend(top: float) -> list[str]:
    """What the colours and the black mark mean, in a line under the title (``top`` is the
    text's baseline)."""
    swatch = f"y='{_num(top - 10)}' width='14' height='10'"
    return [
        f"<rect x='{MARGIN}' {swatch} fill='{MET_COLOUR}'/>",
        _text(MARGIN + 20, top, "target met"),
        f"<rect x='{MARGIN + 110}' {swatch} fill='{NOT_MET_FILL}'/>",
        _text(MARGIN + 130, top, "not met"),
        f"<line x1='{MARGIN + 215}' y1='{_num(top - 12)}' x2='{MARGIN + 215}' "
        f"y2='{_num(top + 2)}' stroke='{INK}' stroke-width='2.5'/>",
        _text(MARGIN + 223, top, "the target (the label gives it too)"),
    ]


def description(chart: Chart) -> str:
    """The ``<desc>``: every bar in words, for screen readers and text search."""
    met = sum(bar.met for bar in chart.bars)
    parts = [f"{met} of {len(chart.bars)} targets met."]
    parts += [f"{bar.key}: {bar.value_text}." for bar in chart.bars]
    if chart.notes:
        parts.append("Not in this run: " + "; ".join(chart.notes) + ".")
    return " ".join(parts)


def render(chart: Chart) -> str:
    """The SVG document. Every colour is set explicitly on a white background of its own,
    so that it reads the same on a light or a dark page (Furo's dark theme)."""
    body = [
        _text(MARGIN, 24, chart.title, "font-size='15' font-weight='bold'"),
        _text(MARGIN, 42, chart.subtitle, "font-size='11'"),
        *_legend(62),
    ]
    top = 78.0
    for group in chart.groups:
        elements, height = _group_svg(group, top)
        body += elements
        top += height + GROUP_GAP
    if chart.notes:
        body.append(_text(MARGIN, top + 10, "Not shown:", "font-weight='bold'"))
        for index, note in enumerate(chart.notes):
            body.append(_text(MARGIN + 10, top + 10 + NOTE_LINE * (index + 1), f"• {note}"))
        top += 10 + NOTE_LINE * len(chart.notes)
    size = f"width='{WIDTH}' height='{_num(top + MARGIN)}'"
    return "\n".join(
        [
            "<?xml version='1.0' encoding='UTF-8'?>",
            f"<svg xmlns='http://www.w3.org/2000/svg' {size} viewBox='0 0 {WIDTH} "
            f"{_num(top + MARGIN)}' role='img' aria-labelledby='chart-title chart-desc'>",
            f"<title id='chart-title'>{escape(chart.title)}</title>",
            f"<desc id='chart-desc'>{escape(description(chart))}</desc>",
            HATCH,
            "<rect width='100%' height='100%' fill='white'/>",
            f"<g {FONT} font-size='12' fill='{INK}'>",
            *body,
            "</g>",
            "</svg>",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path, help="a run's output directory")
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help="the SVG to write, or '-' for standard output "
        "(default: docs/_static/benchmark-ratios.svg)",
    )
    args = parser.parse_args(argv)
    chart = read_run(args.directory)
    svg = render(chart)
    if args.out == "-":
        sys.stdout.write(svg)
        return 0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg, encoding="utf-8", newline="\n")
    met = sum(bar.met for bar in chart.bars)
    print(f"wrote {out}: {len(chart.bars)} measures, {met} targets met", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
