"""Cross-lingual retrieval over the bundled collection, with the fake embedder and a translator
that gets every query wrong: what is left to find a name by is how it sounds."""

from __future__ import annotations

import pytest

from ragqa.config import Settings
from service.answering import Answerer
from service.retrieval import HybridRetriever
from service.translation import LlmTranslator
from tests.conftest import FakeEmbedder
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

TANG_YONGLIN = "001_d756bbd637e114db.txt"  # 唐勇林, in traditional script
ENGLISH_ARTICLE = "004_c1c1280c1642610c.txt"  # writes 李思进 as "Li Sijin"


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    settings: Settings = make_settings(tmp_path_factory.mktemp("retrieval"))
    built = build_fake_answerer(settings)
    # A translation that names the wrong person: the characters a small model guesses.
    built.retriever.translator = LlmTranslator(FakeGenerator(lambda _: "张永林担任什么职务？"))
    return built


def test_an_english_question_finds_the_chinese_text_that_names_its_person(
    answerer: Answerer,
) -> None:
    hits = answerer.search(
        "What position does Tang Yonglin hold?", 3, mode="lexical", cross_lingual=True
    )
    assert hits[0].doc_id == TANG_YONGLIN and "唐勇林" in hits[0].text, hits


def test_a_chinese_question_finds_the_english_text_that_romanises_its_person(
    answerer: Answerer,
) -> None:
    hits = answerer.search("李思进在会上分享了什么？", 20, mode="lexical", cross_lingual=True)
    english = [h for h in hits if h.doc_id == ENGLISH_ARTICLE]
    assert english and "Li Sijin" in english[0].text, hits


@pytest.mark.parametrize(
    ("embedder", "configured", "floor"),
    [
        ("multilingual-e5-small", None, 0.80),
        ("embeddinggemma-300m", None, 0.25),  # its cosines sit far lower than e5's
        ("some-org/unknown-embedder", None, 0.0),  # scale unknown: the support judgement decides
        ("embeddinggemma-300m", 0.4, 0.4),  # a configured floor wins
    ],
)
def test_the_relevance_floor_is_the_embedders_own_unless_configured(
    embedder: str, configured: float | None, floor: float
) -> None:
    settings = Settings(embedder=embedder, min_dense_score=configured)
    retriever = HybridRetriever.from_settings(FakeEmbedder(), settings)
    assert retriever.min_dense_score == pytest.approx(floor)
