"""The real components every section measures: settings, embedder, eval questions."""

from __future__ import annotations

from pathlib import Path

from eval.items import DEFAULT_SET, EvalItem, load_items, parse_subset, select_items
from index.backend import SearchView
from index.bilingual import ListedView
from index.documents import Chunk
from index.embedder import Embedder
from ragqa.config import Settings

CI_SUBSET = Path(__file__).resolve().parents[1] / "eval" / "sets" / "ci_subset.txt"


BENCH_GENERATION_TIMEOUT_S = 900.0


def bench_settings(**overrides: object) -> Settings:
    """The configured settings (environment, .env) with the bench's overrides.

    Per-client rate limiting is off in every bench server: the figures are about the work,
    not about the limiter refusing a single benchmarking client. The per-answer time limit is
    raised so that a slow cold prompt on a busy machine is measured, not cut off.
    """
    base = Settings()
    timeout = max(base.generation_timeout_s, BENCH_GENERATION_TIMEOUT_S)
    return base.model_copy(
        update={"rate_limit_per_minute": 0, "generation_timeout_s": timeout, **overrides}
    )


def real_embedder(settings: Settings) -> Embedder:
    from ragqa.models.resolve import load_configured_embedder

    return load_configured_embedder(settings)


def eval_items() -> list[EvalItem]:
    return load_items(DEFAULT_SET, EvalItem)


def eval_questions() -> list[str]:
    """Every question of the eval set: real questions in the three scripts."""
    return [item.question for item in eval_items()]


def ci_subset_items(*, answerable_only: bool, limit: int | None) -> list[EvalItem]:
    """The CI answer subset (fixed; every language and question type), languages interleaved
    so that any prefix of it still mixes the three scripts."""
    items = select_items(eval_items(), set(parse_subset(str(CI_SUBSET))), None)
    if answerable_only:
        items = [item for item in items if item.type != "unanswerable" and not item.history]
    seen: dict[str, int] = {}
    ranked = []
    for item in items:
        seen[item.language] = seen.get(item.language, 0) + 1
        ranked.append((seen[item.language], item.id, item))
    interleaved = [item for _, _, item in sorted(ranked, key=lambda r: (r[0], r[1]))]
    return interleaved[:limit] if limit is not None else interleaved


def chunks_by_id(view: SearchView) -> dict[str, Chunk]:
    """Every chunk of the index by its id, as eval rows name them (`passage_ids`). The
    integer ids come from the view: after a removal they are not 0..n-1."""
    if not isinstance(view, ListedView):
        raise TypeError("chunks_by_id needs the embedded index store (its views list chunks)")
    return {chunk.chunk_id: chunk for chunk in map(view.chunk, view.chunk_ids().tolist())}
