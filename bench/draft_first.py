"""`python -m bench.draft_first RUN.json`: English questions over Chinese passages, answered
first in the passages' Chinese and then put into English by the model in the same chat.

The 1.5B model answers a Chinese question over Chinese passages right far more often than an
English one (docs/evaluation.md). Earlier pivots translated the Chinese answer in a separate
call, without the passages, and lost names and titles. Here the English answer is the second
turn of the same conversation: the model still sees the passages it answered from. For each
English row of a `ragqa eval` run whose passages are mostly Chinese, the same passages (the
row's `passage_ids`) are asked again in this form and both model texts are scored by the
eval's rules (every fact group present, written in English; refusals of unanswerable
questions), and whether the Chinese draft holds the facts at all, which tells reading apart
from writing English. A draft that refuses is the answer's refusal. Writes
bench/results/draft-first-DATE.txt.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Annotated

import typer

from bench.components import chunks_by_id
from bench.report import answer_rows, save_dated
from eval.metrics import missing_fact_groups
from index.textnorm import detect_text_language
from ragqa.config import Settings
from service.answer import build_messages, refusal
from service.answer_language import in_wrong_language
from service.claims import is_refusal
from service.compose import build_answerer
from service.generation import complete
from service.passages import SearchHit, to_passages

REPO = Path(__file__).resolve().parents[1]
TURN = (
    "Now write that answer in English, keeping each citation number after its claim. Write "
    "people's names in pinyin with the Chinese characters in brackets, like Li Hua (李华)."
)


def _score(text: str, row: dict[str, object], facts: list[list[str]]) -> bool:
    if not row["answerable"]:
        return is_refusal(text) or not text.strip()
    return (
        not is_refusal(text)
        and not missing_fact_groups(text, facts)
        and not in_wrong_language(text, "en")
    )


def main(
    run: Annotated[Path, typer.Argument(help="eval.json of a `ragqa eval` run.")],
    questions: Annotated[Path, typer.Option("--set", help="The set the run answered.")] = (
        REPO / "eval" / "sets" / "default.jsonl"
    ),
    max_tokens: int = 200,
) -> None:
    """Answer the run's English questions over Chinese passages in two turns; print both scores."""
    items = {i["id"]: i for i in map(json.loads, questions.read_text("utf-8").splitlines()) if i}
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    generator = answerer.generators[0]
    rows = answer_rows(run)
    snapshot = answerer.snapshot
    chunks = chunks_by_id(snapshot)
    report: list[str] = [f"run: {run}"]
    base_ok = draft_ok = n = 0
    read = {"base": 0, "chinese": 0, "answerable": 0}  # answers holding every fact, any language
    seconds: list[float] = []
    try:
        for row in rows:
            if row["language"] != "en" or not row.get("passage_ids"):
                continue
            item = items[row["id"]]
            if any(cid not in chunks for cid in row["passage_ids"]):
                report.append(f"{row['id']}: passages not in this index, skipped")
                continue
            hits = [SearchHit(chunks[cid], 0.0) for cid in row["passage_ids"]]
            passages = to_passages(hits, snapshot)
            chinese = sum(detect_text_language(p.text) == "zh" for p in passages)
            if chinese * 2 <= len(passages):
                continue
            n += 1
            started = time.perf_counter()
            messages = build_messages(item["question"], passages, "zh-Hans")
            draft = complete(generator, messages, max_tokens=max_tokens).strip()
            messages += [
                {"role": "assistant", "content": draft},
                {"role": "user", "content": TURN},
            ]
            english = (
                refusal("en")
                if is_refusal(draft)
                else complete(generator, messages, max_tokens=max_tokens).strip()
            )
            seconds.append(time.perf_counter() - started)
            facts = item.get("answer_facts", [])
            base = str(row.get("model_text") or "")
            b, d = _score(base, row, facts), _score(english, row, facts)
            base_ok += b
            draft_ok += d
            if row["answerable"]:
                read["answerable"] += 1
                read["base"] += not missing_fact_groups(base, facts)
                read["chinese"] += not missing_fact_groups(draft, facts)
            report += [
                f"{row['id']} answerable={row['answerable']} base={'ok' if b else '--'} "
                f"draft={'ok' if d else '--'} ({seconds[-1]:.1f} s)",
                f"  base:    {base}",
                f"  chinese: {draft}",
                f"  english: {english}",
            ]
    finally:
        answerer.close()
    median = statistics.median(seconds) if seconds else 0.0
    report.append(
        f"English questions over mostly Chinese passages: {n}; right (model text, eval rules): "
        f"one English answer {base_ok}, Chinese then English {draft_ok}; "
        f"both turns took a median {median:.1f} s. Every fact there, in any language, of "
        f"{read['answerable']} answerable: English answer {read['base']}, Chinese draft "
        f"{read['chinese']}"
    )
    out = save_dated("draft-first", "\n".join(report))
    print("\n".join(report[-1:]))
    print(f"written: {out}")


if __name__ == "__main__":
    typer.run(main)
