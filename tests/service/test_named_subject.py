"""The passages that name the person a question asks about: names matched as written (either
script) or in pinyin, the leading sentence taken from a passage that names them, and a question
about someone no passage names refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import Chunk
from index.embedder import Embedder
from ragqa.config import Settings
from service.claims import check_claims
from service.named_subject import (
    hits_naming,
    hits_of_documents_naming,
    names_asked_about,
    names_in_question,
    names_unknown,
    people_uncited,
)
from service.passages import Passage, SearchHit
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


def test_only_the_hits_of_reports_naming_the_person_are_read() -> None:
    """A report counts when one of its hits names them, as written or, in an English report,
    in pinyin; its other hits are read too. A question naming no one, or no one a hit names,
    keeps every hit."""

    def hit(doc: str, n: int, text: str) -> SearchHit:
        chunk = Chunk(f"{doc}#{n}", doc, n, text, 0, len(text), title=doc)
        return SearchHit(chunk, 1.0, dense_score=1.0)

    hits = [
        hit("other.txt", 0, OTHER),
        hit("xijing.txt", 0, "西京医院的报告。"),
        hit("liu.txt", 0, LIU),
        hit("xijing.txt", 3, WANG),
        hit("english.txt", 0, "Prof. Wang Jing reported on nuclear medicine in China."),
    ]
    for question in ("汪静教授来自哪家医院？", "Which hospital is Professor Wang Jing from?"):
        assert hits_of_documents_naming([question], hits) == [hits[1], hits[3], hits[4]]
    for nobody in ("Which hospital presented the 2024 report?", "周晓明教授来自哪家医院？"):
        assert hits_of_documents_naming([nobody], hits) == hits


@pytest.mark.parametrize("named_documents", [True, False])
def test_the_model_reads_only_the_reports_naming_whom_it_is_asked_about(
    tmp_path: Path, named_documents: bool
) -> None:
    """Retrieval finds the English report's passages naming 李思进 (as "Li Sijin") beside
    another report's; with the setting on, the model is handed the English report's alone."""
    answerer = build_fake_answerer(make_settings(tmp_path, named_documents=named_documents))
    result = answerer.ask("李思进教授在会上分享了什么？")
    naming = {p.doc_id for p in result.passages if "Li Sijin" in p.text}
    others = [p.chunk_id for p in result.passages if p.doc_id not in naming]
    assert naming
    assert (others == []) is named_documents, others


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


SPEAKERS = (
    "Prof. Cao Feng from Chinese PLA General Hospital and Prof. Tang Shuang from Fudan "
    "University Shanghai Cancer Center gave talks."
)


def _passage(n: int, text: str, doc: str, start: int = 0) -> Passage:
    return Passage.of(n, doc, f"{doc}#{n}", doc, text, start, start + len(text), 0.5)


WANG_JING = "Which hospital is Wang Jing from?"


@pytest.mark.parametrize(
    ("question", "claim", "uncited"),
    [
        # Another passage's fact told of her: the passage cited names other speakers.
        (WANG_JING, "Wang Jing is from Chinese PLA General Hospital [2].", ["Wang Jing"]),
        ("汪静教授是哪家医院的？", "汪静教授来自解放军总医院[2]。", ["汪静"]),
        (WANG_JING, "Wang Jing is from Xijing Hospital [1].", []),  # the passage names her
        (WANG_JING, "Wang Jing is from Xijing Hospital [3].", []),  # a sentence cut from it
        (WANG_JING, "Wang Jing spoke, as did Cao Feng [1][2].", []),  # one cited names her
        (WANG_JING, "Wang Jing is from Chinese PLA General Hospital.", []),  # cites nothing
        (WANG_JING, "The report was given in Chengdu [2].", []),  # names nobody
        # Someone the question does not ask about is the answer, not its subject.
        ("Who works at Xijing Hospital?", "Tang Shuang works at Xijing Hospital [1].", []),
        (
            "Where does Tang Shuang work?",
            "Tang Shuang works at Xijing Hospital [1].",
            ["Tang Shuang"],
        ),
    ],
)
def test_a_claim_about_whom_the_question_asks_must_cite_a_passage_naming_them(
    question: str, claim: str, uncited: list[str]
) -> None:
    whole = _passage(1, WANG, "003.txt", start=100)
    cut = Passage.of(3, "003.txt", "003.txt#1:100-130", "003.txt", WANG[:30], 100, 130, 0.5)
    passages = [whole, _passage(2, SPEAKERS, "004.txt"), cut]
    assert people_uncited(claim, passages, question) == uncited


def test_the_claim_check_drops_a_sentence_citing_someone_elses_passage() -> None:
    passages = [_passage(1, WANG, "003.txt"), _passage(2, SPEAKERS, "004.txt")]
    raw = "Wang Jing is from Chinese PLA General Hospital [2]. She reported in Chengdu [1]."
    assert check_claims(raw, passages, "en", WANG_JING) == " She reported in Chengdu [1]."


def test_the_claim_check_points_a_sentence_at_the_passage_naming_its_subject() -> None:
    """The model cited another passage with the same words; the one naming him states it."""
    host = "会议由山西医科大学副校长王宏伟教授主持。"
    forum = "第二届全国分子影像精准诊疗协同创新高峰论坛在太原召开，山西医科大学承办。"
    passages = [_passage(1, forum, "000.txt"), _passage(2, host, "000.txt", start=200)]
    raw = "王宏伟教授主持了山西医科大学承办的会议[1]。"
    assert check_claims(raw, passages, "zh-Hans", "王宏伟教授主持了什么会议？") == (
        "王宏伟教授主持了山西医科大学承办的会议[2]。"
    )
