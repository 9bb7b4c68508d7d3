"""`names_unsupported`: a sentence about the person the question names may not tell them a
proper name in Latin letters that no passage naming them states, in those letters or as a
term the name translates (copied from a list of other speakers, or made up)."""

from __future__ import annotations

import pytest

from service.claims import check_claims
from service.named_subject import names_unsupported
from tests.service.conftest import passage_of_document

WANG = "四川大学华西医院汪静教授作了2024年全国核医学现状报告，介绍了全国核医学科室的发展情况。"
SPEAKERS = (
    "Prof. Cao Feng from Chinese PLA General Hospital and Prof. Li Jianguo from China "
    "Institute for Radiation Protection gave keynotes at the University of Auckland session."
)
QUESTION = "Which hospital is Professor Wang Jing, who presented the 2024 report, from?"


PASSAGES = [passage_of_document(1, WANG), passage_of_document(2, SPEAKERS)]


@pytest.mark.parametrize(
    ("claim", "unsupported"),
    [
        # copied from the passage about others
        ("Wang Jing is from Chinese PLA General Hospital [1].", ["Chinese PLA General Hospital"]),
        ("Wang Jing is from the University of Auckland [1].", ["University of Auckland"]),
        # made up: no passage read writes it, nor a term it translates
        ("Wang Jing works at Xijing Hospital [1].", ["Xijing Hospital"]),
        # the passage naming her states it in characters: 四川大学华西医院
        ("Wang Jing is from West China Hospital of Sichuan University [1].", []),
        ("Wang Jing (汪静) presented the report [1].", []),  # no name told
        ("Wang Jing and Li Jianguo gave the report [1].", []),  # a person: another check's
        ("Prof. Cao Feng is from Chinese PLA General Hospital [2].", []),  # not about her
    ],
)
def test_names_no_passage_naming_the_person_states_are_found(
    claim: str, unsupported: list[str]
) -> None:
    assert names_unsupported(claim, PASSAGES, QUESTION) == unsupported


def test_a_name_a_passage_naming_the_person_writes_is_theirs() -> None:
    own = passage_of_document(
        3, "Prof. Wang Jing from Chinese PLA General Hospital presented the report."
    )
    claim = "Wang Jing is from Chinese PLA General Hospital [3]."
    assert names_unsupported(claim, [*PASSAGES, own], QUESTION) == []


def test_a_name_the_question_writes_is_not_counted() -> None:
    question = "Was Professor Wang Jing at the University of Auckland session?"
    claim = "Wang Jing was at the University of Auckland session [1]."
    assert names_unsupported(claim, PASSAGES, question) == []


def test_a_question_naming_nobody_has_nothing_unsupported() -> None:
    claim = "The keynote came from Chinese PLA General Hospital [2]."
    assert names_unsupported(claim, PASSAGES, "Which hospitals gave keynotes?") == []


def test_the_claim_check_drops_the_sentence() -> None:
    raw = (
        "Wang Jing described the nuclear medicine departments [1]. "
        "Wang Jing is from Chinese PLA General Hospital [1]."
    )
    kept = check_claims(raw, PASSAGES, "en", QUESTION)
    assert "described the nuclear medicine departments" in kept
    assert "PLA" not in kept
