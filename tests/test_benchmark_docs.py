"""The benchmarks page shows one real run: its tables are what ``benchmarks/docs_tables.py``
prints for that run's JSON, and its chart is what ``benchmarks/chart.py`` draws from it.

The fixture is the JSON of the full ``bash benchmarks/run.sh`` run that
``docs/benchmarks.rst`` cites (its broadcast part, which has its own section, left out).
When the page moves to a newer run, its JSON replaces the fixture's, so that a figure on
the page can never drift from the run it claims to come from.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import chart, docs_tables

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "benchmark_docs_run"
PAGE = ROOT / "docs" / "benchmarks.rst"
SVG = ROOT / "docs" / "_static" / "benchmark-ratios.svg"


def issue_13_rows(text: str) -> dict[str, list[str]]:
    """The rows of the targets table in ``docs_tables``' output, by measure."""
    table = text[text.index("Against the targets of issue 13") :]
    rows: dict[str, list[str]] = {}
    lines = iter(table.splitlines())
    for line in lines:
        if line.startswith("   * - ``"):
            key = line.removeprefix("   * - ").strip("`")
            rows[key] = [next(lines).removeprefix("     - ") for _ in range(3)]
    return rows


def test_the_page_shows_the_tables_of_its_run() -> None:
    tables = docs_tables.tables(FIXTURE)
    page = PAGE.read_text(encoding="utf-8")
    assert tables.strip() in page
    revision = json.loads((FIXTURE / "inprocess.json").read_text(encoding="utf-8"))[
        "environment"
    ]["trioquart_revision"]
    assert f"trioquart at commit ``{revision}``" in tables


def test_the_page_shows_the_chart_of_its_run() -> None:
    assert SVG.read_text(encoding="utf-8") == chart.render(chart.read_run(FIXTURE))


def test_the_targets_table_judges_as_the_chart_does() -> None:
    rows = issue_13_rows(docs_tables.tables(FIXTURE))
    bars = chart.read_run(FIXTURE).bars
    assert list(rows) == [bar.key for bar in bars]
    for bar in bars:
        ratio, target, met = rows[bar.key]
        assert ratio == f"{bar.ratio:.2f}×"
        assert target == bar.target.text
        assert met == ("met" if bar.met else "not met")
    assert {row[2] for row in rows.values()} == {"met", "not met"}
    # One ratio recomputed from the JSON, apart from both modules.
    counts = json.loads((FIXTURE / "callgrind.json").read_text(encoding="utf-8"))["results"]
    ours, theirs = (
        counts["GET /"][name]["instructions_per_request"] for name in ("trioquart", "starlette")
    )
    assert rows["callgrind GET /"][0] == f"{ours / theirs:.2f}×"
    assert rows["callgrind GET /"][1] == "≤ 1.8×"
