"""`python -m bench.evidence [--set FILE]`: what evidence first puts in front of the model,
against whole passages, without generating an answer.

For each answerable question: retrieval as the answerer runs it (with query translation), then
the share of questions whose answer facts all lie in what the model would read, and how many
characters that is, for the `context_k` whole passages and for evidence-first configurations
(chosen sentences, neighbours each side, character budget). Writes
bench/results/evidence-DATE.txt.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from bench.report import REPO, save_dated, shown_path
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups, read_text
from index.embedder import Embedder
from ragqa.config import Settings
from service.compose import build_answerer
from service.evidence import EvidenceOptions, EvidenceSelector
from service.passages import SearchHit

# (passages read whole, sentences, neighbours, max_chars, candidates, chunk_weight)
CONFIGS = (
    (0, 4, 1, 900, 8, 1.0),
    (0, 5, 1, 900, 8, 1.0),
    (0, 6, 1, 900, 8, 1.0),
    (0, 6, 1, 1200, 8, 1.0),
    (0, 8, 0, 900, 8, 1.0),
)


class MemoEmbedder:
    """The embedder, remembering every text's vector: the selector embeds the same candidate
    sentences once per configuration, and a bench tries many configurations per question."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner = embedder
        self.model_id = embedder.model_id
        self.dimension = embedder.dimension
        self.documents: dict[str, np.ndarray] = {}
        self.queries: dict[str, np.ndarray] = {}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.documents, self.inner.embed_documents)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.queries, self.inner.embed_queries)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    @staticmethod
    def _embed(
        texts: Sequence[str],
        known: dict[str, np.ndarray],
        embed: Callable[[Sequence[str]], np.ndarray],
    ) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, embed(missing), strict=True))
        return np.stack([known[t] for t in texts])


def facts_row(name: str, found: Sequence[tuple[str, bool, int]]) -> str:
    """A table row: the share of (language, all facts found, characters) rows with every fact,
    the same by language (in language order), and the median characters."""
    by_language: dict[str, list[bool]] = {}
    for language, ok, _ in found:
        by_language.setdefault(language, []).append(ok)
    share = sum(ok for _, ok, _ in found) / len(found)
    parts = " / ".join(
        f"{sum(v) / len(v):.3f}" for _, v in sorted(by_language.items(), key=lambda kv: kv[0])
    )
    chars = statistics.median(n for _, _, n in found)
    return f"| {name} | {share:.3f} | {parts} | {chars:.0f} |"


def main(
    set_path: Annotated[Path, typer.Option("--set", help="Evaluation set (JSONL).")] = REPO
    / "eval"
    / "sets"
    / "default.jsonl",
) -> None:
    """Print and write the table: facts in what the model reads, by configuration."""
    items = [i for i in load_items(set_path, EvalItem) if i.answer_facts]
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    snapshot = answerer.snapshot
    embedder = MemoEmbedder(answerer.embedder)
    results: dict[str, list[tuple[str, bool, int]]] = {}
    try:
        for item in items:
            history = [turn.model_dump() for turn in item.history]
            retrieval = answerer.retrieve(item.question, 12, history=history)

            def record(name: str, read: Sequence[SearchHit], item: EvalItem = item) -> None:
                text = read_text(read)
                ok = not missing_fact_groups(text, item.answer_facts)
                chars = sum(len(h.text) for h in read)
                results.setdefault(name, []).append((item.language, ok, chars))

            record(f"{settings.context_k} whole passages", retrieval.hits[: settings.context_k])
            record("6 whole passages", retrieval.hits[:6])
            base = EvidenceOptions.from_settings(settings)
            for whole, sentences, neighbours, max_chars, candidates, weight in CONFIGS:
                options = replace(
                    base,
                    whole=whole,
                    sentences=sentences,
                    neighbours=neighbours,
                    max_chars=max_chars,
                    chunk_weight=weight,
                )
                queries = list(dict.fromkeys([item.question, *retrieval.queries]))
                evidence = EvidenceSelector(embedder, options).select(
                    snapshot, queries, retrieval.hits[:candidates]
                )
                name = (
                    f"{whole} whole + {sentences} sentences ±{neighbours}, {max_chars} chars, "
                    f"of {candidates}, chunk weight {weight:g}"
                )
                record(name, evidence.hits)
    finally:
        answerer.close()
    languages = sorted({i.language for i in items})
    lines = [
        f"# Facts in what the model reads, measured {date.today()} "
        f"(`python -m bench.evidence --set {shown_path(set_path)}`), "
        f"{len(items)} answerable questions",
        "",
        f"| read | all facts in it | by language ({' / '.join(languages)}) | median chars |",
        "|---|---|---|---|",
        *(facts_row(name, found) for name, found in results.items()),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    save_dated("evidence", text)


if __name__ == "__main__":
    typer.run(main)
