"""The benchmark suite's code paths on tiny sizes, so `python -m bench` cannot rot.

Fast tests run the retrieval and load sections with the fake embedder and generator (a real
uvicorn server, a real client process); slow tests run ingestion and generation with the real
models. No figure is asserted beyond sanity: timings depend on the machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bench.components import BENCH_GENERATION_TIMEOUT_S, ci_subset_items, eval_questions
from bench.load import LoadOptions, run_load
from bench.realistic import RealisticOptions, run_realistic
from bench.report import (
    Cell,
    Section,
    Table,
    Target,
    load_sections,
    percentile,
    render_markdown,
    save_section,
    start_section,
)
from bench.retrieval import RetrievalOptions, exact_top_k, run_retrieval
from bench.synthetic import (
    base_of,
    build_snapshot,
    chunk_passage,
    chunk_specs,
    chunk_vectors,
    distinct_chunk_specs,
    make_corpus,
    sentence_pool,
)
from index.ingest import expectation_for, open_or_build
from ragqa.config import Settings
from service.answering import Answerer
from tests.conftest import FakeEmbedder
from tests.fakes import FakeGenerator

REPO = Path(__file__).resolve().parents[2]


def number(cell: Cell) -> float:
    """A table cell that must hold a measurement."""
    assert isinstance(cell, int | float) and not isinstance(cell, bool), cell
    return float(cell)


def tiny_settings(tmp: Path, **overrides: object) -> Settings:
    base = {
        "collection_dir": REPO / "corpus",
        "index_dir": tmp / "index",
        "model_cache_dir": Settings().model_cache_dir,
        "rate_limit_per_minute": 0,
        "cross_lingual": False,
        "min_dense_score": 0.0,
    }
    return Settings.model_validate({**base, **overrides})


def test_retrieval_section_on_1k_chunks_over_http_and_in_process(tmp_path: Path) -> None:
    section = start_section("retrieval", "1. Retrieval", "python -m bench retrieval", quick=True)
    options = RetrievalOptions(
        sizes=(1_000,), http_max_size=1_000, base_count=50, rounds=1, max_queries=3
    )
    run_retrieval(section, tiny_settings(tmp_path), FakeEmbedder(), eval_questions(), options)

    latency, build, stages = section.tables
    (row,) = latency.rows
    assert row[0] == 1_000 and row[1] == "IDMap2,Flat"
    assert row[-1] == 3  # one timed search per query and path
    assert all(number(v) > 0 for v in row[2:-1])  # latencies, ratio, httpx and /healthz
    (build_row,) = build.rows
    assert build_row[-1] == 1.0  # the exact index finds exactly what brute force finds
    assert [t.name for t in section.targets] == ["HTTP / in-process p50 at 1,000 chunks"]
    assert number(stages.rows[0][-1]) > 0
    assert not any("BM25 leaves out" in note for note in section.notes)  # below the floor


def test_retrieval_section_reports_what_bm25_pruning_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.lexical as lexical_module

    monkeypatch.setattr(lexical_module, "PRUNE_FROM_CHUNKS", 500)
    section = start_section("retrieval", "1. Retrieval", "python -m bench retrieval", quick=True)
    options = RetrievalOptions(
        sizes=(1_000,), http_max_size=0, base_count=50, rounds=1, max_queries=5
    )
    run_retrieval(section, tiny_settings(tmp_path), FakeEmbedder(), eval_questions(), options)
    (note,) = [note for note in section.notes if "BM25 leaves out" in note]
    chunks = float(note.split(" held ")[1].split()[0])
    near = float(note.split(" token, and ")[1].split()[0])
    assert "from 500 chunks; at 1,000 the hybrid top 5" in note and 0.0 <= chunks <= near <= 1.0


def test_base_of_names_the_chunk_each_synthetic_chunk_varies(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path)
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    corpus = make_corpus(pool, FakeEmbedder(), base_count=20, seed=3)
    specs = chunk_specs(corpus, 65)
    snapshot, _ = build_snapshot(
        corpus, specs, chunk_vectors(corpus, 65), expectation_for(settings, FakeEmbedder())
    )
    for i in range(65):
        base = base_of(snapshot.chunk(i), corpus)
        assert base == i % 20 and specs[i].document == corpus.base_specs[base].document


def test_synthetic_sizes_are_nested_and_vectors_unit_length(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path)
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    corpus = make_corpus(pool, FakeEmbedder(), base_count=20, seed=3)
    small, large = chunk_specs(corpus, 50), chunk_specs(corpus, 120)
    assert large[:50] == small
    vectors = chunk_vectors(corpus, 120)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[:20], corpus.base_vectors)
    assert 0 < corpus.variant_cosine < 1 and corpus.noise > 0


@settings(max_examples=30, deadline=None)
@given(
    arrays(np.float32, (40, 8), elements=st.floats(-1, 1, width=32)),
    arrays(np.float32, (3, 8), elements=st.floats(-1, 1, width=32)),
    st.integers(1, 10),
)
def test_exact_top_k_matches_a_full_sort(vectors: np.ndarray, queries: np.ndarray, k: int) -> None:
    found = exact_top_k(vectors, queries, k)
    scores = queries @ vectors.T
    for row, ids in enumerate(found):
        expected = np.sort(scores[row])[::-1][:k]
        assert np.allclose(np.sort(scores[row, ids])[::-1], expected)


def test_load_section_against_a_fake_model_server(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path)
    embedder = FakeEmbedder()
    answerer = Answerer(
        settings,
        embedder=embedder,
        store=open_or_build(settings, embedder),
        generators=[FakeGenerator(lambda messages: "An answer [1]")],
        translator=None,
    )
    section = start_section("load", "4. Load", "python -m bench load", quick=True)
    options = LoadOptions((2,), 1.0, ask_clients=3, ask_seconds=1.0, ask_max_tokens=4, max_queue=1)
    run_load(section, settings, answerer, eval_questions()[:3], options)

    (table,) = section.tables
    search, ask = table.rows
    assert number(search[1]) > 0 and search[1] == search[2]  # every search answered 200
    assert number(ask[1]) == number(ask[2]) + number(ask[3]) + number(ask[4])
    assert number(ask[2]) > 0
    assert number(ask[-1]) >= number(ask[-2]) > 0  # RSS sampled while the clients ran


def test_results_round_trip_into_benchmarks_markdown(tmp_path: Path) -> None:
    section = start_section("ingestion", "2. Ingestion", "python -m bench ingestion", quick=False)
    section.tables.append(Table("Throughput", ["path", "chunks/s"], [["build_index", 12.5]]))
    section.targets.append(Target("ratio", ">= 0.9x", "0.80x", met=False, why="per-batch calls"))
    save_section(section, tmp_path)

    text = render_markdown(load_sections(tmp_path), "intro")
    assert "Reproduce: `python -m bench ingestion`" in text
    assert "| build_index | 12.5 |" in text
    assert "**missed**. per-batch calls" in text
    assert section.machine["cpu"] in text


def test_percentile_interpolates_and_is_nan_for_nothing() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))


@pytest.mark.slow
def test_ingestion_section_with_the_real_embedder(tmp_path: Path) -> None:
    from bench.components import real_embedder
    from bench.ingestion import IngestionOptions, run_ingestion
    from ragqa.models.embedders import SentenceTransformerEmbedder
    from ragqa.models.resolve import resolve_embedder

    settings = tiny_settings(tmp_path)
    reference = SentenceTransformerEmbedder(resolve_embedder(settings))
    section = start_section("ingestion", "2. Ingestion", "python -m bench ingestion", quick=True)
    run_ingestion(section, settings, real_embedder(settings), reference, IngestionOptions(2, 1))
    throughput = section.tables[0]
    assert [row[0] for row in throughput.rows] == [
        "build_index (whole ingestion, OnnxEmbedder)",
        "SentenceTransformer.encode_document, one call",
        "OnnxEmbedder.embed_documents, one call",
    ]
    assert all(number(row[1]) > 0 for row in throughput.rows)
    assert len(section.targets) == 2


@pytest.mark.slow
def test_generation_section_with_the_realload_models(tmp_path: Path) -> None:
    from bench.generation import GenerationOptions, run_generation
    from bench.suite import load_models

    settings = tiny_settings(
        tmp_path,
        cross_lingual=True,
        min_dense_score=0.8,
        generation_timeout_s=BENCH_GENERATION_TIMEOUT_S,  # as the bench runs it
    )
    options = GenerationOptions(
        questions=1, rounds=1, max_tokens=4, sweep=((160, 1),), sweep_questions=1
    )
    items = ci_subset_items(answerable_only=True, limit=1)
    section = start_section("generation", "3. Generation", "python -m bench generation", quick=True)
    models = load_models(settings)
    try:
        run_generation(section, settings, models, items, items, options)
    finally:
        models.close()
    assert models.generators.engine is not None
    assert models.generators.engine.status().state == "stopped"
    cache, _, sweep = section.tables
    assert [row[0] for row in cache.rows] == ["cold", "repeat"]
    prompt_tokens = number(cache.rows[0][2])
    assert prompt_tokens > 0
    # The repeat came from the KV cache, on the server's engine as on the engine alone.
    server_cached, alone_cached = (float(x) for x in str(cache.rows[1][3]).split(" / "))
    assert server_cached > prompt_tokens / 2 and alone_cached > prompt_tokens / 2
    assert sweep.rows[0][:2] == [160, 1]


@pytest.mark.slow
def test_the_engine_alone_reuses_its_cache_for_a_repeated_prompt(tmp_path: Path) -> None:
    from bench.alone import EngineAlone
    from ragqa.models.registry import QWEN_0_5B
    from ragqa.models.resolve import ensure_models
    from service.generation import ChatMessage

    settings = tiny_settings(tmp_path)
    model = ensure_models(settings, [QWEN_0_5B.name], progress=False)[QWEN_0_5B.name]
    alone = EngineAlone(str(model), settings)
    try:
        messages: list[ChatMessage] = [
            {"role": "system", "content": "Answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ]
        tokens = alone.tokens(messages)
        ttft_ms, _ = alone.complete(messages, max_tokens=4)
        assert ttft_ms > 0 and alone.cached_tokens() < len(tokens) // 2
        alone.complete(messages, max_tokens=4)
        assert alone.cached_tokens() >= len(tokens) - 1  # llama.cpp re-evaluates the last one
    finally:
        alone.close()
    assert alone.engine.status().state == "stopped"


@pytest.mark.slow
def test_startup_section_times_real_server_processes(tmp_path: Path) -> None:
    from bench.startup import STAGES, StartupOptions, run_startup

    settings = tiny_settings(tmp_path)
    section = start_section("startup", "6. Startup", "python -m bench startup", quick=True)
    run_startup(section, settings, StartupOptions(rounds=1))
    ready, stages = section.tables
    assert ready.rows[0][0] == 1 and number(ready.rows[0][1]) > 0
    assert [row[0] for row in stages.rows] == list(STAGES)
    assert number(stages.rows[2][1]) > 0  # the embedder took some time to load
    assert section.targets[0].name == "service ready after start"


def test_stores_section_builds_both_stores_and_times_search() -> None:
    from bench.stores import StoresOptions, run_stores

    section = start_section("stores", "7. Stores", "python -m bench stores", quick=True)
    pool = sentence_pool(REPO / "corpus", 10 * 1024 * 1024)
    options = StoresOptions(chunks=60, chunks_per_document=6, rounds=1)
    run_stores(section, pool.sentences, eval_questions()[:5], options)
    rows = {row[0]: row for row in section.tables[0].rows}
    assert set(rows) == {"faiss", "milvus"}
    assert rows["faiss"][1] == rows["milvus"][1] == 10  # documents
    assert rows["faiss"][2] == rows["milvus"][2] > 10  # the same chunks in both
    assert all(0 < row[7] <= row[8] for row in rows.values())  # search p50 <= p99


def test_embedders_bench_indexes_searches_plainly_and_renders(tmp_path: Path) -> None:
    from bench.components import eval_items
    from bench.embedders import OFF_TOPIC, measure, render

    settings = tiny_settings(tmp_path)
    result = measure("fake", settings, tmp_path, rounds=2, load=lambda _: FakeEmbedder())
    answerable = [item for item in eval_items() if item.gold_docs]
    assert result.chunks > 0 and result.ingest_s > 0
    assert result.summary["n"] == len(answerable)
    assert len(result.latencies_ms) == 2 * len(answerable)
    assert len(result.in_collection_best) == len(eval_items())
    assert len(result.off_topic_best) == len(OFF_TOPIC)
    hit_at_5 = result.summary["hit_at_5"]
    assert isinstance(hit_at_5, float) and 0.0 < hit_at_5 <= 1.0  # really searched
    table = render([result], rounds=2)
    assert "| fake |" in table and "sent 2 time(s)" in table


def test_embedders_bench_measures_the_bilingual_side_a_translations_file_makes(
    tmp_path: Path,
) -> None:
    from bench.embedders import measure
    from index.translations import TRANSLATIONS_FILE, text_key
    from service.compose import bilingual_indexer
    from service.translation import LlmTranslator

    made = tiny_settings(tmp_path / "made", bilingual_max_chunks=10**6)
    embedder = FakeEmbedder()
    store = open_or_build(made, embedder)
    model = FakeGenerator(lambda m: "tag " + text_key(m[-1]["content"])[:8])
    bilingual_indexer(made, store, embedder, LlmTranslator(model)).translate_pending()

    result = measure(
        "fake",
        tiny_settings(tmp_path),
        tmp_path / "work",
        rounds=1,
        load=lambda _: FakeEmbedder(),
        translations=made.index_dir / TRANSLATIONS_FILE,
    )
    hit_at_5 = result.summary["hit_at_5"]
    assert result.name == "fake + bilingual" and isinstance(hit_at_5, float) and hit_at_5 > 0


def test_bm25_memory_bench_builds_and_reports() -> None:
    from bench.bm25_memory import main

    line = main(3_000)
    assert line.startswith("3,000 chunks: ") and "peak RSS" in line
    assert " 0 nonzeros" not in line


def test_bm25_prune_bench_reports_every_share() -> None:
    from bench.bm25_prune import SHARES, main

    lines = main(3_000).splitlines()
    assert lines[0].startswith("3,000 chunks") and len(lines) == 2 + len(SHARES)
    assert all(" ms" in line for line in lines[1:]) and "keeps" in lines[-2]
    # below the product's size floor nothing is left out, so it keeps the whole exact top
    assert (
        "keeps top 10 1.000, top 60 1.000; deserved (ties counted) top 10 1.000, top 60 1.000"
        in lines[-1]
    )


class _FailingAfter(FakeEmbedder):
    """Embeds `budget` passages, then fails: an interrupted embedding run."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if len(self.embedded) + len(texts) > self.budget:
            raise RuntimeError("interrupted")
        return super().embed_documents(texts)


