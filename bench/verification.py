"""`python -m bench.verification RUN.json [RUN.json ...]`: would checking each written answer
against the passages it cites tell right answers from wrong ones?

For every answered row of the given `ragqa eval` results, the model is asked whether the cited
passages state that answer, and its probability of "yes" is read from the token probabilities
(two wordings, `--variants`). A post-answer refusal is only worth its extra judgement if this
separates the rows the eval marked right from the rest: the report gives the AUC and, per
threshold, how many wrong answers it would turn into refusals and how many right ones with
them. Writes bench/results/verification-DATE.txt.
"""

from __future__ import annotations

import ast
import re
import time
from typing import Annotated

import typer

from bench.components import chunks_by_id
from bench.report import Runs, answer_rows, auc, save_dated
from ragqa.config import Settings
from service.answer import neutralise
from service.compose import build_answerer
from service.generation.base import ChatMessage, yes_probability

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
_MARKERS = re.compile(r"\[\d{1,3}\]")
VARIANTS: dict[str, tuple[str, str]] = {
    "answer": (
        "You check answers against the passage they cite. Say yes only when the passage itself "
        "states the answer to the question; say no when the passage states something else, or "
        "does not say.",
        "Passage:\n{passage}\n\nQuestion: {question}\nAnswer: {answer}\n\n"
        "Does the passage state this answer to the question? Reply with one word: yes or no.",
    ),
    "statement": (
        "You are a careful fact checker. Read the passage, then the statement. Reply yes only "
        "if the passage says what the statement says, names and numbers included; reply no if "
        "the passage says something different, or does not say it.",
        "Passage:\n{passage}\n\nStatement (an answer to: {question}):\n{answer}\n\n"
        "Is the statement true according to the passage? Reply with one word: yes or no.",
    ),
}


def _field(row: dict[str, object], name: str) -> object:
    """A row field as written by `ragqa eval` (JSON values, or their Python repr)."""
    value = row[name]
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError):  # text that only starts like a list
            return value
    return value


def main(
    runs: Runs,
    variants: Annotated[str, typer.Option(help="Comma-separated: answer, statement.")] = (
        "answer,statement"
    ),
) -> None:
    """Score every answered row with each wording and print the separation table."""
    chosen = [v for v in variants.split(",") if v]
    for name in chosen:
        if name not in VARIANTS:
            raise typer.BadParameter(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}")
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    chunks = {cid: chunk.text for cid, chunk in chunks_by_id(answerer.snapshot).items()}
    generator = answerer.generators[0]
    lines: list[str] = []
    try:
        for name in chosen:
            system, template = VARIANTS[name]
            scored: list[tuple[str, bool, float]] = []  # language, right, P(yes)
            seconds = 0.0
            for run in runs:
                for row in answer_rows(run):
                    if str(row["refused"]) == "True" or not row["answer"]:
                        continue
                    ids = _field(row, "passage_ids")
                    cited = _field(row, "cited")
                    assert isinstance(ids, list) and isinstance(cited, list)
                    texts = [chunks[ids[n - 1]] for n in cited if 0 < n <= len(ids)]
                    if not texts:
                        continue
                    user = template.format(
                        passage=neutralise("\n\n".join(texts)),
                        question=neutralise(str(row["question"])),
                        answer=neutralise(_MARKERS.sub("", str(row["answer"])).strip()),
                    )
                    messages: list[ChatMessage] = [
                        {"role": "system", "content": system},
                        {"role": "user", "content": user},
                    ]
                    started = time.perf_counter()
                    p = yes_probability(generator, messages)
                    seconds += time.perf_counter() - started
                    if p is not None:
                        right = str(row["correct"]) == "True"
                        scored.append((str(row["language"]), right, p))
            lines.append(f"variant {name}: {len(scored)} answers, {seconds:.0f} s of judgements")
            for language in ("all", "en", "zh-Hans", "zh-Hant"):
                mine = [s for s in scored if language in ("all", s[0])]
                good = [p for _, right, p in mine if right]
                bad = [p for _, right, p in mine if not right]
                lines.append(
                    f"  {language:8} right {len(good):3}  wrong {len(bad):3}"
                    f"  AUC {auc(good, bad):.3f}"
                )
            good = [p for _, right, p in scored if right]
            bad = [p for _, right, p in scored if not right]
            for threshold in THRESHOLDS:
                caught = sum(b < threshold for b in bad)
                lost = sum(g < threshold for g in good)
                lines.append(
                    f"  refuse below {threshold:.1f}: wrong refused {caught:3} of {len(bad)},"
                    f" right refused {lost:3} of {len(good)}"
                )
    finally:
        answerer.close()
    text = "\n".join([f"runs: {', '.join(str(r) for r in runs)}", *lines])
    print(text)
    save_dated("verification", text)


if __name__ == "__main__":
    typer.run(main)
