"""`people_invented`: a sentence naming someone neither the question nor any passage read
names is dropped by the claim check: a made-up or misremembered name told as a fact."""

from __future__ import annotations

import pytest

from service.claims import check_claims
from service.named_subject import people_invented
from tests.service.conftest import passage_of_document

DENG = "中国工程物理研究院流体物理研究所邓建军院士作了题为《加速器技术及其医学应用》的报告。"
SPEAKERS = "Prof. Cao Feng from Chinese PLA General Hospital gave a talk on nuclear medicine."
QUESTION = "Which academician spoke at the Chengdu session?"


PASSAGES = [passage_of_document(1, DENG), passage_of_document(2, SPEAKERS)]


@pytest.mark.parametrize(
    ("claim", "invented"),
    [
        ("Academician Deng Jinfeng gave the talk [1].", ["Deng Jinfeng"]),  # not 邓建军
        ("Academician Deng Jianjun (邓建军) gave the talk [1].", []),
        ("Deng Jianjun gave the talk [1].", []),  # the passage's name by its sound
        ("Prof. Cao Feng gave a talk [2].", []),  # as an English passage writes it
        ("Prof. Zhang Qiang spoke on drug registration [1].", ["Zhang Qiang"]),
        ("王永教授作了报告[1]。", ["王永"]),
        ("邓建军院士作了报告[1]。", []),
        ("The session was held in Chengdu [1].", []),  # nobody named
    ],
)
def test_a_person_no_passage_names_is_found(claim: str, invented: list[str]) -> None:
    assert people_invented(claim, PASSAGES, QUESTION) == invented


def test_someone_the_question_names_is_not_invented() -> None:
    question = "Did Professor Li Sijin speak in Chengdu?"
    assert people_invented("Li Sijin did not speak [1].", PASSAGES, question) == []


def test_the_claim_check_drops_the_sentence_naming_them() -> None:
    raw = "The academician was Deng Jinfeng [1]. He spoke on accelerator technology [1]."
    kept = check_claims(raw, PASSAGES, "en", QUESTION)
    assert "Deng Jinfeng" not in kept and "accelerator technology" in kept


def test_a_name_glossed_with_the_passages_characters_is_their_person_misspelled() -> None:
    passages = [passage_of_document(1, "四川省医学会核医学专委会主任委员陈跃教授做了会议总结。")]
    for claim in (
        "The summary was given by Chen Yousheng (陈跃教授) [1].",
        "The summary was given by Chen Yongzhong (陈跃忠) [1].",  # holds 陈跃
    ):
        assert people_invented(claim, passages, "Who gave the summary?") == []
    invented = "The summary was given by Li Hong (李宏) [1]."
    assert people_invented(invented, passages, "Who gave the summary?") == ["李宏"]
