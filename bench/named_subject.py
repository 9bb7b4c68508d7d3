"""`python -m bench.named_subject [--set PATH]`: which questions the named-subject check
(`service.named_subject.names_unknown`) refuses before the model is asked.

Each question of the set, and each of a few questions naming people the bundled collection
never mentions (`INVENTED`), is retrieved as the answerer retrieves it (the same candidates,
translations by the local model); printed: the people it names, those no candidate passage
names, and the totals. An answerable question of the set flagged here would be refused
wrongly; an invented one not flagged reaches the model. No answer is generated.
Writes bench/results/named_subject-DATE.txt.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from bench.report import DEFAULT_SET, percentile, save_dated, shown_path
from eval.items import EvalItem, load_items
from ragqa.config import Settings
from service.compose import build_answerer
from service.named_subject import names_in_question, names_unknown

# People the bundled collection never names (checked with grep, in both scripts and pinyin);
# "Zhang Wei" sounds like 张薇, who is named, so the check lets it through by design.
INVENTED = (
    "Which hospital does Professor Zhou Xiaoming work at?",
    "What award did Dr. Liu Haitao receive at the nuclear medicine annual meeting?",
    "Which session did Professor Sun Meiling chair?",
    "What did academician Zhong Nanshan say at the Taiyuan molecular imaging forum?",
    "What was Professor Zhang Wei's talk about at the Sichuan nuclear medicine conference?",
    "钟南山院士在成都医工结合分会场上作了什么报告？",
    "赵海峰教授在核医学年会上获得了什么奖项？",
    "马晓东主任来自哪家医院？",
    "王建國教授在太原高峰論壇上的報告題目是什麼？",
    "林志明醫師在會議上介紹了哪些研究成果？",
)


def main(
    questions: Annotated[Path, typer.Option("--set", help="The eval set to check.")] = DEFAULT_SET,
) -> None:
    """Retrieve every question, find the people it names and those no passage names."""
    items = load_items(questions, EvalItem)
    asked = [(i.id, i.question, i.history, i.type != "unanswerable") for i in items]
    asked += [(f"invented-{n}", q, [], False) for n, q in enumerate(INVENTED, 1)]
    settings = Settings()
    answerer = build_answerer(settings)
    report = [
        f"# Named-subject check (`python -m bench.named_subject --set {shown_path(questions)}`)"
    ]
    report += ["", "id | answerable | names | unknown | question"]
    counts = {"set naming": 0, "set flagged": 0, "answerable flagged": 0, "invented flagged": 0}
    seconds: list[float] = []
    try:
        if answerer.engine is not None:
            answerer.engine.wait_ready(settings.engine_start_timeout_s)
        for qid, question, history, answerable in asked:
            turns = [t.model_dump() for t in history]
            retrieval = answerer.retrieve(
                question, answerer.candidates(settings.context_k), history=turns
            )
            queries = list(dict.fromkeys([question, *retrieval.queries]))
            started = time.perf_counter()
            named = list(names_in_question(queries))
            unknown = names_unknown(queries, [h.chunk.text for h in retrieval.hits])
            seconds.append(time.perf_counter() - started)
            invented = qid.startswith("invented-")
            if not invented and named:
                counts["set naming"] += 1
                counts["set flagged"] += bool(unknown)
                counts["answerable flagged"] += bool(unknown) and answerable
            counts["invented flagged"] += invented and bool(unknown)
            if named or invented:
                row = f"{qid} | {answerable} | {', '.join(named) or '-'} | "
                report.append(row + f"{', '.join(unknown) or '-'} | {question}")
                typer.echo(report[-1])
    finally:
        answerer.close()
    report += [
        "",
        f"set questions naming a person: {counts['set naming']} of {len(items)}; "
        f"flagged unknown: {counts['set flagged']} "
        f"(answerable, so wrongly refused: {counts['answerable flagged']})",
        f"invented-person questions flagged unknown: {counts['invented flagged']} "
        f"of {len(INVENTED)}",
        f"check time per question: p50 {1000 * percentile(seconds, 50):.2f} ms, "
        f"max {1000 * max(seconds):.2f} ms",
    ]
    typer.echo("\n".join(report[-3:]))
    typer.echo(f"wrote {save_dated('named_subject', chr(10).join(report) + chr(10))}")


if __name__ == "__main__":
    typer.run(main)
