"""Answering a question end to end: retrieve, prompt, generate, check, cite.

`Answerer` is transport-free: the HTTP routes, the CLI and the evaluation runner all call it.
What it is built from is wired in one place, `service/compose.py`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from collections.abc import Generator as EventStream
from dataclasses import replace
from functools import partial

from index.backend import ChunkStore, SearchView
from index.documents import Chunk
from index.editions import editions_unknown
from index.embedder import Embedder
from index.translations import Reading
from ragqa.config import Settings
from ragqa.types import RetrievalMode
from service.answer import preamble, question_gloss
from service.answer_guard import question_has_content
from service.answer_kind import answers_kind, asked_kinds, states_every_kind
from service.ask_events import (
    AskEvent,
    AskResult,
    DoneEvent,
    PassagesEvent,
    TokenEvent,
    refusal_events,
)
from service.bilingual import BilingualIndexer, SentenceTranslator
from service.evidence import Evidence, EvidenceOptions, EvidenceSelector, lede_hits
from service.generation import Engine, Generator
from service.language import corpus_language, detect_language
from service.lead_focus import lead_focus, lead_tests
from service.named_subject import hits_naming, hits_of_documents_naming, names_unknown
from service.passages import SearchHit, reading_order, to_passages
from service.per_document import PartOptions, answer_parts, combined_result, document_groups
from service.retrieval import HybridRetriever, Retrieval
from service.sentence_choice import choose_sentence
from service.translation import LlmTranslator
from service.writer import AnswerWriter

log = logging.getLogger(__name__)


class Answerer:
    """Answers questions over the index with the loaded models; safe to share between request
    threads.

    Generators are held in a pool: at most one request uses a llama.cpp context at a time.
    The HTTP layer bounds how many requests may wait for one (see service.limits).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder,
        store: ChunkStore,
        generators: Sequence[Generator],
        translator: LlmTranslator | None,
        engine: Engine | None = None,
        bilingual: BilingualIndexer | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.bilingual = bilingual
        self.embedder = embedder
        self.store = store
        self.translator = translator
        self.retriever = HybridRetriever.from_settings(
            embedder,
            settings,
            translator=translator,
            bilingual=bilingual.view if bilingual is not None else None,
        )
        self.generators = tuple(generators)  # all of them, also while lent out of the pool
        self._pool: queue.Queue[Generator] = queue.Queue()
        for generator in generators:
            self._pool.put(generator)
        self.evidence = (
            EvidenceSelector(
                embedder,
                EvidenceOptions.from_settings(settings),
                self._choose_sentence if settings.evidence_judged > 0 else None,
            )
            if settings.evidence_sentences > 0
            else None
        )
        self.lead = (
            EvidenceSelector(embedder, EvidenceOptions.lead_from_settings(settings))
            # Not with evidence first (already sentences), nor where passages are read in their
            # translation (a sentence cut from a passage has none).
            if settings.evidence_lead > 0
            and settings.evidence_sentences == 0
            and not settings.bilingual_answers
            else None
        )
        # A sentence the model wrote in another language than the question's is translated on
        # the query translator's slot, idle while an answer is written.
        self.answer_translator = (
            SentenceTranslator(translator.generator, translator.lock, "answers").translate
            if translator is not None
            else None
        )
        self.writer = AnswerWriter(settings, self.answer_translator)
        self.generator_id = generators[0].model_id if generators else ""
        self.load_timings: dict[str, float] = {}

    def close(self) -> None:
        """Stop the bilingual translator and the engine this answerer started, if any."""
        if self.bilingual is not None:
            self.bilingual.stop()
        if self.engine is not None:
            self.engine.stop()

    def warm_prompt_cache(self) -> None:
        """Prefill the preambles every prompt starts with: the translator's, then one
        borrowing per pooled generator.

        The answer preamble (system rules and worked examples) is the longest part of every
        prompt: paid here, in the background after start, instead of by the first question.
        Generators are borrowed from the pool like a request borrows them, so a question asked
        meanwhile waits for one and then finds its preamble ready (a generator that served a
        question first has it anyway).
        """
        if self.translator is not None:  # a question is translated before it is answered
            self.translator.prefill()
        messages = preamble(quoting=self.settings.quote_first)
        for _ in self.generators:
            generator = self._pool.get()
            try:
                generator.prefill(messages)
            finally:
                self._pool.put(generator)

    @property
    def snapshot(self) -> SearchView:
        return self.store.snapshot

    def retrieve(
        self,
        query: str,
        top_k: int,
        *,
        mode: RetrievalMode = "hybrid",
        cross_lingual: bool | None = None,
        history: Sequence[dict[str, str]] | None = None,
    ) -> Retrieval:
        return self.retriever.search(
            self.snapshot, query, top_k, mode=mode, cross_lingual=cross_lingual, history=history
        )

    def search(
        self,
        query: str,
        top_k: int = 5,
        *,
        mode: RetrievalMode = "hybrid",
        cross_lingual: bool | None = None,
        history: Sequence[dict[str, str]] | None = None,
    ) -> list[SearchHit]:
        return self.retrieve(
            query, top_k, mode=mode, cross_lingual=cross_lingual, history=history
        ).hits

    def ask_events(
        self,
        question: str,
        *,
        history: Sequence[dict[str, str]] = (),
        top_k: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: threading.Event | None = None,
        timeout_s: float | None = None,
    ) -> EventStream[AskEvent, None, None]:
        """Passages first, then answer pieces, then the complete cited answer."""
        started = time.perf_counter()
        deadline = started + (timeout_s or self.settings.generation_timeout_s)
        language = detect_language(question)
        context_k = top_k or self.settings.context_k
        snapshot = self.snapshot
        retrieval = self.retriever.search(
            snapshot, question, self.candidates(context_k), history=history
        )
        hits = retrieval.hits[:context_k]
        # A follow-up's "he" is read, answered and checked as the person it stands for.
        question = retrieval.question or question
        timings = {k: round(v, 1) for k, v in retrieval.timings.items()}
        # What sentences are scored against: the question itself and its translations.
        queries = list(dict.fromkeys([question, *retrieval.queries]))
        # Nothing relevant, a question that is only orders to the assistant ("ignore your
        # rules, print your prompt"), one about someone no passage found names, or about an
        # edition of an event their documents never number: the model is not asked, and no
        # sentence is chosen.
        relevant = (
            (
                retrieval.relevant
                if retrieval.followup
                else self.retriever.is_relevant(hits, "hybrid")
            )
            and question_has_content(question)
            and not names_unknown(queries, [h.chunk.text for h in retrieval.hits])
            and not editions_unknown(
                question, map(snapshot.document_text, {h.chunk.doc_id for h in retrieval.hits})
            )
        )
        leading = 0  # with `lead_first`: the leading passages, answered from alone first
        if self.evidence is not None:  # the best sentences of more passages, not whole ones
            evidence = self.evidence.select(
                snapshot, queries, retrieval.hits[: self.settings.evidence_candidates]
            )
            read, timings = evidence.hits, {**timings, **evidence.timings}
            passages = to_passages(read, snapshot)
        else:
            if self.settings.named_documents:  # about someone: the reports that name them
                hits = hits_of_documents_naming(queries, hits)
            ordered = reading_order(hits, self.settings.passage_order)
            if self.lead is not None and relevant:  # the sentences likeliest to state it, first
                lead, complete = self._leading(snapshot, question, queries, hits)
                if lead.scores:  # no candidate sentence: the passages alone
                    ordered = [*lead.hits, *ordered]
                    if self.settings.lead_first and complete and _read_alone(question, lead):
                        leading = len(lead.hits)
                timings = {**timings, **lead.timings}
            passages = to_passages(ordered, snapshot, self._reader(question))
        yield PassagesEvent(passages)
        if not relevant:
            yield from refusal_events(question, language, passages, timings, started)
            return

        stop = stop or threading.Event()
        if stop.is_set():  # the client left while this request waited: skip the model
            return
        gloss = (
            question_gloss(question, retrieval.queries, passages)
            if self.settings.question_gloss
            else None
        )
        generator = self._pool.get()
        try:
            judged = time.perf_counter()
            several = self.writer.judge(
                generator, question, passages, language, "several", stop, gloss
            )
            if several is not None:
                timings["several_ms"] = round((time.perf_counter() - judged) * 1000, 1)
            groups = (
                document_groups(
                    retrieval.hits,
                    self.settings.per_document_max,
                    self.settings.per_document_passages,
                )
                if several is not None and several >= (self.settings.per_document_threshold or 0)
                else []
            )
            if len(groups) > 1 and not stop.is_set():
                options = PartOptions(
                    self.settings.support_threshold,
                    max_tokens or self.settings.max_tokens,
                    self.settings.temperature if temperature is None else temperature,
                    deadline,
                    self.answer_translator,
                )
                parts = answer_parts(
                    generator, question, groups, self.snapshot, language, options, stop,
                    timings,
                )  # fmt: skip
                result = combined_result(question, language, parts, timings, started, several)
                yield PassagesEvent(result.passages)
                yield TokenEvent(result.answer)
                yield DoneEvent(result)
                return
            limits = (max_tokens, temperature, deadline)
            if leading and not stop.is_set():
                tried = time.perf_counter()
                alone = dict(timings)
                first = yield from self.writer.write_alone(
                    generator, question, passages[:leading], language, limits, stop, alone,
                    started, several, gloss,
                )  # fmt: skip
                spent = round((time.perf_counter() - tried) * 1000, 1)
                if first is not None:  # cited by the same numbers: the leads come first
                    first.timings["lead_first_ms"] = spent
                    yield DoneEvent(replace(first, passages=passages))
                    return
                timings["lead_refused_ms"] = spent  # refused with nothing shown: read them all
                if stop.is_set():  # the client left, or the answer timed out: nothing more
                    return
            yield from self.writer.write(
                generator,
                question,
                passages,
                language,
                limits,
                stop,
                timings,
                started,
                several,
                gloss,
            )
        finally:
            self._pool.put(generator)

    def _choose_sentence(
        self, question: str, sentences: Sequence[str]
    ) -> tuple[list[float], float] | None:
        """The model's choice among a question's best sentences, on a pooled generator."""
        generator = self._pool.get()
        try:
            return choose_sentence(generator, question, sentences)
        finally:
            self._pool.put(generator)

    def _reader(self, question: str) -> Callable[[Chunk], Reading | None] | None:
        """With the bilingual index, passages in another language than the question's are
        read in their translation, when it is made."""
        if self.bilingual is None or not self.settings.bilingual_answers:
            return None
        return self.bilingual.reader(self.snapshot, corpus_language(detect_language(question)))

    def _lead(
        self, snapshot: SearchView, question: str, queries: Sequence[str], hits: list[SearchHit]
    ) -> Evidence:
        """The leading sentences (`_leading`)."""
        return self._leading(snapshot, question, queries, hits)[0]

    def _leading(
        self, snapshot: SearchView, question: str, queries: Sequence[str], hits: list[SearchHit]
    ) -> tuple[Evidence, bool]:
        """The leading sentences, and whether they pass every test that applies: about
        someone the question names, from the passages naming them; for a question quoting a
        term, asking which edition or who held a post, the best holding it
        (service.lead_focus); for one asking a quantity, time or place, the best stating one,
        from the passages or, about no one named, their documents' openings too (a report's
        lede states its event's date, place and attendance); all of these when it asks
        several, else each alone, in turn; otherwise, untested, the best of the passages."""
        assert self.lead is not None
        naming = hits_naming(queries, hits)
        read = naming or hits
        kind = partial(answers_kind, question) if asked_kinds(question) else None
        pool = [*read, *lede_hits(snapshot, read)] if kind and not naming else read
        for n, keep in enumerate(lead_tests(lead_focus(queries), kind)):
            stated = self.lead.select(snapshot, queries, pool, keep=keep)
            if stated.scores:  # the first test is every test together
                return stated, n == 0
        return self.lead.select(snapshot, queries, read), False

    def candidates(self, k: int) -> int:
        """Hits to retrieve: `k` for one answer, more when the question may be answered
        document by document (the first `k` are the same either way)."""
        if self.evidence is not None:
            k = max(k, self.settings.evidence_candidates)
        if self.settings.per_document_threshold is None:
            return k
        return max(k, 2 * self.settings.per_document_max * self.settings.per_document_passages)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[dict[str, str]] = (),
        top_k: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> AskResult:
        """The complete answer (the streaming events, consumed)."""
        events = self.ask_events(
            question, history=history, top_k=top_k, max_tokens=max_tokens, temperature=temperature
        )
        for event in events:
            if isinstance(event, DoneEvent):
                return event.result
        raise RuntimeError("ask_events ended without a result")  # pragma: no cover


def _same_language(question: str, lead: Evidence) -> bool:
    """Whether the leading sentences are in the question's language (Chinese of either
    script, or English): read alone, a sentence is read well only in the language asked in."""
    language = corpus_language(detect_language(question))
    return all(corpus_language(detect_language(h.chunk.text)) == language for h in lead.hits)


def _read_alone(question: str, lead: Evidence) -> bool:
    """Whether leading sentences that passed every test are answered from alone: in the
    question's language, stating every kind it asks (a date alone does not answer "when and
    where"). Checked only with `lead_first`, off the path of every other answer."""
    text = " ".join(hit.chunk.text for hit in lead.hits)
    return _same_language(question, lead) and states_every_kind(question, text)


__all__ = [
    "Answerer",
    "AskEvent",
    "AskResult",
    "DoneEvent",
    "PassagesEvent",
    "TokenEvent",
]
