"""Issue 4's "Done when", first part: the real default models answer through HTTP.

One question per bundled document in a script that suits it, covering simplified,
traditional and English plus both cross-lingual directions, and one unanswerable question per
script. Each real generation costs 10-40 s on the reference CPU, so the set is small.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from index.textnorm import detect_text_language
from ragqa.config import Settings
from service.answer import build_messages, preamble
from service.answer_guard import repeat_start
from service.answering import Answerer
from service.app import create_app
from service.generation.openai_chat import OpenAIChatGenerator
from service.language import to_simplified

pytestmark = pytest.mark.slow

PINYIN_GLUED = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")
MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Answerable:
    question: str
    doc_id: str
    facts: tuple[str, ...]  # the answer must contain one of these (after normalising)
    stream: bool = False
    # Set where the default model is known to get it wrong on some CPUs: a refusal is then
    # expected-to-fail, while an answer must still be right and rightly cited.
    known_refusal: str = ""


ANSWERABLE = [
    Answerable(  # traditional, about the damaged traditional article
        "匠心同行SPECT病例大賽裡，「精準定量獎」頒給了哪些醫院？",
        "000_09db86074c66971f.txt",
        ("郑州大学第一附属医院", "郑州大学"),
    ),
    Answerable(  # traditional, about the damaged traditional news item, streamed
        "作《醫工融合是核醫療創新的關鍵》報告的鄧建軍，是哪個研究所的研究員？",
        "001_d756bbd637e114db.txt",
        ("流体物理研究所",),
        stream=True,
    ),
    Answerable(  # simplified, about the simplified article
        "张平祥说西北有色金属研究院聚焦的重点建设任务是什么？",
        "002_1f9a42b8d58ce531.txt",
        ("重离子加速器",),
    ),
    Answerable(  # simplified, about the simplified article
        "四川省委、省政府提出要在哪一年建成国内领先的核医疗产业集群？",
        "003_a48a44187b523247.txt",
        ("2027",),
    ),
    Answerable(  # English, about the English article
        "On which campus of the school was the 2023 nuclear medicine and molecular imaging "
        "conference held?",
        "004_c1c1280c1642610c.txt",
        ("yingze",),
    ),
    pytest.param(  # cross-lingual: English about a simplified Chinese article
        Answerable(
            "How much space, in square metres, did Xi'an Jiaotong University say it would "
            "provide for the new medical centre?",
            "002_1f9a42b8d58ce531.txt",
            ("16万", "160,000", "160000", "160 000", "160 thousand"),
        ),
        # Retrieval ranks the passage with the figure first; the 1.5B model still answers
        # with the refusal. Kept visible (not removed) until the generator handles it.
        marks=pytest.mark.xfail(reason="default 1.5B model refuses though the passage is first"),
    ),
    Answerable(  # cross-lingual: simplified Chinese about the English article
        "2023年核医学与分子影像产学研用国际会议有多少名专家学者参加？",
        "004_c1c1280c1642610c.txt",
        ("200",),
        known_refusal="the 1.5B model may take '300' from a Chinese passage about another "
        "conference and cite the English one; the answer check then refuses (issue 16)",
    ),
]

UNANSWERABLE = [
    "高峰論壇在太原舉辦那兩天，當地的天氣怎麼樣？",
    "联影医疗2023年全年的营业收入是多少？",
    "What is the population of Chengdu?",
    # About someone the documents never name: refused, not answered about someone else.
    "Which hospital does Professor Zhou Xiaoming work at?",
    "鍾南山院士在成都醫工結合分會場上作了什麼報告？",
]


def normalise(text: str) -> str:
    """Compare across scripts, widths and case: simplified, NFKC, lower-case."""
    return to_simplified(unicodedata.normalize("NFKC", text)).lower()


@pytest.fixture(scope="module")
def real_client(real_settings: Settings, real_answerer: Answerer) -> Iterator[TestClient]:
    app = create_app(real_settings, answerer=real_answerer)
    with TestClient(app) as client:
        yield client


def ask(client: TestClient, question: str, *, stream: bool) -> dict[str, Any]:
    """The answer object: the plain JSON response, or the stream's `done` event."""
    if not stream:
        response = client.post("/v1/ask", json={"question": question})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer
    body = {"question": question, "stream": True}
    # A TestClient is an httpx.Client at run time, though not to mypy.
    with connect_sse(cast(httpx.Client, client), "POST", "/v1/ask", json=body) as s:
        events = list(s.iter_sse())
    assert events[0].event == "passages" and events[-1].event == "done", events
    done: dict[str, Any] = json.loads(events[-1].data)
    return done


def retrieved(client: TestClient, question: str) -> list[tuple[str, str]]:
    """What search finds for the question: shown when an answer is wrong, to tell why."""
    hits = client.post("/v1/search", json={"query": question, "cross_lingual": True}).json()
    return [(h["doc_id"], h["text"][:80]) for h in hits["results"]]


def assert_clean(text: str) -> None:
    assert not PINYIN_GLUED.search(text), f"glued pinyin in {text!r}"
    assert ",。" not in text and "，。" not in text, f"doubled punctuation in {text!r}"


@pytest.mark.parametrize("case", ANSWERABLE, ids=lambda c: f"{c.doc_id[:3]}-{c.question[:12]}")
def test_answers_each_document_with_valid_citations(
    real_client: TestClient, case: Answerable
) -> None:
    body = ask(real_client, case.question, stream=case.stream)
    answer = body["answer"]
    context = f"answer {answer!r}; search found {retrieved(real_client, case.question)}"
    print(f"\n{case.question}\n-> {answer}\n   {body['timings']}")
    if body["refused"] and case.known_refusal:
        pytest.xfail(case.known_refusal)
    assert body["refused"] is False, context
    assert any(normalise(fact) in normalise(answer) for fact in case.facts), context
    citations = body["citations"]
    assert citations, context
    assert {c["doc_id"] for c in citations} == {case.doc_id}, context
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    assert {int(n) for n in MARKER.findall(answer)} == {c["n"] for c in citations}, context
    document = real_client.get(f"/v1/documents/{case.doc_id}").json()["text"]
    for citation in citations:
        assert document[citation["start"] : citation["end"]] == citation["quote"], citation
        assert_clean(citation["quote"])
    assert_clean(answer)


