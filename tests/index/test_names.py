"""People's names found in Chinese text, with the pinyin an English answer should use."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.names import person_names, romanise_name

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def test_names_are_found_with_their_pinyin_in_the_script_they_are_written_in() -> None:
    text = "四川省腫瘤醫院黨委書記易群致辭，成都市科技局副局長唐勇林出席。"
    assert dict(person_names(text)) == {"易群": "Yi Qun", "唐勇林": "Tang Yonglin"}
    simplified = "四川省肿瘤医院党委书记易群致辞，成都市科技局副局长唐勇林出席。"
    assert dict(person_names(simplified)) == {"易群": "Yi Qun", "唐勇林": "Tang Yonglin"}


def test_common_words_the_tagger_also_calls_names_are_left_out() -> None:
    text = "专家们分享了智慧与宝贵的经验，大家深感荣幸，会议取得卓越成果。"
    assert person_names(text) == ()


def test_each_name_once_in_order_of_first_appearance() -> None:
    text = "会议由李思进主持。刘亚强教授作报告。李思进总结。"
    assert [written for written, _ in person_names(text)] == ["李思进", "刘亚强"]


@pytest.mark.parametrize(
    ("name", "romanised"),
    [("刘亚强", "Liu Yaqiang"), ("陳躍", "Chen Yue"), ("解军", "Xie Jun"), ("曾强", "Zeng Qiang")],
)
def test_a_name_is_written_surname_then_given_name_with_surname_readings(
    name: str, romanised: str
) -> None:
    assert romanise_name(name) == romanised


def test_text_without_chinese_has_no_names() -> None:
    assert person_names("Professor Li Sijin chaired the session in Taiyuan.") == ()


def test_most_names_in_the_bundled_collection_are_people() -> None:
    text = (CORPUS / "001_d756bbd637e114db.txt").read_text("utf-8")
    found = dict(person_names(text))
    for name in ("易群", "林莉", "唐勇林", "郎錦義"):
        assert name in found or name.replace("錦", "锦") in found, (name, found)
