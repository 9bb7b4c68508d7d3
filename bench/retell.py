"""`python -m bench.retell RUN.json [RUN.json ...]`: what translating an answer written in the
wrong language does, with the real model.

For every answered row of the given `ragqa eval` results whose model text is in another
language than the question's (the eval's `in_wrong_language`), the text is put through
`retell_text` with the default answerer's translator, as the SentenceGate does: the report
shows the text before and after, whether the question's facts are still there (the eval's
`missing_fact_groups`), and the seconds it took. Writes bench/results/retell-DATE.txt.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

from bench.report import DEFAULT_SET, Runs, RunsSet, answer_rows, save_dated
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from ragqa.config import Settings
from service.answer_language import in_wrong_language, retell_text
from service.compose import build_answerer

REPO = Path(__file__).resolve().parents[1]


def main(
    runs: Runs,
    questions: RunsSet = DEFAULT_SET,
) -> None:
    """Retell every answer in the wrong language and print what came of it."""
    facts = {item.id: item.answer_facts for item in load_items(questions, EvalItem)}
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    translate = answerer.answer_translator
    if translate is None:
        raise typer.BadParameter("no translator: set RAGQA_CROSS_LINGUAL=true")
    report: list[str] = [f"runs: {', '.join(str(r) for r in runs)}"]
    seen: set[str] = set()
    counts = {"rows": 0, "translated": 0, "facts_before": 0, "facts_after": 0}
    try:
        for run in runs:
            for row in answer_rows(run):
                text, language = str(row.get("model_text") or ""), str(row["language"])
                if str(row["refused"]) == "True" or not in_wrong_language(text, language):
                    continue
                if text in seen or text.startswith("Evidence"):  # a quote-first reply's raw form
                    continue
                seen.add(text)
                started = time.perf_counter()
                told = retell_text(text, language, translate)  # type: ignore[arg-type]
                seconds = time.perf_counter() - started
                wanted = facts.get(str(row["id"]), [])
                before = not missing_fact_groups(text, wanted)
                after = not missing_fact_groups(told, wanted)
                counts["rows"] += 1
                counts["translated"] += told != text
                counts["facts_before"] += before
                counts["facts_after"] += after
                report += [
                    f"{row['id']} ({language}), {seconds:.1f} s, facts before {before},"
                    f" after {after}, in the question's language after:"
                    f" {not in_wrong_language(told, language)}",
                    f"  model: {text!r}",
                    f"  told:  {told!r}",
                ]
    finally:
        answerer.close()
    report.append(
        f"{counts['rows']} answers in the wrong language, {counts['translated']} translated;"
        f" all facts held before {counts['facts_before']}, after {counts['facts_after']}"
    )
    save_dated("retell", "\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    typer.run(main)
