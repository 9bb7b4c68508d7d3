"""Writes an evaluation run to disk: eval.json (rows + summary), report.md and chart.png."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.runner import EvalRun
from eval.summary import SWEPT_FIGURES

RETRIEVAL_FIGURES = (
    "hit_at_1",
    "hit_at_5",
    "mrr",
    "ndcg_at_5",
    "multi_doc_recall_at_5",
    "facts_in_context",
)
ANSWER_FIGURES = (
    "accuracy",
    "refusal_precision",
    "refusal_recall",
    "false_refusal_rate",
    "citation_validity",
    "citation_precision",
    "cited_share",
    "facts_in_read",
    "accuracy_given_facts",
)
CHART_RETRIEVAL = ("hit_at_1", "hit_at_5", "mrr", "ndcg_at_5")
CHART_ANSWER = (
    "accuracy",
    "refusal_recall",
    "false_refusal_rate",
    "citation_validity",
    "citation_precision",
)


@dataclass(frozen=True, slots=True)
class ReportFiles:
    json: Path
    markdown: Path
    chart: Path


def write_report(run: EvalRun, out_dir: Path, *, failures: Sequence[str]) -> ReportFiles:
    """Write the three report files into `out_dir` (created if missing)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(out_dir / "eval.json", out_dir / "report.md", out_dir / "chart.png")
    document = run.to_json()
    document["threshold_failures"] = list(failures)
    files.json.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    draw_chart(document["summary"], files.chart)
    files.markdown.write_text(
        render_markdown(document, chart_name=files.chart.name), encoding="utf-8"
    )
    return files


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):  # bool too
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def escape(cell: Any) -> str:
        return fmt(cell).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _breakdown_table(section: Mapping[str, Any], figures: Sequence[str]) -> list[str]:
    """One row overall, then one per language, then one per question type (or kind)."""
    rows = [["overall", section["overall"]["n"], *(section["overall"][f] for f in figures)]]
    for key, groups in section.items():
        if key.startswith("by_"):
            rows += [
                [f"{key[3:]}: {name}", group["n"], *(group[f] for f in figures)]
                for name, group in groups.items()
            ]
    return _table(["", "n", *figures], rows)


def render_markdown(document: Mapping[str, Any], *, chart_name: str) -> str:
    """The human-readable report: figures first, then the questions that went wrong."""
    meta, summary, rows = document["meta"], document["summary"], document["rows"]
    lines = [
        "# ragqa evaluation",
        "",
        *(f"- {key}: {fmt(value)}" for key, value in meta.items()),
        "",
        f"![figures by language]({chart_name})",
        "",
        "## Thresholds",
        "",
    ]
    failures = document.get("threshold_failures", [])
    lines += [f"- FAIL {failure}" for failure in failures] or ["All thresholds met."]
    lines.append("")
    if "retrieval" in summary:
        context_k = document["meta"].get("context_k", "k")
        lines += ["## Retrieval (by document, top 5)", ""]
        lines += [
            f"`facts_in_context`: share of questions whose answer facts all occur in the first "
            f"{context_k} passages, those an answer is written from. Below it, the answer could "
            "not be right; above accuracy, the model misread passages that held the answer.",
            "",
        ]
        lines += _breakdown_table(summary["retrieval"], [*RETRIEVAL_FIGURES, "latency_ms_p50"])
    if "retrieval_modes" in summary:
        lines += ["## Retrieval modes", ""]
        languages = list(summary["retrieval_modes"][0]["by_language"])
        header = ["mode", "cross-lingual", "hit@1", "hit@5", "MRR", "nDCG@5", "ms p50"]
        header += [f"hit@5 {lang}" for lang in languages]
        table = []
        for row in summary["retrieval_modes"]:
            overall = row["overall"]
            table.append(
                [
                    row["mode"],
                    "on" if row["cross_lingual"] else "off",
                    *(overall[f] for f in (*CHART_RETRIEVAL, "latency_ms_p50")),
                    *(row["by_language"][lang]["hit_at_5"] for lang in languages),
                ]
            )
        lines += _table(header, table)
    if "answer" in summary:
        answer = summary["answer"]
        lines += ["## Answers", ""]
        lines += [
            "`facts_in_read`: share of answerable questions whose answer facts all occur in what "
            "the model was given (titles and passages, or excerpts with evidence first); "
            "`accuracy_given_facts`: the share of those answered right, the model's reading "
            "apart from retrieval's (in-process runs only).",
            "",
        ]
        counts = ["damaged_answers", "wrong_language_answers", "failed_answers"]
        lines += _breakdown_table(answer, [*ANSWER_FIGURES, *counts])
        lines += ["### Latency (ms) and tokens", ""]
        stages = list(answer["overall"]["latency_ms"])
        header = ["", *(f"{s} {q}" for s in stages for q in ("p50", "p95"))]
        header += ["prompt tok mean", "prompt tok p95", "completion tok mean", "completion p95"]
        groups = [("overall", answer["overall"])] + [
            (f"{key[3:]}: {g}", s)
            for key, by in answer.items()
            if key.startswith("by_")
            for g, s in by.items()
        ]
        table = []
        for name, figures in groups:
            latency = figures["latency_ms"]
            table.append(
                [
                    name,
                    *(latency.get(s, {}).get(q) for s in stages for q in ("p50", "p95")),
                    figures["prompt_tokens"]["mean"],
                    figures["prompt_tokens"]["p95"],
                    figures["completion_tokens"]["mean"],
                    figures["completion_tokens"]["p95"],
                ]
            )
        lines += _table(header, table)
    if "support_sweep" in summary:
        lines += [
            "### Refusal by support threshold",
            "",
            "Had every question the model judged less likely than the threshold to be answered "
            "by its passages been refused (`support_threshold`; exact at and above the run's).",
            "",
        ]
        header = ["threshold", "accuracy", "refusal precision", "refusal recall", "false refusals"]
        keys = ("threshold", *SWEPT_FIGURES)
        lines += _table(header, [[row[k] for k in keys] for row in summary["support_sweep"]])
    if "several_sweep" in summary:
        lines += [
            "### Answering document by document, by threshold",
            "",
            "Questions the model judged at least this likely to concern several events or "
            "reports (`per_document_threshold`), against the set's multi-document questions.",
            "",
        ]
        header = ["threshold", "questions chosen", "precision", "recall"]
        picked = ("threshold", "chosen", "precision", "recall")
        lines += _table(header, [[row[k] for k in picked] for row in summary["several_sweep"]])
    if "injection" in summary:
        lines += ["## Prompt injection", ""]
        lines += _breakdown_table(
            summary["injection"], ["obey_rate", "accuracy", "refusal_rate", "failed_answers"]
        )
    lines += _problem_lists(rows)
    return "\n".join(lines)


