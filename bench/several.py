"""`python -m bench.several [--ids q001,q002]`: how well the model tells questions about several
events from questions about one, the decision that would send a question down the
document-by-document path (`per_document_threshold`).

Two ways of asking it, each the probability of "yes" read from the token probabilities:
1. `passages`: as the answerer asks it, over the question's passages (`prompts/several.md`).
2. `question alone`: the question only, after instructions and worked examples of other
   collections (no question of the eval set among them).
For each threshold: how many multi-document questions of the default set it picks (recall) and
how many others with them. Writes bench/results/several-VARIANTS-DATE.txt.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from eval.items import EvalItem, load_items
from ragqa.config import Settings
from service.answer import build_messages
from service.compose import build_answerer
from service.generation.base import ChatMessage, Generator, yes_probability
from service.language import detect_language
from service.passages import to_passages

REPO = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
INSTRUCTIONS = (
    "You sort questions asked of a collection of news reports. Reply yes when the question "
    "asks about two or more different events, reports or organisations, each needing its own "
    "answer (a comparison, each of several, or a list gathered across reports); reply no when "
    "it asks about one event or one subject, even if it asks for several facts about it. Reply "
    "with one word: yes or no."
)
EXAMPLES = (
    ("When did the new city library open, and who designed it?", "no"),
    ("新图书馆和新博物馆分别是哪一年开放的？", "yes"),
    ("Which of the two budget reports gives the larger figure for schools?", "yes"),
    ("市长在开幕式上讲了什么？", "no"),
    ("這幾篇報道中，哪些展覽是在廣州舉辦的？", "yes"),
    ("How many people visited the book fair on its first day?", "no"),
    ("去年和今年的读书节各有多少人参加？", "yes"),
    ("讀書節的主辦單位和協辦單位有哪些？", "no"),
)


def _question_alone(question: str) -> list[ChatMessage]:
    messages: list[ChatMessage] = [{"role": "system", "content": INSTRUCTIONS}]
    for asked, reply in EXAMPLES:
        messages.append({"role": "user", "content": f"Question: {asked}"})
        messages.append({"role": "assistant", "content": reply})
    messages.append({"role": "user", "content": f"Question: {question}"})
    return messages


def main(
    ids: Annotated[str, typer.Option(help="Comma-separated question ids (default: all).")] = "",
    variants: Annotated[str, typer.Option(help="passages, question, or both.")] = "both",
) -> None:
    """Measure both ways of asking and print the table per threshold."""
    wanted = set(filter(None, ids.split(",")))
    items = [
        item
        for item in load_items(REPO / "eval" / "sets" / "default.jsonl", EvalItem)
        if not wanted or item.id in wanted
    ]
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    generator: Generator = answerer.generators[0]
    scores: dict[str, list[tuple[bool, float]]] = {}
    seconds: dict[str, float] = {}
    try:
        for item in items:
            multi = item.type == "multi_doc"
            if variants in ("passages", "both"):
                started = time.perf_counter()
                hits = answerer.retrieve(item.question, settings.context_k).hits
                passages = to_passages(hits, answerer.snapshot)
                language = detect_language(item.question)
                messages = build_messages(item.question, passages, language, task="several")
                p = yes_probability(generator, messages)
                seconds["passages"] = seconds.get("passages", 0.0) + time.perf_counter() - started
                scores.setdefault("passages", []).append((multi, p or 0.0))
            if variants in ("question", "both"):
                started = time.perf_counter()
                p = yes_probability(generator, _question_alone(item.question))
                seconds["question alone"] = (
                    seconds.get("question alone", 0.0) + time.perf_counter() - started
                )
                scores.setdefault("question alone", []).append((multi, p or 0.0))
    finally:
        answerer.close()
    lines = [
        f"# The several-events judgement, measured {date.today()} "
        f"(`python -m bench.several{' --ids ' + ids if ids else ''} --variants {variants}`)",
        "",
    ]
    for name, scored in scores.items():
        multi_n = sum(m for m, _ in scored)
        lines += [
            f"## {name}: {len(scored)} questions, {multi_n} multi-document, "
            f"{seconds[name] / len(scored):.2f} s each (retrieval included for `passages`)",
            "",
            "| threshold | multi-document picked | others picked | precision |",
            "|---|---|---|---|",
        ]
        for threshold in THRESHOLDS:
            picked = [m for m, p in scored if p >= threshold]
            precision = f"{sum(picked) / len(picked):.2f}" if picked else "-"
            lines.append(
                f"| {threshold} | {sum(picked)} of {multi_n} | {len(picked) - sum(picked)} of "
                f"{len(scored) - multi_n} | {precision} |"
            )
        lines.append("")
    text = "\n".join(lines)
    print(text)
    out = REPO / "bench" / "results" / f"several-{variants}-{date.today()}.txt"
    out.write_text(text, "utf-8")


if __name__ == "__main__":
    typer.run(main)
