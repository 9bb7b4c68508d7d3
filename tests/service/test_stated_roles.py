"""`roles_unsupported`: a sentence may give someone only a title a passage read gives them,
same post, same rank, the same organisation (a neighbour's title copied onto a name, or a
title made up, is caught; the same title cut short or in the other script is not)."""

from __future__ import annotations

import pytest

from service.claims import check_claims
from service.stated_roles import Role, roles_unsupported
from tests.service.conftest import passage_of_document

GUESTS = (
    "出席开幕式的嘉宾有：中华医学会核医学分会主任委员、空军军医大学西京医院汪静教授，"
    "中国医师协会核医学医师分会会长黄钢教授，中国核学会核医学分会理事长李亚明教授，"
    "中华医学会核医学分会副主任委员石洪成教授、李林教授。"
)
SPEECH = (
    "国家卫生健康委规划发展与信息化司大数据办公室主任唐勇林表示，医工融合是卫生健康事业的重要方向。"
)
PASSAGES = [passage_of_document(1, GUESTS), passage_of_document(2, SPEECH)]


@pytest.mark.parametrize(
    ("claim", "unsupported"),
    [
        # a neighbour's title copied onto a name
        (
            "中华医学会核医学分会主任委员李亚明教授[1]。",
            [Role("李亚明", "中华医学会核医学分会", "主任委员")],
        ),
        # another rank of the same post
        (
            "石洪成是中华医学会核医学分会主任委员[1]。",
            [Role("石洪成", "中华医学会核医学分会", "主任委员")],
        ),
        # made up, after 是
        (
            "唐勇林是国家卫生健康委体制改革司副司长[2]。",
            [Role("唐勇林", "国家卫生健康委体制改革司", "副司长")],
        ),
        # as the passages give them: in full, cut short, in traditional script, after 是
        ("中华医学会核医学分会主任委员汪静教授[1]。", []),
        ("核医学分会主任委员汪静[1]。", []),
        ("中國核學會核醫學分會理事長李亞明教授[1]。", []),
        ("唐勇林是国家卫生健康委规划发展与信息化司大数据办公室主任[2]。", []),
        ("中华医学会核医学分会副主任委员石洪成教授、李林教授出席了开幕式[1]。", []),
        # no title given
        ("汪静教授出席了开幕式[1]。", []),
    ],
)
def test_titles_no_passage_gives_the_person_are_found(claim: str, unsupported: list[Role]) -> None:
    assert roles_unsupported(claim, PASSAGES) == unsupported


def test_each_person_of_a_list_is_checked_with_their_own_title() -> None:
    claim = "中华医学会核医学分会主任委员汪静教授、中国核学会核医学分会理事长黄钢教授[1]。"
    assert roles_unsupported(claim, PASSAGES) == [Role("黄钢", "中国核学会核医学分会", "理事长")]


def test_a_title_only_an_unread_passage_gives_is_unsupported() -> None:
    assert roles_unsupported("中华医学会核医学分会主任委员汪静教授[2]。", PASSAGES[1:]) == [
        Role("汪静", "中华医学会核医学分会", "主任委员")
    ]


def test_check_claims_drops_the_sentence_and_keeps_the_rest() -> None:
    answer = "中华医学会核医学分会主任委员汪静教授[1]。中华医学会核医学分会主任委员李亚明教授[1]。"
    kept = check_claims(answer, PASSAGES, "zh-Hans", "中华医学会核医学分会主任委员是谁？")
    assert "汪静" in kept
    assert "李亚明" not in kept


LEADERS = "山西医科大学党委书记刘春，副校长解军出席开幕式。"


@pytest.mark.parametrize(
    ("claim", "unsupported"),
    [
        # promoted: the passages give 解军 副校长, 石洪成 副主任委员
        (
            "Prof. Xie Jun, the President of the university, spoke [3].",
            [Role("解军", "", "president")],
        ),
        (
            "The president of the physicians' branch was Shi Hongcheng (石洪成) [1].",
            [Role("石洪成", "", "president")],
        ),
        (
            "Wang Jing (汪静) was the president-elect of the branch [1].",
            [Role("汪静", "", "候任president")],
        ),
        # the kind and rank the passages give, whatever the organisation's translation
        ("Xie Jun, vice president of Shanxi Medical University, spoke [3].", []),
        ("The chair of the Chinese Society of Nuclear Medicine was Wang Jing [1].", []),
        ("Huang Gang, president of the physicians' association, gave a speech [1].", []),
        ("Liu Chun is the Party secretary of the university [3].", []),
        # a title ends at a comma: Shi Hongcheng is not given Wang Jing's
        ("Wang Jing, the chair of the branch, and Shi Hongcheng spoke [1].", []),
        # someone no passage gives a title is not judged
        ("The director of the meeting was Tian Rong [1].", []),
    ],
)
def test_english_titles_of_another_rank_or_kind_are_found(
    claim: str, unsupported: list[Role]
) -> None:
    passages = [*PASSAGES, passage_of_document(3, LEADERS)]
    assert roles_unsupported(claim, passages) == unsupported


def test_someone_an_english_passage_names_is_not_judged_in_english() -> None:
    english = passage_of_document(4, "Prof. Xie Jun, President of the university, opened it.")
    claim = "Prof. Xie Jun, the President of the university, opened the conference [4]."
    passages = [passage_of_document(3, LEADERS), english]
    assert roles_unsupported(claim, passages) == []
    assert roles_unsupported(claim, passages[:1]) == [Role("解军", "", "president")]


def test_a_title_before_the_names_holding_it_is_given_to_each() -> None:
    claim = "中华医学会核医学分会主任委员分别是汪静教授和石洪成教授[1]。"
    assert roles_unsupported(claim, PASSAGES) == [
        Role("石洪成", "中华医学会核医学分会", "主任委员")
    ]


def test_a_name_the_tagger_misses_in_the_answer_is_found_as_the_passages_name_it() -> None:
    # 和解军 reads as 和解 ("reconcile") + 军: the passage names 解军, so the answer does too
    claim = "中华医学会核医学分会主任委员分别是汪静教授和解军教授[1]。"
    passages = [*PASSAGES, passage_of_document(3, LEADERS)]
    assert roles_unsupported(claim, passages) == [Role("解军", "中华医学会核医学分会", "主任委员")]


def test_a_post_named_without_its_body_is_the_same_post() -> None:
    leaders = [passage_of_document(3, LEADERS)]
    assert roles_unsupported("书记是刘春[3]。", leaders) == []  # 党委书记刘春
    assert roles_unsupported("校长是解军[3]。", leaders) == [Role("解军", "", "校长")]  # 副校长
