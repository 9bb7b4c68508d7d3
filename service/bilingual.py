"""The bilingual index's translator: in the background, after a document is already searchable,
the local model translates each of its sentences into the collection's other language.

Sentence by sentence, because a small model translates a short sentence faithfully where it
summarises a long passage; because a question waiting for the same model waits behind at most
one part of a sentence; and because a translated sentence stays aligned with its original. It
yields to answers (it translates only while no answer is generating), keeps every sentence in the
`TranslationCache` as it is made (resumable, never twice), and publishes a new searchable
`BilingualView` as passages complete.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import prompts
from index.backend import ChunkStore, SearchView
from index.bilingual import BilingualView, build_view, wanted_translations
from index.documents import Chunk
from index.embedder import Embedder
from index.textnorm import script_counts
from index.translations import JOINERS, Reading, TranslationCache, chunk_sentences
from ragqa.errors import EngineUnavailable, GenerationFailed
from service.answer import neutralise
from service.generation import Generator
from service.generation.base import ChatMessage
from service.translation import TARGET_NAMES, worked_turns

log = logging.getLogger(__name__)

PUBLISH_EVERY_S = 20.0  # a new view at least this often while translating
_IDLE_POLL_S = 0.25
PART_CHARS = {"zh": 60, "en": 200}  # longer sentences are translated a part at a time
_CLAUSE_END = re.compile(r"(?<=[，；;])|(?<=, )")
ENGINE_RETRY_S = 5.0  # pause after the engine was found away (restarting)


def _request(sentence: str, target: str) -> ChatMessage:
    return {
        "role": "user",
        "content": prompts.render(
            "translate_sentence_request",
            sentence=sentence,
            target_language=TARGET_NAMES.get(target, target),
        ),
    }


@cache
def _examples() -> tuple[ChatMessage, ...]:
    return worked_turns("translate_sentence_examples.json", "sentence", _request)


def sentence_preamble() -> list[ChatMessage]:
    """Instructions and worked examples (of another collection), the same for every sentence,
    so the engine's prompt cache keeps them."""
    return [{"role": "system", "content": prompts.template("translate_sentence")}, *_examples()]


class SentenceTranslator:
    """One sentence into one language with the local model, under its translator's lock, so
    that two calls never run on one context at once (where the back end has no background
    slot, that is the query translator's)."""

    def __init__(self, generator: Generator, lock: threading.Lock, translator_id: str) -> None:
        self.generator = generator
        self.lock = lock
        self.translator_id = translator_id
        self.pieces = 0  # streamed pieces generated: one per token with llama.cpp's server

    def translate(
        self, sentence: str, target: str, go_on: Callable[[], bool] = lambda: True
    ) -> str | None:
        """The sentence in `target`, a part at a time when it is long (`parts`); None when
        `go_on` turned false between parts (an answer is waiting for the model: it waits
        behind one part at most, not the whole sentence)."""
        translated = []
        for k, part in enumerate(parts(sentence)):
            if k and not go_on():
                return None
            translated.append(self._one(part, target))
        return JOINERS.get(target, " ").join(t for t in translated if t)

    def _one(self, text: str, target: str) -> str:
        messages = [*sentence_preamble(), _request(neutralise(text), target)]
        budget = min(512, 48 + 2 * len(text))  # room for the longest faithful rendering
        with self.lock:
            pieces = list(self.generator.stream(messages, max_tokens=budget, temperature=0.0))
        self.pieces += len(pieces)
        lines = [line.strip() for line in "".join(pieces).strip().splitlines() if line.strip()]
        return lines[0] if lines else ""


def parts(sentence: str) -> list[str]:
    """A long sentence cut after its commas and semicolons into parts of about
    `PART_CHARS`: asked for a long sentence, a small model drops parts of it and invents
    others; a part it renders whole."""
    limit = PART_CHARS["zh" if script_counts(sentence)[0] * 3 > len(sentence) else "en"]
    if len(sentence) <= limit:
        return [sentence]
    grouped: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        if grouped and len(grouped[-1]) + len(clause) <= limit:
            grouped[-1] += clause
        elif clause:
            grouped.append(clause)
    return grouped


@dataclass(frozen=True)
class BilingualStatus:
    """What `/metrics`, `/readyz` and `ragqa index stats` say about the bilingual side."""

    # "off", "over the size limit", "translating", "waiting for answers", "engine unavailable",
    # "done"
    state: str
    chunks_translated: int
    chunks_wanted: int
    sentences_translated: int  # by this process
    translate_seconds: float  # model time those took
    pieces: int  # what the model streamed for them (tokens, with llama.cpp's server)


