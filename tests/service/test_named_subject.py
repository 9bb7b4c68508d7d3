"""The passages that name the person a question asks about: names matched as written (either
script) or in pinyin, the leading sentence taken from a passage that names them, and a question
about someone no passage names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import Chunk
from index.embedder import Embedder
from ragqa.config import Settings
from service.named_subject import hits_naming, names_asked_about, names_in_question, names_unknown
from service.passages import SearchHit
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

LIU = "清华大学的劉亞強教授介绍了医工结合的经验。"
WANG = "空军军医大学西京医院汪静教授发表了题为《2024年中国核医学现状报告》的重要演讲。"
OTHER = "来自解放军总医院的曹锋教授作了报告，讨论了核医学现状。"


def _hit(n: int, text: str) -> SearchHit:
    chunk = Chunk(f"d{n}.txt#0", f"d{n}.txt", 0, text, 0, len(text), title=f"d{n}")
    return SearchHit(chunk, 1.0, dense_score=1.0)


@pytest.mark.parametrize(
    "question",
    [
        "Which university is Professor Liu Yaqiang from?",
        "Which university is Yaqiang Liu from?",  # given name first
        "Which university is Prof. Liu Ya-qiang from?",
        "刘亚强是哪所大学的？",  # simplified, the passage traditional
        "劉亞強是哪所大學的？",
    ],
)
def test_a_name_is_matched_as_written_or_in_pinyin(question: str) -> None:
    assert names_asked_about([question], [LIU, WANG]) == {"刘亚强"}


@pytest.mark.parametrize(
    "question",
    [
        "Which university is Professor Liu from?",  # a surname alone names nobody
        "Which university did Liu Yaqiangs visit?",  # part of another word
        "Who talked about medicine-engineering integration?",
    ],
)
def test_no_name_is_matched_where_the_question_names_nobody_whole(question: str) -> None:
    assert names_asked_about([question], [LIU, WANG]) == set()


def test_only_the_passages_that_name_the_person_are_kept() -> None:
    hits = [_hit(1, OTHER), _hit(2, WANG), _hit(3, LIU)]
    question = "Which hospital is Professor Wang Jing, who presented the 2024 report, from?"
    assert [h.chunk.text for h in hits_naming([question], hits)] == [WANG]
    # A translation of the question counts too: a follow-up is searched with its subject.
    assert (
        hits_naming(["Which hospital is she from?", "汪静教授来自哪家医院？"], hits)[0] is hits[1]
    )
    assert hits_naming(["Which hospital presented the 2024 report?"], hits) == []


@pytest.mark.parametrize(
    ("queries", "unknown"),
    [
        # Named nowhere: in the question, or in the question and its translation.
        (["周晓明教授在哪家医院工作？"], ["周晓明"]),
        # A name the tagger reads as a place (a mountain), known by the title after it.
        (["鍾南山院士在太原講了什麼？"], ["钟南山"]),
        (
            ["Which hospital does Professor Zhou Xiaoming work at?", "周晓明教授在哪家医院工作？"],
            ["周晓明"],
        ),
        # The tagger splits the name from its surname; a title says where it starts.
        (["赵海峰教授在年会上获得了什么奖项？"], ["赵海峰"]),
        (["What award did Dr. Liu Haitao receive?", "刘海涛博士获得了什么奖？"], ["刘海涛"]),
        # Pinyin in the question itself, whatever the translation made of it.
        (["Which session did Professor Sun Meiling chair?", "哪个会场？"], ["Sun Meiling"]),
        (["What did Zhong Nanshan say?", "Zhong Nanshan说了什么？"], ["Zhong Nanshan"]),
        (["Which hospital is Wang Jing from?", "谁是王jing？"], []),  # 汪静 by sound
        (["Which university is Yaqiang Liu from?"], []),  # 劉亞強, traditional
        # Named: as written, in the other script, by other characters of the same sound (a
        # translation's guess), or in an English passage's pinyin.
        (["刘亚强教授是哪所大学的？"], []),
        (["Which hospital is Wang Jing from?", "王静来自哪家医院？"], []),
        (["Which hospital is Cao Feng from?", "曹峰来自哪家医院？"], []),
        (
            ["Which university is Lin Tongyu's hospital tied to?", "林桐榆的医院与哪所大学有关？"],
            [],
        ),
    ],
)
def test_a_question_about_someone_no_passage_names_is_told_apart(
    queries: list[str], unknown: list[str]
) -> None:
    texts = [LIU, WANG, OTHER, "Lin Tongyu, president of the Sichuan Cancer Hospital, spoke."]
    assert names_unknown(queries, texts) == unknown


def test_only_a_name_the_question_itself_has_is_checked() -> None:
    """A name the translation has and the question lacks is the translator's guess (a
    follow-up's subject, or a title read as a name): it is not the question's premise."""
    assert names_in_question(["Which hospital is she from?", "周晓明教授来自哪家医院？"]) == {}
    assert names_unknown(["Who spoke about PET?", "周晓明谈了PET吗？"], [LIU]) == []
    assert names_unknown(["Who spoke about PET?"], [LIU]) == []
    assert names_in_question(["成都教授们讲了什么？"]) == {}  # a city's professors


def test_a_question_about_someone_no_passage_names_is_refused_unread(tmp_path: Path) -> None:
    """The model is not asked; the same question about someone the passages name is."""
    answerer = build_fake_answerer(make_settings(tmp_path))
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    forum = "在第二届全国分子影像精准诊疗协同创新高峰论坛上作了什么报告？"
    result = answerer.ask(f"周晓明教授{forum}")
    assert result.refused and not fake.calls
    assert not answerer.ask(f"刘亚强教授{forum}").refused and fake.calls


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "translation", "name"),
    [
        # The translation names him in simplified characters, the passage in traditional:
        # the sentence that best matches it is another professor's.
        ("Which university is Professor Liu Yaqiang from?", "刘亚强教授来自哪所大学？", "劉亞強"),
        # A translation that writes her name with other characters of the same sound.
        (
            "Which hospital does Professor Wang Jing, who reported on the state of nuclear "
            "medicine in China, work at?",
            "王静教授报告了中国核医学现状，她在哪家医院工作？",
            "汪静",
        ),
        ("孔繁圃主任是哪个单位的？", "Which organisation is Director Kong Fanpu from?", "孔繁圃"),
    ],
)
def test_the_leading_sentence_comes_from_a_passage_naming_the_person(
    tmp_path: Path, real_embedder: Embedder, question: str, translation: str, name: str
) -> None:
    """With the real embedder's retrieval (the question's translation given, as the
    translating model would give it): when some passage read names the person, the sentence
    read first is cut from one of those passages."""
    settings = make_settings(
        tmp_path,
        chunk_size=Settings().chunk_size,
        min_dense_score=Settings().min_dense_score,
        evidence_lead=1,
    )
    answerer = build_fake_answerer(
        settings, embedder=real_embedder, translate=lambda messages: translation
    )
    result = answerer.ask(question)
    (cut,) = [p for p in result.passages if not p.chunk_id.rpartition("#")[2].isdigit()]
    whole = [p for p in result.passages if p.chunk_id.rpartition("#")[2].isdigit()]
    assert any(name in p.text for p in whole), "the premise: some passage read names them"
    parents = [p for p in whole if p.doc_id == cut.doc_id and p.start <= cut.start < p.end]
    assert parents and name in parents[0].text, (cut.text, [p.text[:40] for p in whole])
