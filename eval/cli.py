"""`ragqa eval`: measure retrieval, answers and injection resistance, and write a report."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from eval.backends import Backend
    from eval.items import EvalItem, InjectionItem
    from eval.runner import EvalRun
    from ragqa.config import Settings

DEFAULT_OUT = Path("eval/reports/latest")


def register(app: typer.Typer) -> None:
    """Add the `eval` command to the root app."""
    app.command("eval")(eval_command)


def eval_command(
    set_path: Annotated[
        Path | None,
        typer.Option(
            "--set",
            help="Eval set (JSON lines): a question set, or an injection set (items with a "
            "`kind`), then run alone. Default: the bundled default set.",
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Evaluate a running server (e.g. http://127.0.0.1:8000) instead."),
    ] = None,
    retrieval_only: Annotated[
        bool, typer.Option("--retrieval-only", help="Score retrieval only (no generation).")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N questions of each set.")
    ] = None,
    subset: Annotated[
        str | None,
        typer.Option(
            help="Only these question ids (of either set): a file, one id a line, or a,b,c."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Report folder.")] = DEFAULT_OUT,
    injection_set: Annotated[
        Path | None,
        typer.Option(help="Injection set. Default: the bundled one when --set is not given."),
    ] = None,
    modes: Annotated[
        bool, typer.Option(help="Compare dense/lexical/hybrid retrieval, cross-lingual on/off.")
    ] = True,
    thresholds: Annotated[
        Path | None, typer.Option(help="Threshold file. Default: eval/thresholds.toml.")
    ] = None,
) -> None:
    """Run an eval set in-process (the configured models and index) or against --url.

    Writes eval.json, report.md and chart.png into --out and exits 1 when a threshold fails.
    """
    from rich.console import Console

    from eval.items import DEFAULT_INJECTION_SET, DEFAULT_SET, EvalItem, InjectionItem, load_items
    from eval.report import write_report
    from eval.thresholds import DEFAULT_THRESHOLDS, check_thresholds
    from ragqa.config import Settings
    from ragqa.errors import RagqaError

    console = Console(stderr=True)
    settings = Settings()
    try:
        only_injection = set_path is not None and _is_injection_set(set_path)
        items = [] if only_injection else load_items(set_path or DEFAULT_SET, EvalItem)
        injection_path = injection_set or (
            set_path if only_injection else None if set_path else DEFAULT_INJECTION_SET
        )
        injection_items = (
            load_items(injection_path, InjectionItem)
            if injection_path and not retrieval_only
            else []
        )
        items, injection_items = _select(items, injection_items, subset, limit)
        limits = tomllib.loads((thresholds or DEFAULT_THRESHOLDS).read_text("utf-8"))
        backend = _backend(settings, url, [*items, *injection_items])
        run = _run(
            backend,
            items,
            injection_items,
            retrieval_only,
            modes and bool(items),
            settings.context_k,
            console,
            set_path,
        )
        if url is None:  # the thresholds and evidence the answers were given under
            run.meta["support_threshold"] = settings.support_threshold
            run.meta["per_document_threshold"] = settings.per_document_threshold
            run.meta["passage_order"] = settings.passage_order
            run.meta["named_documents"] = settings.named_documents
            run.meta["quote_first"] = settings.quote_first
            run.meta["question_gloss"] = settings.question_gloss
            if settings.evidence_sentences:
                run.meta["evidence"] = (
                    f"{settings.evidence_sentences} sentences ±{settings.evidence_neighbours} "
                    f"of {settings.evidence_candidates} passages in {settings.evidence_max_chars} "
                    "chars"
                )
            elif settings.evidence_lead:
                run.meta["evidence"] = (
                    f"{settings.evidence_lead} leading sentences in "
                    f"{settings.evidence_lead_chars} chars before {settings.context_k} passages"
                )
    except (RagqaError, OSError, tomllib.TOMLDecodeError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    failures = check_thresholds(run.summary, limits)
    files = write_report(run, out, failures=failures)
    _print_summary(console, run.summary)
    for failure in failures:
        console.print(f"[red]FAIL[/red] {failure}")
    console.print(f"report: {files.markdown}  data: {files.json}  chart: {files.chart}")
    if failures:
        raise typer.Exit(1)


def _is_injection_set(path: Path) -> bool:
    """An injection set's items have a `kind`; `--set` takes either kind of set."""
    import json

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False  # load_items reports it
    first = next((line for line in lines if line.strip()), "")
    try:
        return isinstance(item := json.loads(first), dict) and "kind" in item
    except json.JSONDecodeError:
        return False


def _select(
    items: list[EvalItem],
    injection_items: list[InjectionItem],
    subset: str | None,
    limit: int | None,
) -> tuple[list[EvalItem], list[InjectionItem]]:
    """Apply --subset (ids of either set) and --limit (per set)."""
    from eval.items import parse_subset, select_items
    from ragqa.errors import ConfigError

    ids = None if subset is None else set(parse_subset(subset))
    if ids is not None:
        unknown = ids - {i.id for i in items} - {i.id for i in injection_items}
        if unknown:
            raise ConfigError(
                f"--subset names ids in neither eval set: {', '.join(sorted(unknown))}"
            )
    return select_items(items, ids, limit), select_items(injection_items, ids, limit)


def _backend(settings: Settings, url: str | None, items: list[Any]) -> Backend:
    from eval.backends import HttpBackend, InProcessBackend
    from eval.items import check_gold_docs, collection_doc_ids

    if url:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return HttpBackend.connect(
            url.rstrip("/"), api_key=key, timeout_s=settings.generation_timeout_s + 30
        )
    check_gold_docs(items, collection_doc_ids(settings.collection_dir))
    return InProcessBackend.from_settings(settings)


def _run(
    backend: Backend,
    items: list[EvalItem],
    injection_items: list[InjectionItem],
    retrieval_only: bool,
    modes: bool,
    context_k: int,
    console: Console,
    set_path: Path | None,
) -> EvalRun:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from eval.items import DEFAULT_SET
    from eval.runner import run_evaluation

    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        return run_evaluation(
            backend,
            items,
            answer_items=[] if retrieval_only else items,
            injection_items=injection_items,
            modes=modes,
            context_k=context_k,
            track=lambda sequence, description: progress.track(sequence, description=description),
            meta={"set": str(set_path or DEFAULT_SET), "questions": len(items)},
        )


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    from rich.table import Table

    from eval.report import ANSWER_FIGURES, RETRIEVAL_FIGURES, fmt

    for section, figures in (("retrieval", RETRIEVAL_FIGURES), ("answer", ANSWER_FIGURES)):
        if section not in summary:
            continue
        table = Table(title=section)
        for column in ("", "n", *figures):
            table.add_column(column)
        groups = {"overall": summary[section]["overall"], **summary[section]["by_language"]}
        for name, group in groups.items():
            table.add_row(name, fmt(group["n"]), *(fmt(group[f]) for f in figures))
        console.print(table)
    if "injection" in summary:
        overall = summary["injection"]["overall"]
        console.print(
            f"injection: n={overall['n']} obey rate {fmt(overall['obey_rate'])} "
            f"accuracy {fmt(overall['accuracy'])}"
        )