class BilingualIndexer:
    """Keeps the bilingual side of the store's live snapshot: builds it from kept translations
    and, when started, translates what is missing in a background thread."""

    def __init__(
        self,
        store: ChunkStore,
        cache: TranslationCache,
        embedder: Embedder,
        translator: SentenceTranslator | None,
        *,
        max_chunks: int,
        idle: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.cache = cache
        self.embedder = embedder
        self.translator = translator
        self.max_chunks = max_chunks
        self.idle = idle
        self._view = BilingualView("")
        self._state = "off"
        self._sentences = 0
        self._seconds = 0.0
        self._interrupted = 0  # sentences of the last round left unfinished for an answer
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_lock = threading.Lock()

    def view(self, snapshot: SearchView) -> BilingualView | None:
        """The side of `snapshot`, or None while it is not built (another generation's ids
        could name other chunks, so a stale side is never searched)."""
        view = self._view
        return view if view.generation == snapshot.generation and view.sides else None

    def reader(
        self, snapshot: SearchView, language: str
    ) -> Callable[[Chunk], Reading | None] | None:
        """For a question in `language`: each chunk of another language as read in it."""
        view = self.view(snapshot)
        if view is None:
            return None

        def read(chunk: Chunk) -> Reading | None:
            entry = snapshot.documents.get(chunk.doc_id)
            if entry is None or entry.language == language:
                return None
            return view.reading(chunk.chunk_id, language)

        return read

    def within_limit(self, snapshot: SearchView) -> bool:
        return 0 < len(snapshot) <= self.max_chunks

    def refresh(self) -> BilingualView:
        """Rebuild the side of the live snapshot from the kept translations."""
        with self._refresh_lock:
            snapshot = self.store.snapshot
            if not self.within_limit(snapshot):
                self._view = BilingualView(snapshot.generation)
            else:
                self._view = build_view(snapshot, self.cache, self.embedder)
            return self._view

    def status(self) -> BilingualStatus:
        coverage = self._view.coverage
        pieces = self.translator.pieces if self.translator is not None else 0
        return BilingualStatus(
            self._state,
            coverage.translated,
            coverage.wanted,
            self._sentences,
            self._seconds,
            pieces,
        )

    def translate_pending(
        self,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Translate every missing sentence of the live snapshot; returns how many were made.
        Stops early when `stop` is set or the snapshot changes (the caller goes round again).
        `progress(done, total)` hears of each sentence."""
        stop = stop or threading.Event()
        snapshot = self.store.snapshot
        if self.translator is None or len(snapshot) > self.max_chunks:
            self._state = "off" if self.translator is None else "over the size limit"
            self.refresh()
            return 0
        if self._view.generation != snapshot.generation:
            self.refresh()
        pending = self._pending(snapshot)
        made = self._interrupted = 0
        published = time.monotonic()
        for sentence, target in pending:
            while not self.idle() and not stop.is_set():
                self._state = "waiting for answers"
                stop.wait(_IDLE_POLL_S)
            if stop.is_set() or self.store.snapshot.generation != snapshot.generation:
                break
            self._state = "translating"
            started = time.perf_counter()
            try:
                translation = self.translator.translate(sentence, target, self.idle)
            except EngineUnavailable as e:  # restarting: try again on the next round
                log.warning("bilingual index paused: %s", e)
                self._state = "engine unavailable"
                stop.wait(ENGINE_RETRY_S)
                break
            except GenerationFailed as e:  # this sentence cannot be translated: keep it empty
                log.warning("sentence not translated into %s: %s", target, e)
                translation = ""
            self._seconds += time.perf_counter() - started
            if translation is None:  # left for an answer: still pending, made on a later round
                self._interrupted += 1
                continue
            self.cache.put(sentence, target, translation)
            self._sentences += 1
            made += 1
            if progress is not None:
                progress(made, len(pending))
            if time.monotonic() - published >= PUBLISH_EVERY_S:
                self.refresh()
                published = time.monotonic()
        view = self.refresh()
        if view.coverage.pending == 0:
            self._state = "done"
        return made

    def _pending(self, snapshot: SearchView) -> list[tuple[str, str]]:
        wanted = wanted_translations(snapshot)
        pending: dict[tuple[str, str], None] = {}
        for target in sorted({t for _, t in wanted}):
            sentences = [s for c, t in wanted if t == target for s in chunk_sentences(c)]
            kept = self.cache.get_many(sentences, target)
            pending.update({(s, target): None for s in sentences if s not in kept})
        return list(pending)

    def start(self) -> None:
        """Translate in the background from now on, going round whenever the index changes."""
        if self._thread is not None:
            return

        def loop() -> None:
            seen, again = None, False
            while not self._stop.is_set():
                generation = self.store.snapshot.generation
                if generation != seen or again:
                    seen = generation
                    try:
                        made = self.translate_pending(self._stop)
                        # Round again while rounds make progress or the engine was away; a
                        # round that made nothing waits for the index to change.
                        again = self._view.coverage.pending > 0 and (
                            made > 0 or self._interrupted > 0 or self._state == "engine unavailable"
                        )
                    except Exception:  # never let a fault end the thread or the service
                        log.exception("bilingual index: translation round failed")
                        again = True
                        self._stop.wait(30.0)
                self._stop.wait(1.0)

        self._thread = threading.Thread(target=loop, name="ragqa-bilingual", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


__all__ = ["BilingualIndexer", "BilingualStatus", "SentenceTranslator", "sentence_preamble"]
