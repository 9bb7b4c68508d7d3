"""Embedders side by side on the bundled collection: what choosing one costs and gives.

`python -m bench.embedders [--embedders a,b] [--rounds N]`. For each embedder, in one process
on the same machine: the bundled collection is indexed from scratch (`build_index`, timed: the
ingestion speed a user gets), then served on loopback, and every answerable eval question is
sent to `/v1/search` as a plain client sends it, with no cross-lingual flag, so no model call
but the embedder's is made per query. Its ranking is scored as `ragqa eval --retrieval-only`
scores it; its latency is timed over HTTP. With `--translations`, each is measured again with
the bilingual side those translations make. Writes bench/results/embedders-DATE.txt
(embedders-bilingual-DATE.txt with `--translations`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from bench.components import bench_settings, eval_items, real_embedder
from bench.machine import settle_memory
from bench.report import RESULTS_DIR
from bench.server import serve_answerer
from eval.backends import Found
from eval.metrics import RetrievalRow
from eval.runner import evaluate_retrieval
from eval.summary import percentile, summarise_retrieval
from index.embedder import Embedder
from index.ingest import build_index, expectation_for
from index.store import IndexStore
from index.translations import TRANSLATIONS_FILE
from ragqa.config import Settings
from service.answering import Answerer
from service.compose import bilingual_indexer

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
# Questions about nothing in the collection, in the three scripts: where an embedder's best
# cosine for them sits, against in-collection questions, is what its relevance floor
# (RAGQA_MIN_DENSE_SCORE, the registry's min_dense_score) is chosen from.
OFF_TOPIC = (
    "What is the capital of France?",
    "Write me a poem about cats.",
    "Who won the 2018 World Cup?",
    "How do I reset my router password?",
    "今天天气怎么样？",
    "Python 里怎么反转列表？",
    "如何煮一碗好吃的牛肉麵？",
    "請推薦一部好看的電影",
)


class PlainSearch:
    """An eval backend that searches as a plain `/v1/search` client does: only the query (and
    the history of a follow-up), every other field left to the server's defaults."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def search(
        self,
        query: str,
        *,
        top_k: int,
        mode: str,
        cross_lingual: bool | None,
        history: Sequence[dict[str, str]],
    ) -> list[Found]:
        body: dict[str, Any] = {"query": query, "top_k": top_k}
        if history:
            body["history"] = list(history)
        response = self.client.post("/v1/search", json=body)
        response.raise_for_status()
        return [Found(hit["doc_id"], hit["text"]) for hit in response.json()["results"]]


@dataclass(frozen=True)
class EmbedderResult:
    name: str
    load_s: float
    chunks: int
    ingest_s: float
    rss_mb: float  # process RSS growth from loading the embedder and indexing
    summary: dict[str, Any]  # summarise_retrieval over every answerable question, first round
    by_language: dict[str, dict[str, Any]]
    latencies_ms: list[float]  # every round
    in_collection_best: list[float]  # best cosine of each eval question (unanswerable too)
    off_topic_best: list[float]  # best cosine of each OFF_TOPIC question


def best_cosine(answerer: Answerer, question: str, history: list[dict[str, str]]) -> float:
    hits = answerer.retrieve(question, 20, cross_lingual=False, history=history).hits
    return max((hit.dense_score or 0.0) for hit in hits) if hits else 0.0


