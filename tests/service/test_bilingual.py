"""The bilingual index's background translator over the bundled collection, with the fake
embedder and a fake model whose "translation" of a sentence is a tag derived from it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.bilingual import ListedView
from index.documents import Chunk, Document
from index.translations import chunk_sentences, text_key
from ragqa.config import Settings
from ragqa.errors import EngineUnavailable, GenerationFailed
from service.answering import Answerer
from service.app import create_app
from service.bilingual import PART_CHARS, BilingualIndexer, SentenceTranslator, parts
from service.compose import bilingual_indexer
from service.generation.base import ChatMessage
from service.translation import LlmTranslator
from tests.fakes import FakeGenerator
from tests.service.conftest import REPO, build_fake_answerer, make_settings


def tag(messages: list[ChatMessage]) -> str:
    """The fake model's translation: which language it was asked for, and of what."""
    request = messages[-1]["content"]
    target = request.split("Target language: ", 1)[1].split("\n", 1)[0]
    sentence = request.split("Sentence: ", 1)[1]
    word = "english" if target == "English" else "中文"
    return f"{word} tag{text_key(sentence)[:10]}"


class Model:
    """A fake model that counts its calls, and can stop a run after some of them."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop = threading.Event()
        self.stop_after = stop_after
        self.generator = FakeGenerator(self.reply)

    def reply(self, messages: list[ChatMessage]) -> str:
        if self.stop_after is not None and len(self.generator.calls) >= self.stop_after:
            self.stop.set()
        return tag(messages)

    @property
    def sentences(self) -> list[str]:
        return [m[-1]["content"].split("Sentence: ", 1)[1] for m in self.generator.calls]


def indexer_for(answerer: Answerer, settings: Settings, model: Model) -> BilingualIndexer:
    indexer = bilingual_indexer(
        settings, answerer.store, answerer.embedder, LlmTranslator(model.generator)
    )
    answerer.retriever.bilingual = indexer.view
    return indexer


def chinese_chunk(answerer: Answerer, sentences: int) -> Chunk:
    """The first chunk of a Chinese document with a title and this many sentences in all."""
    snapshot = answerer.snapshot
    assert isinstance(snapshot, ListedView)
    chunks = (snapshot.chunk(int(i)) for i in snapshot.chunk_ids())
    return next(
        c
        for c in chunks
        if snapshot.documents[c.doc_id].language == "zh" and len(chunk_sentences(c)) >= sentences
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The bilingual index on, and questions not translated (as a plain search asks)."""
    return make_settings(tmp_path, bilingual_max_chunks=1_000, cross_lingual=False)


def test_every_sentence_is_translated_once_and_a_restart_resumes_from_the_cache(
    settings: Settings,
) -> None:
    answerer = build_fake_answerer(settings)
    model = Model(stop_after=7)
    first = indexer_for(answerer, settings, model)

    made = first.translate_pending(model.stop)  # interrupted after 7 model calls
    assert 0 < made <= 7 and first.status().chunks_translated < first.status().chunks_wanted

    resumed = Model()
    second = indexer_for(answerer, settings, resumed)  # a new process: only the cache is left
    rest = second.translate_pending()
    assert rest > 0 and len(second.cache) == made + rest  # no sentence translated twice
    status = second.status()
    assert status.state == "done" and status.chunks_translated == status.chunks_wanted > 0
    assert status.sentences_translated == rest and status.translate_seconds > 0
    assert status.pieces == 2 * len(resumed.generator.calls)  # two words per call

    assert second.translate_pending() == 0 and Model().generator.calls == []


def test_a_plain_english_search_finds_a_chinese_passage_through_its_translation(
    settings: Settings,
) -> None:
    answerer = build_fake_answerer(settings)
    chinese = chinese_chunk(answerer, sentences=1)
    query = " ".join(
        tag([{"role": "user", "content": f"Target language: English\nSentence: {s}"}])
        for s in chunk_sentences(chinese)[:2]
    )
    before = [h.chunk.chunk_id for h in answerer.search(query, 5)]

    indexer = indexer_for(answerer, settings, Model())
    indexer.translate_pending()
    hits = answerer.search(query, 5)  # no flag: plain search, no query translation
    assert chinese.chunk_id not in before
    assert hits[0].chunk.chunk_id == chinese.chunk_id and hits[0].chunk.text == chinese.text
    query_translator = answerer.translator
    assert query_translator is not None and isinstance(query_translator.generator, FakeGenerator)
    assert query_translator.generator.calls == []  # the search made no model call


def test_it_waits_while_answers_generate_and_stays_within_its_size_limit(
    settings: Settings, tmp_path: Path
) -> None:
    answerer = build_fake_answerer(settings)
    model = Model()
    indexer = indexer_for(answerer, settings, model)
    indexer.idle = lambda: False
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert indexer.translate_pending(stop) == 0 and model.generator.calls == []
    assert indexer.status().state == "waiting for answers"

    small = make_settings(tmp_path / "small", bilingual_max_chunks=5)
    over = build_fake_answerer(small)
    limited = indexer_for(over, small, model)
    assert limited.translate_pending() == 0 and model.generator.calls == []
    assert limited.status().state == "over the size limit"
    assert limited.view(over.snapshot) is None