def test_realistic_section_resumes_from_its_cache_and_probing_every_list_is_exact(
    tmp_path: Path,
) -> None:
    settings = tiny_settings(tmp_path)
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    options = RealisticOptions(
        size=400, ann_threshold=100, nprobes=(1, 64), batch=100, synthetic_base=50
    )
    questions = eval_questions()[:8]

    def run(embedder: FakeEmbedder) -> Section:
        section = start_section("realistic", "8.", "python -m bench realistic", quick=True)
        return run_realistic(section, pool, embedder, questions, options, tmp_path / "cache")

    with pytest.raises(RuntimeError, match="interrupted"):
        run(_FailingAfter(budget=250))  # two batches of 100 land in the cache, the third fails
    resumed = FakeEmbedder()
    section = run(resumed)
    specs = distinct_chunk_specs(pool, 400, np.random.default_rng(options.seed))
    passages = [chunk_passage(pool, spec) for spec in specs]
    assert not set(passages[:200]) & set(resumed.embedded)  # resumed, not re-embedded
    assert set(passages[200:]) <= set(resumed.embedded)

    recall, vectors = section.tables
    assert "IVF8," in recall.title and recall.rows[1][0] == "64 (the product's)"
    every_list = recall.rows[1]  # 64 probes cover every list of a 400-vector inverted file
    assert every_list[1] == 1.0 and every_list[2] == 1.0
    assert 0.0 <= number(recall.rows[0][1]) <= 1.0
    assert vectors.rows[0][2] == len(resumed.embedded) >= 200
    (target,) = section.targets
    assert target.measured == "1.000" and target.met

    again = FakeEmbedder()
    run(again)
    assert again.embedded == []  # everything, the synthetic base included, is in the cache now