def measure(
    name: str,
    settings: Settings,
    workdir: Path,
    rounds: int,
    load: Callable[[Settings], Embedder] = real_embedder,
    translations: Path | None = None,
) -> EmbedderResult:
    """Index the collection with embedder `name` (loaded by `load`) and search it plainly;
    with `translations` (a translations.sqlite3 that `ragqa translate` made), with the
    bilingual side those translations make."""
    rss_before = settle_memory()
    label = f"{name} + bilingual" if translations else name
    folder = workdir / label.replace(" ", "")
    settings = settings.model_copy(update={"embedder": name, "index_dir": folder})
    started = time.perf_counter()
    embedder = load(settings)
    load_s = time.perf_counter() - started
    report = build_index(settings, embedder, progress=False)
    rss_mb = (settle_memory() - rss_before) / 2**20
    store = IndexStore.open(settings.index_dir, expected=expectation_for(settings, embedder))
    bilingual = None
    if translations is not None:
        shutil.copy(translations, settings.index_dir / TRANSLATIONS_FILE)
        settings = settings.model_copy(update={"bilingual_max_chunks": 10**9})
        bilingual = bilingual_indexer(settings, store, embedder, None)
        if not bilingual.refresh().complete:
            raise SystemExit(f"{translations}: the collection is not wholly translated")
    answerer = Answerer(
        settings,
        embedder=embedder,
        store=store,
        generators=[],
        translator=None,
        bilingual=bilingual,
    )
    every_item = eval_items()
    items = [item for item in every_item if item.gold_docs]
    rows: list[list[RetrievalRow]] = []
    with (
        serve_answerer(settings, answerer) as (base, _),
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        backend = PlainSearch(client)
        for item in items[:5]:  # warm-up: first calls pay for lazy initialisation
            backend.search(item.question, top_k=5, mode="hybrid", cross_lingual=None, history=[])
        for _ in range(rounds):
            rows.append(
                evaluate_retrieval(backend, items, context_k=settings.context_k)  # type: ignore[arg-type]
            )
    first = rows[0]
    in_collection = [
        best_cosine(answerer, item.question, [t.model_dump() for t in item.history])
        for item in every_item
    ]
    off_topic = [best_cosine(answerer, question, []) for question in OFF_TOPIC]
    return EmbedderResult(
        name=label,
        load_s=load_s,
        chunks=report.chunks,
        ingest_s=report.seconds,
        rss_mb=rss_mb,
        summary=summarise_retrieval(first),
        by_language={
            language: summarise_retrieval([r for r in first if r.language == language])
            for language in LANGUAGES
        },
        latencies_ms=[r.latency_ms for round_rows in rows for r in round_rows],
        in_collection_best=in_collection,
        off_topic_best=off_topic,
    )


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(results: Sequence[EmbedderResult], rounds: int) -> str:
    header = (
        "| embedder | hit@1 | hit@5 | en hit@5 | zh-Hans hit@5 | zh-Hant hit@5 | multi-doc "
        "recall@5 | facts in context | en facts | /v1/search p50 ms | p99 ms | index build s "
        "| chunks/s | load s | RSS MB | best cosine, in collection: min / p10 | off topic: max |"
    )
    lines = [header, "| " + " | ".join(["---"] * (header.count("|") - 1)) + " |"]
    for r in results:
        s, lang = r.summary, r.by_language
        lines.append(
            f"| {r.name} | {_figure(s['hit_at_1'])} | {_figure(s['hit_at_5'])} | "
            f"{_figure(lang['en']['hit_at_5'])} | {_figure(lang['zh-Hans']['hit_at_5'])} | "
            f"{_figure(lang['zh-Hant']['hit_at_5'])} | {_figure(s['multi_doc_recall_at_5'])} | "
            f"{_figure(s['facts_in_context'])} | {_figure(lang['en']['facts_in_context'])} | "
            f"{_figure(percentile(r.latencies_ms, 50), 1)} | "
            f"{_figure(percentile(r.latencies_ms, 99), 1)} | {r.ingest_s:.1f} | "
            f"{r.chunks / r.ingest_s:.1f} | {r.load_s:.1f} | {r.rss_mb:.0f} | "
            f"{min(r.in_collection_best):.3f} / {percentile(r.in_collection_best, 10):.3f} | "
            f"{max(r.off_topic_best):.3f} |"
        )
    n = results[0].summary["n"] if results else 0
    notes = [
        "",
        f"{n} answerable questions of eval/sets/default.jsonl (follow-ups with their history), "
        f"each sent {rounds} time(s) to POST /v1/search with only query, top_k 5 and history: "
        "no cross_lingual flag, so no model call but the embedder's. Quality from the first "
        "round (search is deterministic); latency over every round, over HTTP (httpx, "
        "keep-alive, loopback). Index build: `build_index` over the bundled collection "
        "from scratch (load, clean, chunk, embed, BM25, write), after the embedder loaded.",
        f"Best cosine: the highest dense score among a question's 20 hits, for all "
        f"{len(results[0].in_collection_best) if results else 0} eval questions (unanswerable "
        f"ones too: they are about the collection) and for {len(OFF_TOPIC)} off-topic "
        "questions in the three scripts (bench/embedders.py); an embedder's relevance floor "
        "belongs between the two.",
    ]
    return "\n".join(lines + notes) + "\n"


def main(
    embedders: Annotated[
        str, typer.Option(help="Comma-separated embedder names (ragqa models list).")
    ] = "multilingual-e5-small,embeddinggemma-300m",
    rounds: Annotated[int, typer.Option(min=1, help="Passes over the questions.")] = 3,
    translations: Annotated[
        Path | None,
        typer.Option(
            help="A translations.sqlite3 of the bundled collection (`ragqa translate`): "
            "each embedder is also measured with the bilingual side it makes."
        ),
    ] = None,
) -> None:
    """Index the bundled collection with each embedder and measure plain /v1/search."""
    settings = bench_settings()
    sides = [None, translations] if translations else [None]
    with tempfile.TemporaryDirectory(prefix="ragqa-embedders-") as tmp:
        results = [
            measure(name, settings, Path(tmp), rounds, translations=side)
            for name in embedders.split(",")
            for side in sides
        ]
    text = render(results, rounds)
    kind = "embedders-bilingual" if translations else "embedders"
    path = RESULTS_DIR / f"{kind}-{date.today().isoformat()}.txt"
    path.write_text(text, encoding="utf-8")
    typer.echo(text)
    typer.echo(f"wrote {path}")


if __name__ == "__main__":
    typer.run(main)