def test_an_english_answer_about_a_chinese_article_cites_the_sentence_it_rests_on(
    real_client: TestClient,
) -> None:
    """Issue 19, item 2: the venue of the Sichuan conference, asked in English. The answer is
    spaced where it keeps a Chinese name, and its citation quotes what states the venue, a
    sentence or the headline (the card once showed an unrelated sentence)."""
    question = (
        "Where was the 21st nuclear medicine academic conference of the Sichuan Medical "
        "Association held?"
    )
    body = ask(real_client, question, stream=False)
    answer = body["answer"]
    context = f"answer {answer!r}; citations {body['citations']}"
    print(f"\n{question}\n-> {answer}")
    assert body["refused"] is False, context
    assert re.search(r"chengdu|成都|exchange cent|学术交流中心", answer, re.IGNORECASE), context
    assert not re.search(r"[A-Za-z][\u4e00-\u9fff]|[\u4e00-\u9fff][A-Za-z]", answer), context
    doc_id = "003_a48a44187b523247.txt"
    cited = [c for c in body["citations"] if c["doc_id"] == doc_id]
    # the venue: the academic exchange centre of the association, in Chengdu (the headline)
    venue = ("学术交流中心", "成都")
    assert any(v in c["quote"] for c in cited for v in venue), context
    document = real_client.get(f"/v1/documents/{doc_id}").json()["text"]
    assert all(document[c["start"] : c["end"]] == c["quote"] for c in cited)


@pytest.mark.parametrize("question", UNANSWERABLE)
def test_refuses_what_the_documents_do_not_answer(real_client: TestClient, question: str) -> None:
    body = ask(real_client, question, stream=False)
    print(f"\n{question}\n-> {body['answer']}\n   {body['timings']}")
    context = f"answer {body['answer']!r}; search found {retrieved(real_client, question)}"
    assert body["refused"] is True, context
    assert body["citations"] == []


@pytest.mark.parametrize(
    ("query", "target"),
    [
        (
            "What year did the first medical-engineering collaborative innovation annual "
            "conference take place?",
            "zh",
        ),
        (
            "Which hospital does the professor who reported on nuclear medicine in China in 2024 "
            "work at?",
            "zh",
        ),
        ("第十三届医工协同科技创新学术年会在哪里召开？", "en"),
    ],
)
def test_translation_keeps_a_question_a_question(
    real_answerer: Answerer, query: str, target: str
) -> None:
    """Asked without examples, the 1.5B model answered such questions ("2018", a hospital's
    name) instead of translating them, and search then looked for its guess."""
    assert real_answerer.translator is not None
    translated = real_answerer.translator.translate(query, target)
    print(f"\n{query}\n-> {translated}")
    assert detect_text_language(translated) == target, translated
    assert translated.rstrip().endswith(("?", "？")), translated


def test_a_prefilled_preamble_is_reused_by_the_next_question(real_answerer: Answerer) -> None:
    """What the service's start-up prefill buys: the engine's slot then holds the preamble,
    and a question's prompt takes all of it from the cache (only its own tokens are new)."""
    generator = real_answerer.generators[0]
    assert isinstance(generator, OpenAIChatGenerator)
    generator.prefill(preamble())
    preamble_tokens = generator.count_tokens(preamble())
    assert preamble_tokens > 500
    messages = build_messages("太原论坛在哪里举办？", [], "zh-Hans")
    for _ in generator.stream(messages, max_tokens=1, temperature=0.0):
        pass
    # all but the generation prompt that closes the preamble's own rendering
    assert generator.last_timings["cache_n"] >= preamble_tokens - 3
    assert generator.last_timings["prompt_n"] < generator.count_tokens(messages) - 500


def test_a_list_the_model_loops_on_is_cut_not_read_out(real_answerer: Answerer) -> None:
    """Asked for the six overseas speakers' institutions, the 1.5B model repeated two of them
    until the token limit in every saved eval run (q077); the reply now stops at the loop."""
    result = real_answerer.ask(
        "2023年核醫學與分子影像國際會議上作主旨報告的六位海外學者來自哪些機構？"
    )
    print(f"\n-> {result.answer}\n   {result.completion_tokens} tokens, {result.timings}")
    said = result.answer
    assert all(repeat_start(said[:end]) is None for end in range(len(said) + 1)), said
    assert result.completion_tokens < real_answerer.settings.max_tokens


def test_an_answer_about_someone_cites_a_passage_naming_them(real_answerer: Answerer) -> None:
    """Asked which hospital Wang Jing (汪静) is from, the model answered with the hospital of
    another speaker, citing an English passage listing other professors: a sentence about the
    person asked about must cite a passage (or the passage its sentence was cut from) that
    names them, or the answer is refused."""
    result = real_answerer.ask("Which hospital is Wang Jing from?")
    print(f"\n-> {result.answer}")
    assert "PLA General" not in result.answer
    if result.refused:
        return
    for citation in result.citations:
        cited = citation.passage
        texts = [cited.text] + [
            p.text
            for p in result.passages
            if p.doc_id == cited.doc_id and p.start <= cited.start and cited.end <= p.end
        ]
        assert any("汪静" in to_simplified(t) or "Wang Jing" in t for t in texts), citation