def _problem_lists(rows: Mapping[str, Any]) -> list[str]:
    """The questions behind the figures that are not perfect, so they can be looked at."""
    lines: list[str] = []
    missed = [r for r in rows["retrieval"] if not r["hit_at_5"]]
    if missed:
        lines += ["## Retrieval misses (no gold document in the top 5)", ""]
        lines += _table(
            ["id", "lang", "type", "question", "gold", "retrieved"],
            [
                [
                    r["id"],
                    r["language"],
                    r["type"],
                    r["question"],
                    ", ".join(r["gold_docs"]),
                    ", ".join(r["ranking"][:5]),
                ]
                for r in missed
            ],
        )
    wrong = [
        r
        for r in rows["answer"]
        if r["correct"] is False
        or (not r["answerable"] and not r["refused"])
        or r["unresolved_citations"]
        or r["damage"]
    ]
    if wrong:
        in_context = {r["id"]: r["facts_in_context"] for r in rows["retrieval"]}
        lines += [
            "## Answers to look at",
            "",
            "`facts in passages`: whether the passages the answer was written from held every "
            "fact (false: a retrieval miss; true: the model misread them).",
            "",
        ]
        header = ["id", "lang", "type", "refused", "facts in passages", "missing facts"]
        lines += _table(
            [*header, "bad citations", "damage", "answer"],
            [
                [
                    r["id"],
                    r["language"],
                    r["type"],
                    r["refused"],
                    in_context.get(r["id"]),
                    "; ".join("/".join(group) for group in r["missing_facts"]),
                    ", ".join(map(str, r["unresolved_citations"])),
                    " ".join(
                        [*r["damage"], *(["wrong-language"] if r.get("wrong_language") else [])]
                    ),
                    (r["answer"] or f"(no answer: {r['error']})")[:300],
                ]
                for r in wrong
            ],
        )
    failed = [r for r in rows["injection"] if r["obeyed"] or r["correct"] is False or r["error"]]
    if failed:
        lines += ["## Injection items that obeyed or answered wrong", ""]
        lines += _table(
            ["id", "kind", "lang", "forbidden found", "missing facts", "answer"],
            [
                [
                    r["id"],
                    r["kind"],
                    r["language"],
                    ", ".join(r["forbidden_found"]),
                    "; ".join("/".join(group) for group in r["missing_facts"]),
                    (r["answer"] or f"(no answer: {r['error']})")[:300],
                ]
                for r in failed
            ],
        )
    return lines


def draw_chart(summary: Mapping[str, Any], path: Path) -> None:
    """Grouped bars by language for each evaluated section, plus hit@5 by retrieval mode.

    A figure that was not measured (no questions it applies to) is left out, not drawn as 0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, dict[str, Mapping[str, Any]], Sequence[str]]] = [
        (title, {"all": summary[section]["overall"], **summary[section]["by_language"]}, figures)
        for section, figures, title in (
            ("retrieval", CHART_RETRIEVAL, "Retrieval by language (top 5 documents)"),
            ("answer", CHART_ANSWER, "Answers by language"),
            ("injection", ("obey_rate", "accuracy"), "Prompt injection by language"),
        )
        if section in summary
    ]
    if "retrieval_modes" in summary:
        modes = summary["retrieval_modes"]
        languages = list(modes[0]["by_language"])
        by_mode: dict[str, Mapping[str, Any]] = {
            f"{m['mode']}\nxl {'on' if m['cross_lingual'] else 'off'}": {
                "all": m["overall"]["hit_at_5"],
                **{lang: m["by_language"][lang]["hit_at_5"] for lang in languages},
            }
            for m in modes
        }
        panels.append(("hit@5 by retrieval mode", by_mode, ["all", *languages]))
    columns = 2 if len(panels) > 1 else 1
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, columns, figsize=(7 * columns, 4.2 * rows), squeeze=False)
    for ax, (title, groups, figures) in zip(axes.flat, panels, strict=False):
        width = 0.8 / len(figures)
        for i, figure in enumerate(figures):
            values = [g[figure] for g in groups.values()]
            positions = [x + (i - (len(figures) - 1) / 2) * width for x in range(len(groups))]
            drawn = [(p, v) for p, v in zip(positions, values, strict=True) if v is not None]
            bars = ax.bar([p for p, _ in drawn], [v for _, v in drawn], width, label=figure)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, ncol=len(figures), loc="upper center", bbox_to_anchor=(0.5, -0.1))
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
