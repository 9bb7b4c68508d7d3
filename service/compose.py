"""Composition: the one place where settings become models, an index store and an `Answerer`.

Everything above (the app's lifespan, the CLI, the eval runner, the benches) asks for an
answerer here; nothing below knows how the parts are chosen.
"""

from __future__ import annotations

import json
import time

from index.backend import ChunkStore
from index.embedder import Embedder
from index.ingest import open_or_build
from index.textnorm import sound_tokens, tokenize
from index.translations import TRANSLATIONS_FILE, TranslationCache, translator_id
from ragqa.config import Settings
from ragqa.models.resolve import ensure_models, load_configured_embedder, resolve_generator
from service.answering import Answerer
from service.bilingual import BilingualIndexer, SentenceTranslator, sentence_preamble
from service.generation import load_generators
from service.term_spelling import load_dictionary
from service.translation import LlmTranslator


def build_answerer(settings: Settings) -> Answerer:
    """Load (provisioning if needed) the embedder, the index and the generators.

    The answerer's `load_timings` say where the seconds of a start went (the bench reports them).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        clock = now

    ensure_models(settings)
    lap("models_check_s")
    embedder = load_configured_embedder(settings)
    lap("embedder_s")
    store = open_or_build(settings, embedder)
    # jieba loads its dictionary at first use, pypinyin its syllables: paid here, at start,
    # not by the first question.
    tokenize("预热")
    sound_tokens("Xi'an", "en")
    load_dictionary()  # CC-CEDICT, for half-translated terms in English answers
    lap("index_s")
    model = None if settings.generator_url else resolve_generator(settings)
    bilingual_on = settings.bilingual_max_chunks > 0
    loaded = load_generators(
        settings,
        model,
        answer_slots=settings.max_concurrent_generations,
        translator=settings.cross_lingual or bilingual_on,
        background=bilingual_on,
    )
    lap("generators_s")
    translator = LlmTranslator(loaded.translator) if loaded.translator else None
    bilingual = None
    if bilingual_on:
        behind = LlmTranslator(loaded.background) if loaded.background else translator
        bilingual = bilingual_indexer(settings, store, embedder, behind)
        bilingual.refresh()  # what earlier runs translated is searchable from the start
        lap("bilingual_s")
    answerer = Answerer(
        settings,
        embedder=embedder,
        store=store,
        generators=loaded.answer,
        translator=translator,
        engine=loaded.engine,
        bilingual=bilingual,
    )
    answerer.load_timings = timings
    return answerer


def bilingual_indexer(
    settings: Settings, store: ChunkStore, embedder: Embedder, translator: LlmTranslator | None
) -> BilingualIndexer:
    """The bilingual index over `store`, translating with `translator`: the background one on
    a slot of its own where the back end gives one, else the query translator."""
    identity = translator_id(
        settings.generator, settings.generator_url, json.dumps(sentence_preamble())
    )
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    cache = TranslationCache(settings.index_dir / TRANSLATIONS_FILE, translator=identity)
    sentences = (
        SentenceTranslator(translator.generator, translator.lock, identity)
        if translator is not None
        else None
    )
    return BilingualIndexer(
        store, cache, embedder, sentences, max_chunks=settings.bilingual_max_chunks
    )


def with_other_index(answerer: Answerer, settings: Settings) -> Answerer:
    """An answerer over the collection and index `settings` name, with `answerer`'s models:
    loading them again would take minutes and hold them twice in memory. The two share their
    model contexts, so they must not answer at the same time."""
    store = open_or_build(settings, answerer.embedder)
    bilingual = None
    if settings.bilingual_max_chunks > 0:
        given = answerer.bilingual.translator if answerer.bilingual is not None else None
        behind = (
            LlmTranslator(given.generator, lock=given.lock)
            if given is not None
            else answerer.translator
        )
        bilingual = bilingual_indexer(settings, store, answerer.embedder, behind)
        bilingual.refresh()
    return Answerer(
        settings,
        embedder=answerer.embedder,
        store=store,
        generators=answerer.generators,
        translator=answerer.translator,
        bilingual=bilingual,
    )
