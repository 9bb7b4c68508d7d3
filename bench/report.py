"""Section results: what each section measured, kept as JSON and rendered as tables.

Every section run writes `bench/results/<name>.json`; BENCHMARKS.md is rebuilt from all of
them, so running one section refreshes its part and keeps the others (each says when and on
what load it was measured).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.machine import describe_machine, load_average

RESULTS_DIR = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_SET = REPO / "eval" / "sets" / "default.jsonl"
# The arguments of a study over saved `ragqa eval` runs.
Runs = Annotated[list[Path], typer.Argument(help="eval.json files of `ragqa eval` runs.")]
RunsSet = Annotated[Path, typer.Option("--set", help="The set the runs answered.")]
BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
SECTION_ORDER = (
    "retrieval",
    "ingestion",
    "generation",
    "load",
    "peer",
    "startup",
    "stores",
    "realistic",
)

Cell = str | int | float | None


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass
class Target:
    """A goal of the issue, what was measured, and (when missed) by how much and why."""

    name: str
    goal: str
    measured: str
    met: bool
    why: str = ""


@dataclass
class Section:
    name: str
    title: str
    command: str
    quick: bool
    machine: dict[str, str]
    started: str
    load_before: list[float]
    load_after: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def start_section(name: str, title: str, command: str, *, quick: bool) -> Section:
    return Section(
        name=name,
        title=title,
        command=command,
        quick=quick,
        machine=describe_machine(),
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        load_before=load_average(),
    )


def finish_section(section: Section, started: float) -> Section:
    section.load_after = load_average()
    section.seconds = round(time.perf_counter() - started, 1)
    return section


# --- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (linear interpolation); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def fmt(value: Cell) -> str:
    """Three significant figures for measurements, as is for everything else."""
    if value is None:
        return "—"
    if isinstance(value, (bool, int, str)):
        return str(value)
    if math.isnan(value):
        return "—"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


# --- storage and rendering -------------------------------------------------------------------


def save_section(section: Section, results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{section.name}.json"
    path.write_text(json.dumps(asdict(section), indent=1, ensure_ascii=False) + "\n", "utf-8")
    return path


def save_dated(name: str, text: str, results_dir: Path = RESULTS_DIR) -> Path:
    """A one-off study's report, kept as `bench/results/<name>-<today>.txt`."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}-{date.today().isoformat()}.txt"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


def shown_path(path: Path) -> Path:
    """A path as a report writes it in a command: relative to the repository when inside it."""
    resolved = path.resolve()
    return resolved.relative_to(REPO) if resolved.is_relative_to(REPO) else path


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half);
    NaN when either side is empty."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def answer_rows(run: Path) -> list[dict[str, Any]]:
    """The answer rows of a `ragqa eval` run's eval.json, one per question."""
    rows: list[dict[str, Any]] = json.loads(run.read_text(encoding="utf-8"))["rows"]["answer"]
    return rows


def answers_by_id(run: Path) -> dict[str, dict[str, Any]]:
    """The answer rows of a `ragqa eval` run by question id."""
    return {row["id"]: row for row in answer_rows(run)}


def load_sections(results_dir: Path = RESULTS_DIR) -> list[Section]:
    """Every saved section, in the suite's order."""
    sections = []
    for name in SECTION_ORDER:
        path = results_dir / f"{name}.json"
        if path.is_file():
            sections.append(_section_from(json.loads(path.read_text("utf-8"))))
    return sections


def _section_from(data: dict[str, Any]) -> Section:
    tables = [Table(**t) for t in data.pop("tables")]
    targets = [Target(**t) for t in data.pop("targets")]
    return Section(**data, tables=tables, targets=targets)


def markdown_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(table.columns) + " |",
        "|" + "|".join("---" for _ in table.columns) + "|",
    ]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _machine_lines(machine: dict[str, str]) -> list[str]:
    return [f"- **{key}**: {value}" for key, value in machine.items()]


def render_markdown(sections: Sequence[Section], intro: str) -> str:
    """BENCHMARKS.md: machine, how to reproduce, then each section's tables, targets, notes."""
    out = ["# ragqa benchmarks", "", intro.strip(), ""]
    if sections:
        newest = max(sections, key=lambda s: s.started)
        out += ["## Machine", "", *_machine_lines(newest.machine), ""]
    for section in sections:
        load = ", ".join(f"{x:g}" for x in section.load_before)
        load_after = ", ".join(f"{x:g}" for x in section.load_after)
        out += [
            f"## {section.title}",
            "",
            f"Reproduce: `{section.command}`"
            + (" (quick run: small sizes, few repeats; indicative only)" if section.quick else ""),
            "",
            f"Measured {section.started} in {section.seconds:g} s; load average (1/5/15 min) "
            f"{load} before, {load_after} after, on {section.machine.get('cores', '?')} cores.",
            "",
        ]
        if sections and section.machine != newest.machine:
            out += ["Measured on another machine:", "", *_machine_lines(section.machine), ""]
        for table in section.tables:
            out += [f"### {table.title}", "", markdown_table(table), ""]
        if section.targets:
            out += ["### Targets", ""]
            for target in section.targets:
                verdict = "met" if target.met else "**missed**"
                line = (
                    f"- {target.name}: goal {target.goal}; measured {target.measured} — {verdict}"
                )
                out.append(line + (f". {target.why}" if target.why else ""))
            out.append("")
        if section.notes:
            out += ["### Notes", "", *[f"- {note}" for note in section.notes], ""]
    return "\n".join(out).rstrip() + "\n"


def print_section(section: Section) -> None:
    """The section's tables on the terminal (rich), as the run ends."""
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    console.rule(f"{section.title}  (load {section.load_before} -> {section.load_after})")
    for table in section.tables:
        rich_table = RichTable(title=table.title, title_justify="left")
        for column in table.columns:
            rich_table.add_column(column)
        for row in table.rows:
            rich_table.add_row(*(fmt(cell) for cell in row))
        console.print(rich_table)
    for target in section.targets:
        verdict = "[green]met[/]" if target.met else "[red]missed[/]"
        console.print(f"{target.name}: goal {target.goal}; measured {target.measured} {verdict}")