def test_a_side_of_another_generation_is_never_searched(settings: Settings) -> None:
    answerer = build_fake_answerer(settings)
    indexer = indexer_for(answerer, settings, Model())
    indexer.translate_pending()
    assert indexer.view(answerer.snapshot) is not None

    answerer.store.add_documents(
        [Document("new.txt", "A new English report about imaging.", language="en")],
        answerer.embedder,
    )
    assert indexer.view(answerer.snapshot) is None  # its chunk ids could name other chunks
    indexer.refresh()
    assert indexer.view(answerer.snapshot) is not None


def test_metrics_report_the_bilingual_progress(settings: Settings) -> None:
    model = Model()

    def factory(s: Settings) -> Answerer:
        answerer = build_fake_answerer(s)
        answerer.bilingual = indexer_for(answerer, s, model)
        return answerer

    with TestClient(create_app(settings, answerer_factory=factory)) as client:
        deadline = time.monotonic() + 120  # the lifespan started the translator in the background
        while True:
            body = client.get("/metrics").text
            translated = _gauge(body, 'ragqa_bilingual_chunks{kind="translated"}')
            wanted = _gauge(body, 'ragqa_bilingual_chunks{kind="wanted"}')
            if (wanted and translated == wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert wanted > 0 and translated == wanted, body
    sentences = _gauge(body, "ragqa_bilingual_sentences_translated")
    assert 0 < sentences <= len(model.generator.calls)  # a long sentence takes a call per part


def _gauge(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_the_model_reads_a_chinese_passage_in_english_and_the_quote_is_the_original(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"bilingual_answers": True})
    answerer = build_fake_answerer(settings)
    indexer = indexer_for(answerer, settings, Model())
    answerer.bilingual = indexer
    indexer.translate_pending()
    snapshot = answerer.snapshot
    chinese = chinese_chunk(answerer, sentences=3)
    second = chunk_sentences(chinese)[2]  # the title, then the chunk's sentences
    question = tag([{"role": "user", "content": f"Target language: English\nSentence: {second}"}])

    answer_model = answerer.generators[0]
    assert isinstance(answer_model, FakeGenerator)
    # It answers from that sentence (with a word of its own: a sentence that only says the
    # question back is dropped).
    answer_model.reply = lambda _: f"The passage says: {question} [1]"

    result = answerer.ask(question + "?")
    first = result.passages[0]
    assert first.chunk_id == chinese.chunk_id and first.reading is not None
    prompt = answer_model.calls[-1][-1]["content"]
    assert first.reading.text in prompt and chinese.text not in prompt  # read in English
    (citation,) = result.citations
    document = snapshot.document_text(chinese.doc_id)
    assert citation.quote == second.strip() == document[citation.start : citation.end]

    answerer.settings = answerer.settings.model_copy(update={"bilingual_answers": False})
    prompt_tail = answerer.ask(question + "?").passages[0]
    assert prompt_tail.reading is None  # off: the original is what the model reads


def test_an_engine_away_pauses_the_round_and_an_untranslatable_sentence_is_kept_empty(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.bilingual as bilingual_module

    monkeypatch.setattr(bilingual_module, "ENGINE_RETRY_S", 0.0)
    faults: list[Exception] = [EngineUnavailable("restarting"), GenerationFailed("too long")]

    def reply(messages: list[ChatMessage]) -> str:
        if faults:
            raise faults.pop(0)
        return tag(messages)

    answerer = build_fake_answerer(settings)
    model = FakeGenerator(reply)
    indexer = bilingual_indexer(settings, answerer.store, answerer.embedder, LlmTranslator(model))
    assert indexer.translate_pending() == 0 and indexer.status().state == "engine unavailable"
    made = indexer.translate_pending()  # the first sentence fails, is kept empty, not retried
    status = indexer.status()
    assert made > 0 and status.state == "done"
    assert status.chunks_translated == status.chunks_wanted
    assert indexer.translate_pending() == 0


_TRANSLATOR = r"""
import os, signal, sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from service.compose import bilingual_indexer
from service.translation import LlmTranslator
from tests.fakes import FakeGenerator
from tests.service.conftest import REPO, build_fake_answerer, make_settings
from tests.service.test_bilingual import tag

settings = make_settings(Path(sys.argv[2]), bilingual_max_chunks=1000, cross_lingual=False)
answerer = build_fake_answerer(settings)
done = []


def reply(messages):
    done.append(1)
    if len(done) > int(sys.argv[3]):  # killed while the next sentence is being translated
        os.kill(os.getpid(), signal.SIGKILL)
    return tag(messages)


indexer = bilingual_indexer(
    settings, answerer.store, answerer.embedder, LlmTranslator(FakeGenerator(reply))
)
indexer.translate_pending()
"""


def test_a_translator_killed_mid_sentence_loses_only_that_sentence(
    settings: Settings, tmp_path: Path
) -> None:
    build_fake_answerer(settings)  # the index, built once
    script = tmp_path / "translator.py"
    script.write_text(_TRANSLATOR, encoding="utf-8")
    killed = subprocess.run(
        [sys.executable, str(script), str(REPO), str(tmp_path), "9"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    answerer = build_fake_answerer(settings)
    resumed = Model()
    indexer = indexer_for(answerer, settings, resumed)
    before = indexer.refresh().coverage  # the cache is readable after the kill
    assert 0 < before.translated < before.wanted
    made = indexer.translate_pending()
    every = Model()
    fresh = make_settings(tmp_path / "fresh", bilingual_max_chunks=1000, cross_lingual=False)
    indexer_for(build_fake_answerer(fresh), fresh, every).translate_pending()
    # what was committed before the kill is kept: the rest is asked for, each part once
    assert made > 0 and set(resumed.sentences) < set(every.sentences)
    assert len(every.sentences) - 9 <= len(resumed.sentences) < len(every.sentences)
    assert indexer.status().state == "done"


def test_a_long_sentence_is_translated_a_part_at_a_time_and_joined() -> None:
    long = "本次会议由甲大学、乙大学主办，丙学会、丁学会协办，" * 3 + "共有三百人参加。"
    pieces = parts(long)
    assert "".join(pieces) == long and len(pieces) > 1
    assert all(len(p) <= PART_CHARS["zh"] for p in pieces)
    assert parts("会议在太原举行。") == ["会议在太原举行。"]

    model = FakeGenerator(lambda m: "part")
    translator = SentenceTranslator(model, threading.Lock(), "t")
    assert translator.translate(long, "en") == " ".join(["part"] * len(pieces))
    assert len(model.calls) == len(pieces)


def test_an_answer_waits_behind_one_part_not_a_whole_long_sentence() -> None:
    long = "本次会议由甲大学、乙大学主办，丙学会、丁学会协办，" * 3 + "共有三百人参加。"
    model = FakeGenerator(lambda m: "part")
    translator = SentenceTranslator(model, threading.Lock(), "t")
    # An answer arrives while the first part is made: the rest is not asked for.
    assert translator.translate(long, "en", lambda: False) is None
    assert len(model.calls) == 1 < len(parts(long))
    assert translator.translate(long, "en", lambda: True) is not None


def test_a_sentence_left_for_an_answer_stays_pending_and_is_made_later(
    settings: Settings,
) -> None:
    answerer = build_fake_answerer(settings)
    model = Model()
    indexer = indexer_for(answerer, settings, model)
    long = "本次会议由甲大学、乙大学主办，丙学会、丁学会协办，" * 3 + "共有三百人参加。"
    indexer._pending = lambda snapshot: [(long, "en")]  # type: ignore[method-assign]
    checks = iter([True, False])  # idle before the sentence, then an answer arrives
    indexer.idle = lambda: next(checks, True)
    assert indexer.translate_pending() == 0
    assert indexer.cache.get_many([long], "en") == {}  # nothing half-made is kept
    indexer.idle = lambda: True
    assert indexer.translate_pending() == 1
    assert long in indexer.cache.get_many([long], "en")


def test_a_changed_prompt_translates_again(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.compose as compose_module

    answerer = build_fake_answerer(settings)
    indexer_for(answerer, settings, Model()).translate_pending()
    assert indexer_for(answerer, settings, Model()).translate_pending() == 0

    preamble = compose_module.sentence_preamble()
    better = [{"role": "system", "content": "a better prompt"}, *preamble[1:]]
    monkeypatch.setattr(compose_module, "sentence_preamble", lambda: better)
    assert indexer_for(answerer, settings, Model()).translate_pending() > 0


def test_a_plain_search_still_finds_a_chinese_name_by_its_sound(settings: Settings) -> None:
    answerer = build_fake_answerer(settings)
    indexer_for(answerer, settings, Model()).translate_pending()  # translations name no one
    hits = answerer.search("What position does Tang Yonglin hold?", 3, mode="lexical")
    assert hits and "唐勇林" in hits[0].text, hits


def test_a_translated_question_searches_as_before_unless_answers_use_the_side(
    settings: Settings,
) -> None:
    translated = settings.model_copy(update={"cross_lingual": True})
    answerer = build_fake_answerer(translated)
    question = " ".join(  # the words of a Chinese chunk's English translation
        tag([{"role": "user", "content": f"Target language: English\nSentence: {s}"}])
        for s in chunk_sentences(chinese_chunk(answerer, sentences=1))[:2]
    )
    before = [(h.chunk_id, h.score) for h in answerer.search(question, 8, cross_lingual=True)]
    indexer = indexer_for(answerer, translated, Model())
    indexer.translate_pending()
    after = [(h.chunk_id, h.score) for h in answerer.search(question, 8, cross_lingual=True)]
    assert after == before  # answers' retrieval is untouched by default

    answerer.retriever.bilingual_with_translation = True
    assert [(h.chunk_id, h.score) for h in answerer.search(question, 8, cross_lingual=True)] != (
        before
    )
