"""`python -m bench.document_cap`: would capping the passages read per document get a second
document in for multi-document questions without costing the others?

Each answerable question of the default set is retrieved as the answerer retrieves it (the
translations by the local model; no answer generated); for the `context_k` passages as ranked,
and at most 3 or 2 per document, whether every answer fact is in them, per question type.
Writes bench/results/document_cap-DATE.txt.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from bench.report import DEFAULT_SET, save_dated
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from ragqa.config import Settings
from service.compose import build_answerer
from service.passages import SearchHit

CAPS = (None, 3, 2)


def _capped(hits: Sequence[SearchHit], k: int, cap: int | None) -> list[SearchHit]:
    kept: list[SearchHit] = []
    for hit in hits:
        if cap is None or sum(h.chunk.doc_id == hit.chunk.doc_id for h in kept) < cap:
            kept.append(hit)
        if len(kept) == k:
            break
    return kept


def main() -> None:
    """Print, per cap, the questions whose facts are all in the passages read."""
    items = [i for i in load_items(DEFAULT_SET, EvalItem) if i.type != "unanswerable"]
    settings = Settings()
    answerer = build_answerer(settings)
    k = settings.context_k
    held: dict[int | None, dict[str, list[bool]]] = {cap: {} for cap in CAPS}
    try:
        if answerer.engine is not None:
            answerer.engine.wait_ready(settings.engine_start_timeout_s)
        for item in items:
            history = [t.model_dump() for t in item.history]
            hits = answerer.retrieve(item.question, 5 * k, history=history).hits
            for cap in CAPS:
                read = "\n".join(f"{h.chunk.title}\n{h.chunk.text}" for h in _capped(hits, k, cap))
                found = not missing_fact_groups(read, item.answer_facts)
                held[cap].setdefault(item.type, []).append(found)
    finally:
        answerer.close()
    report = ["# Facts in the passages read, per-document cap (`python -m bench.document_cap`)"]
    for cap, by_type in held.items():
        total = sum(sum(v) for v in by_type.values())
        types = ", ".join(f"{t} {sum(v)}/{len(v)}" for t, v in by_type.items())
        report.append(f"cap {cap or 'none'}: {total} of {len(items)} ({types})")
    typer.echo("\n".join(report))
    typer.echo(f"wrote {save_dated('document_cap', chr(10).join(report))}")


if __name__ == "__main__":
    typer.run(main)
