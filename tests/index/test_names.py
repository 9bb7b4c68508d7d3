"""People's names found in Chinese text, with the pinyin an English answer should use."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.names import person_names, pinyin_names, romanise_name, titled_names

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def test_names_are_found_with_their_pinyin_in_the_script_they_are_written_in() -> None:
    text = "四川省腫瘤醫院黨委書記易群致辭，成都市科技局副局長唐勇林出席。"
    assert dict(person_names(text)) == {"易群": "Yi Qun", "唐勇林": "Tang Yonglin"}
    simplified = "四川省肿瘤医院党委书记易群致辞，成都市科技局副局长唐勇林出席。"
    assert dict(person_names(simplified)) == {"易群": "Yi Qun", "唐勇林": "Tang Yonglin"}


def test_common_words_the_tagger_also_calls_names_are_left_out() -> None:
    text = "专家们分享了智慧与宝贵的经验，大家深感荣幸，会议取得卓越成果。"
    assert person_names(text) == ()


def test_an_abbreviated_body_is_not_a_name() -> None:
    # 卫健委 (the Health Commission) tags as a name: 卫 is a surname
    assert person_names("国家卫健委体改司副司长林莉致辞。") == (("林莉", "Lin Li"),)


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


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("赵海峰教授在年会上获得了什么奖项？", ["赵海峰"]),  # the tagger: 赵 / 海峰
        ("刘海涛博士获得了什么奖？", ["刘海涛"]),  # 海涛 alone is tagged a name
        ("鍾南山院士在太原說了什麼？", ["钟南山"]),  # a mountain to the tagger
        ("中华医学会核医学分会主任委员汪静教授", ["汪静"]),  # not 员汪静
        ("陈高峰教授讲了什么？", ["陈高峰"]),  # 高峰 is a common word
        ("向汪静教授提问", ["汪静"]),
        ("成都教授们讲了什么？", []),  # a city's professors
        ("高级研究员和大会主席是谁？华西医院院长呢？", []),
    ],
)
def test_a_name_before_a_title_is_found_back_to_its_surname(text: str, names: list[str]) -> None:
    assert [name for name, _ in titled_names(text)] == names


def test_names_before_titles_in_the_bundled_collection_are_people() -> None:
    """Every name the title rule finds in an article is a person's (checked by hand)."""
    text = (CORPUS / "002_1f9a42b8d58ce531.txt").read_text("utf-8")
    assert [name for name, _ in titled_names(text)] == [
        "韩启德", "张平祥", "董家鸿", "吕毅", "孔繁圃", "郑南宁",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Which hospital is Wang Jing from?", {"Wang Jing": (("wang", "jing"),)}),
        ("Did Dr. Liu Haitao win?", {"Liu Haitao": (("liu", "hai", "tao"),)}),
        ("Prof. Liu Ya-qiang spoke.", {"Liu Ya-qiang": (("liu", "ya", "qiang"),)}),
        ("Which university is Yaqiang Liu from?", {"Yaqiang Liu": (("liu", "ya", "qiang"),)}),
        # Places and English words are not names: one-syllable given name first, no surname.
        ("A forum in Hong Kong and the Chengdu Xinhua Hospital.", {}),
        ("What did He Said The Sun?", {}),
    ],
)
def test_names_in_pinyin_are_found_in_english_text(
    text: str, found: dict[str, tuple[tuple[str, ...], ...]]
) -> None:
    assert dict(pinyin_names(text)) == found
